"""SFU Constructiveness and Toxicity Corpus: Globe and Mail reader comments, toxicity 1 to 4.

Mapping: the most popular toxicity answer `is_toxic_popular_answer_1` >= 3 ("Toxic", "Very
toxic") -> toxic 1; 1 ("Not toxic") and 2 ("Mildly toxic") -> 0. Our toxic is "rude enough to make
someone leave the discussion", the bar for flagging a comment to a moderator; "mildly toxic" in
SOCC covers sarcasm and mild put-downs of a civil newspaper's readers (15.8% of rows) that do not
meet it, and flagging them would bury moderators. identity_hate, threat and spam are NaN. The 79
CrowdFlower quiz rows are real comments with more raters and are kept. Cleaning: CRLF, HTML
entities, whitespace. Groups: the article (`title`), as comments under one article share topic
and quotes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import collapse_spaces, normalise_newlines, trim, unescape_html

NAME = "sfu-constructiveness-toxicity"
FILES = ("SFU_constructiveness_toxicity.csv.gz",)
TOXIC_FROM_LEVEL = 3


def article_group(title: str) -> str:
    """A stable group id for one article's comments."""
    return f"{NAME}:article:{hashlib.blake2b(title.encode('utf-8'), digest_size=8).hexdigest()}"


class SfuConstructivenessToxicity:
    """Reads the CrowdFlower export."""

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
            usecols=["comment", "is_toxic_popular_answer_1", "title"],
            dtype={"comment": str, "title": str},
        )
        level = pd.to_numeric(raw["is_toxic_popular_answer_1"], errors="coerce")
        raw = raw.loc[level.notna()]
        level = level[level.notna()]
        texts = apply_cleaners(
            raw["comment"], (normalise_newlines, unescape_html, collapse_spaces, trim)
        )
        groups = [article_group(str(title)) for title in raw["title"]]
        toxic = (level.to_numpy() >= TOXIC_FROM_LEVEL).astype(float)
        return build_frame(NAME, texts, {"toxic": toxic}, groups=groups)


ADAPTER = SfuConstructivenessToxicity()
