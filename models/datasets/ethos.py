"""ETHOS (YouTube and Reddit comments): hate speech, and violence among the hateful ones.

Mapping: binary `isHate` (share of annotators saying hate speech, which ETHOS defines as hate
against a person or group for their identity) >= 0.5 -> identity_hate 1, else 0. Multi-label
`violence` >= 0.5 -> threat 1, else 0, but only for the hateful comments that the multi-label file
annotated (joined on the normalised text); the non-hateful ones were never asked about violence,
so their threat is NaN. toxic and spam are not annotated -> NaN. Groups: normalised-text hash.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame, normalised_key
from models.datasets.clean import normalise_newlines, trim, unescape_html

NAME = "ethos"
FILES = ("Ethos_Dataset_Binary.csv.gz", "Ethos_Dataset_Multi_Label.csv.gz")
CLEANERS = (unescape_html, normalise_newlines, trim)
THRESHOLD = 0.5


class Ethos:
    """Reads the binary file and joins violence from the multi-label file."""

    info = SetInfo(
        name=NAME,
        licence="GPLv3 (comment text: YouTube/Reddit user content)",
        licence_class="open",
        labels=("identity_hate", "threat"),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        folder = data_dir / NAME
        binary = pd.read_csv(folder / FILES[0], sep=";")
        multi = pd.read_csv(folder / FILES[1], sep=";")
        texts = apply_cleaners(binary["comment"], CLEANERS)
        violence = {
            normalised_key(text): float(score >= THRESHOLD)
            for text, score in zip(
                apply_cleaners(multi["comment"], CLEANERS), multi["violence"], strict=True
            )
        }
        hate = (binary["isHate"].to_numpy() >= THRESHOLD).astype(float)
        threat = np.array(
            [
                violence.get(normalised_key(text), np.nan) if is_hate else np.nan
                for text, is_hate in zip(texts, hate, strict=True)
            ]
        )
        return build_frame(NAME, texts, {"identity_hate": hate, "threat": threat})


ADAPTER = Ethos()
