"""YouTube Spam Collection (UCI): comment spam under five music videos.

Mapping: `CLASS` 1 (spam: self-promotion, "check out my channel", links, scams) -> spam 1, 0 -> 0.
toxic, identity_hate and threat are not annotated -> NaN. Cleaning: HTML tags (<br /> -> newline,
<a> keeps its text), HTML entities, CRLF, whitespace. Groups: the video, because the same spam
text is pasted many times under one video and would leak across a row-level split.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import normalise_newlines, strip_html_tags, trim, unescape_html

NAME = "youtube-spam"
FILES = (
    "Youtube01-Psy.csv.gz",
    "Youtube02-KatyPerry.csv.gz",
    "Youtube03-LMFAO.csv.gz",
    "Youtube04-Eminem.csv.gz",
    "Youtube05-Shakira.csv.gz",
)
CLEANERS = (strip_html_tags, unescape_html, normalise_newlines, trim)


class YoutubeSpam:
    """Reads the five per-video files."""

    info = SetInfo(
        name=NAME,
        licence="CC BY 4.0 (UCI; comment text: YouTube user content)",
        licence_class="open",
        labels=("spam",),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        texts: list[str] = []
        groups: list[str] = []
        spam: list[float] = []
        for name in FILES:
            raw = pd.read_csv(data_dir / NAME / name, usecols=["CONTENT", "CLASS"])
            video = name.split(".")[0].split("-", 1)[1].lower()
            texts += apply_cleaners(raw["CONTENT"], CLEANERS)
            groups += [f"{NAME}:video:{video}"] * len(raw)
            spam += raw["CLASS"].astype(float).tolist()
        return build_frame(NAME, texts, {"spam": spam}, groups=groups)


ADAPTER = YoutubeSpam()
