"""Jigsaw toxic (Wikipedia talk pages), small subsets with all six labels.

Mapping: `toxic` -> toxic; `threat` -> threat; `identity_hate` -> identity_hate (Jigsaw's own
definitions match ours). severe_toxic, obscene and insult are implied by or folded into toxic in
Jigsaw's annotation and are not separate labels of ours, so they are not read. spam -> NaN.
Groups: normalised-text hash (the ids name comments, not pages), so the rows this set shares with
jigsaw-toxic-partial (and the 9 ids in both files) collapse into one in `load_sets`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import normalise_newlines, trim

NAME = "jigsaw-toxic-6label-partial"
FILES = ("fastbert_train_sample.csv.gz", "subtrain_first1445.csv.gz")
READ = ("comment_text", "toxic", "threat", "identity_hate")


class JigsawToxic6LabelPartial:
    """Reads the two six-label subsets."""

    info = SetInfo(
        name=NAME,
        licence="CC0 (Kaggle); comment text CC BY-SA 3.0",
        licence_class="open",
        labels=("toxic", "identity_hate", "threat"),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        folder = data_dir / NAME
        raw = pd.concat(
            [pd.read_csv(folder / name, usecols=list(READ)) for name in FILES], ignore_index=True
        )
        texts = apply_cleaners(raw["comment_text"], (normalise_newlines, trim))
        return build_frame(
            NAME,
            texts,
            {label: raw[label].to_numpy() for label in ("toxic", "identity_hate", "threat")},
        )


ADAPTER = JigsawToxic6LabelPartial()
