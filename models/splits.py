"""Seeded, grouped partition of every set into fit / calibration / held-out parts.

A row's part depends only on (seed, group), so near-duplicates sharing a group always land in the
same part, and adding a set never moves another set's rows between parts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

HELDOUT_SHARE = 0.20
CALIBRATION_SHARE = 0.15

FIT = "fit"
CALIBRATION = "calibration"
HELDOUT = "heldout"


def group_position(group: str, seed: int) -> float:
    """A stable pseudo-random number in [0, 1) for one group under one seed."""
    digest = hashlib.blake2b(f"{seed}:{group}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def assign_parts(groups: Iterable[str], seed: int) -> np.ndarray:
    """Part name per row: held-out (~20%), calibration (~15%), fit (the rest)."""
    parts = []
    for group in groups:
        u = group_position(str(group), seed)
        if u < HELDOUT_SHARE:
            parts.append(HELDOUT)
        elif u < HELDOUT_SHARE + CALIBRATION_SHARE:
            parts.append(CALIBRATION)
        else:
            parts.append(FIT)
    return np.asarray(parts, dtype=object)
