"""One set of floating-point kernels for training, whatever the x86-64 CPU.

OpenBLAS picks its kernels by CPU when it loads: Haswell's on a CPU with AVX2, SkylakeX's on one
with AVX-512. The two round differently in the last bits. That moved the fitted weights by about
1e-7 and flipped a near-tie in highlight tuning (unflagged slope 1.5 on an AVX2 machine, 1.0 on an
AVX-512 one), so a clean-clone `moderation train` did not give the shipped bytes. Training
therefore asks OpenBLAS for the Haswell kernels on every x86-64 CPU that has AVX2, and for two
threads everywhere (one thread moved the weights too). That has to happen before numpy loads
OpenBLAS, so this module imports neither.
"""

from __future__ import annotations

import os
import platform
from collections.abc import MutableMapping
from pathlib import Path

KERNEL = "Haswell"
VARIABLE = "OPENBLAS_CORETYPE"
# The shipped model was trained with two (this machine kind's cores); the work splits by count.
THREADS = "2"
THREADS_VARIABLE = "OPENBLAS_NUM_THREADS"
_X86_64 = frozenset({"x86_64", "amd64"})


def has_avx2(cpuinfo: str) -> bool:
    """Whether /proc/cpuinfo's flags list AVX2, which the Haswell kernels need."""
    return any(
        line.startswith("flags") and "avx2" in line.split(":", 1)[-1].split()
        for line in cpuinfo.splitlines()
    )


def pin_blas(
    environ: MutableMapping[str, str] | None = None,
    machine: str | None = None,
    cpuinfo: str | None = None,
) -> str | None:
    """Sets OPENBLAS_NUM_THREADS to 2, and OPENBLAS_CORETYPE to the Haswell kernels where the
    CPU can run them, each unless set already (a user's choice stands); returns the kernel asked
    for, None when OpenBLAS chooses. Takes effect only if numpy has not loaded yet."""
    environ = os.environ if environ is None else environ
    environ.setdefault(THREADS_VARIABLE, THREADS)
    if VARIABLE in environ:
        return environ[VARIABLE]
    if (machine or platform.machine()).lower() not in _X86_64:
        return None
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    if not has_avx2(cpuinfo):
        return None
    environ[VARIABLE] = KERNEL
    return KERNEL
