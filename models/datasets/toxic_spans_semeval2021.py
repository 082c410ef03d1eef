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

from models.datasets.base import SetInfo, Span, build_frame

NAME = "toxic-spans-semeval2021"
FILES = ("tsd_train.csv.gz", "tsd_trial.csv.gz")


def offsets_to_spans(offsets: list[int]) -> list[Span]:
    """Joins sorted character offsets into contiguous (start, end) runs, end exclusive."""
    spans: list[Span] = []
    for offset in sorted(set(offsets)):
        if spans and spans[-1][1] == offset:
            spans[-1] = (spans[-1][0], offset + 1)
        else:
            spans.append((offset, offset + 1))
    return spans


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
        spans = [offsets_to_spans(json.loads(value)) for value in raw["spans"]]
        return build_frame(NAME, texts, {"toxic": [1.0] * len(texts)}, spans=spans)


ADAPTER = ToxicSpansSemeval2021()
