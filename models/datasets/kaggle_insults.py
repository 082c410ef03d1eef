"""Kaggle "Detecting Insults in Social Commentary" (Impermium 2012) training file: news comments.

Mapping: `Insult` 1 -> toxic 1, 0 -> 0. The label is "insult aimed at a participant", narrower
than our toxic (profanity alone or insults of third parties are often 0), but an insult to a
participant is the core of "rude enough to make someone leave", and it is the only label here.
identity_hate, threat and spam are NaN. Cleaning: the extra pair of quotes around every comment,
escapes written out as text (\\n, \\\\n, \\xa0, \\u2019, undone layer by layer: some comments are
escaped three times), the UTF-8 bytes those escapes spell read back as characters ("\\xc2\\xa0" ->
no-break space), HTML tags (<br>, <p>, <a>) and entities, @mentions -> "@user", whitespace.
Groups: normalised-text hash (the 12 repeated comments stay together).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import (
    collapse_spaces,
    decode_literal_escapes,
    normalise_newlines,
    repair_mojibake,
    replace_mentions,
    strip_html_tags,
    strip_surrounding_quotes,
    trim,
    unescape_html,
)

NAME = "kaggle-insults"
FILES = ("train.csv.gz",)
CLEANERS = (
    normalise_newlines,
    strip_surrounding_quotes,
    decode_literal_escapes,
    repair_mojibake,
    strip_html_tags,
    unescape_html,
    normalise_newlines,
    replace_mentions,
    collapse_spaces,
    trim,
)


class KaggleInsults:
    """Reads the competition's train.csv."""

    info = SetInfo(
        name=NAME,
        licence="none stated (Kaggle competition data; internal research and evaluation only)",
        licence_class="restricted",
        labels=("toxic",),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        raw = pd.read_csv(data_dir / NAME / FILES[0], usecols=["Insult", "Comment"])
        texts = apply_cleaners(raw["Comment"], CLEANERS)
        return build_frame(NAME, texts, {"toxic": raw["Insult"].astype(float).to_numpy()})


ADAPTER = KaggleInsults()
