"""OLID / OffensEval 2019 training split: offensive tweets (research use only).

Mapping: subtask A `OFF` (profanity or a targeted offence) -> toxic 1, `NOT` -> 0. Subtask B's
`TIN` mixes insults with threats and C's `GRP` targets any group (not only identities), so neither
is a clean threat or identity_hate label: identity_hate, threat and spam are NaN. Cleaning: HTML
entities (&amp;), CRLF, @USER -> "@user" like every other mention, whitespace; pandas removes the
CSV-style quotes of 1,057 tweets. The `URL` tokens are left: they are what the release has.
Groups: normalised-text hash (the 28 repeated tweets stay together).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import (
    collapse_spaces,
    normalise_newlines,
    replace_mentions,
    strip_retweet_markers,
    trim,
    unescape_html,
)

NAME = "olid"
FILES = ("olid-training-v1.0.tsv.gz",)
CLEANERS = (
    unescape_html,
    normalise_newlines,
    strip_retweet_markers,
    replace_mentions,
    collapse_spaces,
    trim,
)


class Olid:
    """Reads olid-training-v1.0.tsv."""

    info = SetInfo(
        name=NAME,
        licence="none stated (research use only; tweet text: Twitter user content)",
        licence_class="restricted",
        labels=("toxic",),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        raw = pd.read_csv(data_dir / NAME / FILES[0], sep="\t", usecols=["tweet", "subtask_a"])
        texts = apply_cleaners(raw["tweet"], CLEANERS)
        offensive = (raw["subtask_a"].str.strip() == "OFF").to_numpy().astype(float)
        return build_frame(NAME, texts, {"toxic": offensive})


ADAPTER = Olid()
