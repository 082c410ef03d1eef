"""Unhealthy Comments Corpus (Price et al. 2020), validation split: Globe and Mail comments.

Mapping: `hostile` 1 or `antagonize` 1 (antagonistic, insulting, provocative, trolling) -> toxic 1,
both 0 -> 0: these two attributes are the ones that drive people out of a discussion.
Condescending, dismissive, sarcastic and unfair generalisation are unhealthy but civil enough to
stay unflagged, so they do not make a comment toxic. identity_hate, threat and spam are NaN.
Cleaning: CRLF, HTML entities, whitespace. Groups: normalised-text hash (no article ids here).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import collapse_spaces, normalise_newlines, trim, unescape_html

NAME = "unhealthy-comments-ucc"
FILES = ("val.csv.gz",)


class UnhealthyCommentsUcc:
    """Reads the official validation split."""

    info = SetInfo(
        name=NAME,
        licence="CC BY-NC-SA 4.0 (non-commercial)",
        licence_class="restricted",
        labels=("toxic",),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        raw = pd.read_csv(
            data_dir / NAME / FILES[0],
            usecols=["comment", "hostile", "antagonize"],
            dtype={"comment": str},
        )
        texts = apply_cleaners(
            raw["comment"], (normalise_newlines, unescape_html, collapse_spaces, trim)
        )
        toxic = ((raw["hostile"] == 1) | (raw["antagonize"] == 1)).to_numpy().astype(float)
        return build_frame(NAME, texts, {"toxic": toxic})


ADAPTER = UnhealthyCommentsUcc()
