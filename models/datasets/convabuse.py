"""ConvAbuse (train + valid): what users typed to two chatbots, rated for abuse per annotator.

Mapping: each annotator's one-hot `is_abuse` answer becomes a score (1 not abusive, 0 ambiguous,
-1/-2/-3 mildly/strongly/very strongly abusive; a cell like "1, 1" is an annotator who answered
twice and counts twice); the mean over all responses to the utterance < 0 (on balance abusive,
the DATASET.md's aggregate) -> toxic 1, else 0. Abuse here is insults and harassment of the bot,
which is our toxic; the few identity types are too rare to teach identity_hate and no threat type
exists, so identity_hate, threat and spam are NaN. Only the `user` turn is the text.
Groups: `conv_id` (splits share conversations; short repeated turns stay together).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import normalise_newlines, trim, unescape_html

NAME = "convabuse"
FILES = ("ConvAbuseEMNLPtrain.csv.gz", "ConvAbuseEMNLPvalid.csv.gz")
SCORES = {"1": 1.0, "0": 0.0, "-1": -1.0, "-2": -2.0, "-3": -3.0}


def count_ticks(cell: object) -> int:
    """How often a one-hot cell was ticked: "1", or "1, 0" where an annotator answered twice."""
    if not isinstance(cell, str):
        return 0
    return sum(int(float(part)) for part in cell.split(",") if part.strip())


def mean_abuse_score(frame: pd.DataFrame) -> np.ndarray:
    """Mean abuse score per row over every annotator response (NaN where nobody answered)."""
    total = np.zeros(len(frame))
    answered = np.zeros(len(frame))
    for column in frame.columns:
        _, _, suffix = column.partition("_is_abuse.")
        if suffix in SCORES:
            ticks = frame[column].map(count_ticks).to_numpy(dtype=float)
            total += ticks * SCORES[suffix]
            answered += ticks
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(answered > 0, total / np.maximum(answered, 1), np.nan)


class ConvAbuse:
    """Reads the train and valid splits and aggregates the annotators."""

    info = SetInfo(
        name=NAME,
        licence="CC BY 4.0",
        licence_class="open",
        labels=("toxic",),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        folder = data_dir / NAME
        raw = pd.concat(
            [pd.read_csv(folder / name, dtype=str) for name in FILES],
            ignore_index=True,
        )
        score = mean_abuse_score(raw)
        raw = raw.loc[~np.isnan(score)]
        score = score[~np.isnan(score)]
        texts = apply_cleaners(raw["user"], (unescape_html, normalise_newlines, trim))
        groups = [f"{NAME}:conv:{conv_id}" for conv_id in raw["conv_id"]]
        return build_frame(NAME, texts, {"toxic": (score < 0).astype(float)}, groups=groups)


ADAPTER = ConvAbuse()
