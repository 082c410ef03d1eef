"""Seeded, grouped partition of every set into fit / calibration / held-out parts.

A row's part depends only on (seed, its set's groups), so near-duplicates sharing a group always
land in the same part, and adding a set never moves another set's rows between parts.
"""

from __future__ import annotations

import hashlib
import math
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


def assign_parts(groups: Iterable[str], seed: int, sets: Iterable[str] | None = None) -> np.ndarray:
    """Part name per row: held-out (~20%), calibration (~15%), fit (the rest).

    Within each set (``sets``, default: one set), groups are ranked by their seeded position and
    the first 20% of them are held out, the next 15% calibrate: a set with only five groups (five
    videos) still gets one held-out and one calibration group.
    """
    groups = [str(group) for group in groups]
    set_names = [str(name) for name in sets] if sets is not None else [""] * len(groups)
    part_of: dict[tuple[str, str], str] = {}
    by_set: dict[str, set[str]] = {}
    for name, group in zip(set_names, groups, strict=True):
        by_set.setdefault(name, set()).add(group)
    for name, members in by_set.items():
        ranked = sorted(members, key=lambda group: group_position(group, seed))
        heldout = math.ceil(HELDOUT_SHARE * len(ranked) - 1e-9)
        calibration = math.ceil((HELDOUT_SHARE + CALIBRATION_SHARE) * len(ranked) - 1e-9)
        if len(ranked) >= 3:
            calibration = min(max(calibration, heldout + 1), len(ranked) - 1)
        for rank, group in enumerate(ranked):
            part_of[(name, group)] = (
                HELDOUT if rank < heldout else CALIBRATION if rank < calibration else FIT
            )
    return np.asarray(
        [part_of[(name, group)] for name, group in zip(set_names, groups, strict=True)],
        dtype=object,
    )
