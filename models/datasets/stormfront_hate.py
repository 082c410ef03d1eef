"""Stormfront sentences (de Gibert et al. 2018), all but the official test sample: forum hate.

Mapping (`label` in the metadata): `hate` -> identity_hate 1; `relation` (hate when read with the
neighbouring sentence, as the DATASET.md says to treat it) -> identity_hate 1; `noHate` -> 0;
`idk/skip` (annotators could not decide) -> dropped. toxic, threat and spam are not annotated ->
NaN. Groups: the forum post id (`<postID>_<sentenceNo>`), so sentences of one post never straddle
a split. The sampled_train/ copies in the tar are duplicates of all_files/ and are not read.
"""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import normalise_newlines, trim

NAME = "stormfront-hate"
FILES = ("stormfront-dev.tar.gz", "annotations_metadata_dev.csv.gz")
HATE_LABELS = frozenset({"hate", "relation"})
USABLE_LABELS = frozenset({"hate", "relation", "noHate"})


def read_sentences(archive: Path) -> dict[str, str]:
    """file_id -> sentence text, from the all_files/ members of the tar."""
    sentences: dict[str, str] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.startswith("all_files/"):
                handle = tar.extractfile(member)
                if handle is not None:
                    sentences[Path(member.name).stem] = handle.read().decode("utf-8")
    return sentences


class StormfrontHate:
    """Reads the sentence files and their labels."""

    info = SetInfo(
        name=NAME,
        licence="CC BY-SA 3.0 ES",
        licence_class="open",
        labels=("identity_hate",),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        folder = data_dir / NAME
        sentences = read_sentences(folder / FILES[0])
        with gzip.open(folder / FILES[1], "rt", encoding="utf-8") as handle:
            meta = pd.read_csv(handle, dtype={"file_id": str, "label": str})
        meta = meta[meta["label"].isin(USABLE_LABELS) & meta["file_id"].isin(sentences)]
        texts = apply_cleaners((sentences[i] for i in meta["file_id"]), (normalise_newlines, trim))
        groups = [f"{NAME}:post:{file_id.split('_')[0]}" for file_id in meta["file_id"]]
        hate = meta["label"].isin(HATE_LABELS).to_numpy().astype(float)
        return build_frame(NAME, texts, {"identity_hate": hate}, groups=groups)


ADAPTER = StormfrontHate()
