"""Gab Hate Corpus (training split): hate-based rhetoric, calls for violence and vulgarity.

Mapping: `hd` (assault on human dignity, aimed at a group identity) or `cv` (call for violence,
also identity-based in the GHC typology) -> identity_hate 1; `cv` -> threat 1 (a call for violence
is exactly our threat); `hd`, `cv` or `vo` (vulgar/offensive) -> toxic 1; all 0 -> 0 for the
three. spam is not annotated -> NaN. Cleaning: HTML entities, CRLF, "RT @user:" reposts and
@mentions (as for tweets), whitespace; pandas already removes the CSV-style outer quotes.
Groups: normalised-text hash (no thread ids), which also keeps the 65 repeated posts together.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import (
    normalise_newlines,
    replace_mentions,
    strip_retweet_markers,
    trim,
    unescape_html,
)

NAME = "gab-hate-corpus"
FILES = ("ghc_train.tsv.gz",)
CLEANERS = (unescape_html, normalise_newlines, strip_retweet_markers, replace_mentions, trim)


class GabHateCorpus:
    """Reads ghc_train.tsv."""

    info = SetInfo(
        name=NAME,
        licence="CC BY 4.0 (unconfirmed; post text: Gab user content)",
        licence_class="open",
        labels=("toxic", "identity_hate", "threat"),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        raw = pd.read_csv(data_dir / NAME / FILES[0], sep="\t")
        texts = apply_cleaners(raw["text"], CLEANERS)
        hd, cv, vo = (raw[column].to_numpy() == 1 for column in ("hd", "cv", "vo"))
        return build_frame(
            NAME,
            texts,
            {
                "toxic": (hd | cv | vo).astype(float),
                "identity_hate": (hd | cv).astype(float),
                "threat": cv.astype(float),
            },
        )


ADAPTER = GabHateCorpus()
