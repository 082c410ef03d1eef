"""Start and stop child processes of `moderation up` so that none outlives it.

Each child leads its own process group: the terminal's Ctrl-C reaches only `up`, which then stops
the children in order (API and worker first, Redis last), and a group signal sweeps up whatever a
child forked. On Linux each child also gets SIGTERM if `up` itself dies (PR_SET_PDEATHSIG).
A child that dies on its own is started again after a RestartBackoff delay.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from redis.backoff import ExponentialBackoff

PR_SET_PDEATHSIG = 1
# Held back while a child is spawned, so a Ctrl-C cannot leave a started child unrecorded.
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


def _become_group_leader_and_die_with_parent() -> None:
    """Runs in the child between fork and exec (the signal mask survives exec: unblock)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def child_process(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    output: int | IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """A child in its own process group, with no stdin, that dies with its parent."""
    return subprocess.Popen(
        list(command),
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        # `up` is single-threaded when it spawns, which makes preexec_fn safe here.
        preexec_fn=_become_group_leader_and_die_with_parent,
    )


@contextmanager
def holding_stop_signals() -> Iterator[None]:
    """Delay Ctrl-C until a child just started is recorded, so it cannot escape being stopped."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def stop_process_group(
    process: subprocess.Popen[bytes], timeout: float, sig: int = signal.SIGTERM
) -> int | None:
    """Ask the group leader to stop (it stops its own children), then kill any straggler."""
    if process.poll() is None:
        try:
            process.send_signal(sig)
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
    # Grandchildren the leader did not reap are still in its group: none may outlive us.
    _signal_group(process.pid, signal.SIGKILL)
    return process.returncode


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass(frozen=True)
class RestartBackoff:
    """How long `up` waits before starting a dead child again: exponential, capped, forgiving.

    A child that dies at once again and again is started ever more slowly (base, 2 x base, ...
    up to cap); one that stayed up `stable_after` seconds before dying starts over at base.
    """

    base: float = 0.5
    cap: float = 30.0
    stable_after: float = 60.0

    def deaths_in_a_row(self, previous: int, uptime: float) -> int:
        """The count of quick deaths including this one (1 after a long enough run)."""
        return 1 if uptime >= self.stable_after else previous + 1

    def delay(self, deaths_in_a_row: int) -> float:
        """Seconds to wait before the restart that follows the n-th quick death (n >= 1)."""
        return float(ExponentialBackoff(cap=self.cap, base=self.base).compute(deaths_in_a_row - 1))
