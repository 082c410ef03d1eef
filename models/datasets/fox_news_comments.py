"""Fox News reader comments (Gao & Huang 2017), 80% part: hateful comments under news articles.

Mapping: `label` 1 (hateful: attacks or demeans a person or group for an identity facet, per the
authors' guideline) -> identity_hate 1, 0 -> 0. toxic, threat and spam are not annotated -> NaN.
Only `text` is used: `prev`/`succ` repeat neighbouring comments. Groups: the article (`title`),
because neighbouring comments' text leaks through `prev`/`succ` within a thread.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import normalise_newlines, trim, unescape_html

NAME = "fox-news-comments"
FILES = ("fox-news-comments-80pct.json.gz",)


def article_group(title: str) -> str:
    """A stable group id for one article's thread."""
    return f"{NAME}:article:{hashlib.blake2b(title.encode('utf-8'), digest_size=8).hexdigest()}"


class FoxNewsComments:
    """Reads the JSON-lines file."""

    info = SetInfo(
        name=NAME,
        licence="MIT (comment text: Fox News user content)",
        licence_class="open",
        labels=("identity_hate",),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        raw = pd.read_json(data_dir / NAME / FILES[0], lines=True, dtype={"text": str})
        texts = apply_cleaners(raw["text"], (unescape_html, normalise_newlines, trim))
        groups = [article_group(str(title)) for title in raw["title"]]
        hateful = (raw["label"].to_numpy() == 1).astype(float)
        return build_frame(NAME, texts, {"identity_hate": hateful}, groups=groups)


ADAPTER = FoxNewsComments()
