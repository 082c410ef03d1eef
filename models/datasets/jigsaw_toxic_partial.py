"""Jigsaw toxic (Wikipedia talk pages), partial copy: the biggest in-domain source of `toxic`.

Mapping: `labels` (text_comment_1/2) and `toxic` (sample5000) are Jigsaw's `toxic` column ->
toxic 1/0. identity_hate, threat and spam are unknown (the other Jigsaw labels were dropped by the
copy's author), so NaN. Groups: normalised-text hash (no page ids survive). The 620 rows shared by
the two sources collapse in `load_sets`; sample5000 has CRLF, made LF first so they match.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import normalise_newlines, trim

NAME = "jigsaw-toxic-partial"
FILES = ("text_comment_1.csv.gz", "text_comment_2.csv.gz", "sample5000_train.csv.gz")


class JigsawToxicPartial:
    """Reads the two partial copies of Jigsaw train.csv."""

    info = SetInfo(
        name=NAME,
        licence="CC0 (Kaggle); comment text CC BY-SA 3.0",
        licence_class="open",
        labels=("toxic",),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        folder = data_dir / NAME
        parts = [
            pd.read_csv(folder / name, usecols=["comment_text", "labels"]).rename(
                columns={"labels": "toxic"}
            )
            for name in FILES[:2]
        ]
        parts.append(pd.read_csv(folder / FILES[2], usecols=["comment_text", "toxic"]))
        raw = pd.concat(parts, ignore_index=True)
        texts = apply_cleaners(raw["comment_text"], (normalise_newlines, trim))
        return build_frame(NAME, texts, {"toxic": raw["toxic"].to_numpy()})


ADAPTER = JigsawToxicPartial()
