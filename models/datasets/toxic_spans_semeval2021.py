"""SemEval-2021 toxic spans (Civil Comments): news-comment toxic positives with gold spans.

Mapping: every post was rated toxic in Civil Comments -> toxic 1 on every row; identity_hate,
threat and spam are unknown (NaN). `spans` turns the list of toxic character offsets into
(start, end) runs, end exclusive; an empty list means "the whole post" and stays an empty list.
The text is kept byte-identical (no cleaning at all) so the offsets stay valid. Groups:
normalised-text hash (no article ids). The 8 texts in both train and trial collapse in `load_sets`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, build_frame
from models.spans import spans_from_offsets

NAME = "toxic-spans-semeval2021"
FILES = ("tsd_train.csv.gz", "tsd_trial.csv.gz")


class ToxicSpansSemeval2021:
    """Reads the official train and trial files."""

    info = SetInfo(
        name=NAME,
        licence="CC0 1.0",
        licence_class="open",
        labels=("toxic",),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        folder = data_dir / NAME
        raw = pd.concat(
            [pd.read_csv(folder / name, dtype={"spans": str, "text": str}) for name in FILES],
            ignore_index=True,
        )
        texts = [str(text) for text in raw["text"]]
        spans = [spans_from_offsets(json.loads(value)) for value in raw["spans"]]
        return build_frame(NAME, texts, {"toxic": [1.0] * len(texts)}, spans=spans)


ADAPTER = ToxicSpansSemeval2021()
