"""Every labelled set behind one call, deduplicated, so training mixes partial sets safely.

`load_sets(names)` reads the named sets in place (see each adapter's docstring for its label
mapping), concatenates them and keeps each text once (`merge_duplicates`). `progress`, if given,
is called as progress(set_name, rows) after each set is read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from models.datasets import (
    convabuse,
    davidson_hate_offensive,
    ethos,
    fox_news_comments,
    gab_hate_corpus,
    implicit_hate,
    jigsaw_toxic_6label_partial,
    jigsaw_toxic_partial,
    kaggle_insults,
    olid,
    sfu_constructiveness_toxicity,
    sms_spam_collection,
    stormfront_hate,
    threatgram101,
    toxic_spans_semeval2021,
    unhealthy_comments_ucc,
    youtube_spam,
)
from models.datasets.base import (
    COLUMNS,
    DEFAULT_DATA_DIR,
    LABELS,
    Adapter,
    SetInfo,
    normalised_key,
)

__all__ = [
    "ADAPTERS",
    "COLUMNS",
    "DEFAULT_DATA_DIR",
    "LABELS",
    "MERGED_COLUMNS",
    "Adapter",
    "SetInfo",
    "file_sha256",
    "load_sets",
    "merge_duplicates",
    "open_sets",
]

# In the catalogue's order (../shared/data/README.md); the key is the set's folder name.
ADAPTERS: dict[str, Adapter] = {
    module.ADAPTER.info.name: module.ADAPTER
    for module in (
        jigsaw_toxic_partial,
        toxic_spans_semeval2021,
        davidson_hate_offensive,
        gab_hate_corpus,
        stormfront_hate,
        ethos,
        fox_news_comments,
        jigsaw_toxic_6label_partial,
        implicit_hate,
        convabuse,
        youtube_spam,
        sms_spam_collection,
        threatgram101,
        olid,
        kaggle_insults,
        sfu_constructiveness_toxicity,
        unhealthy_comments_ucc,
    )
}

# load_sets' columns: the adapter columns plus `sets`, every set a text came from, in order.
MERGED_COLUMNS: tuple[str, ...] = ("text", "group", "set", "sets", *LABELS, "spans")

Progress = Callable[[str, int], None]


def open_sets() -> list[str]:
    """The sets whose licence allows training the shipped (commercially usable) model."""
    return [name for name, adapter in ADAPTERS.items() if adapter.info.licence_class == "open"]


def load_sets(
    names: Iterable[str], data_dir: Path | None = None, progress: Progress | None = None
) -> pd.DataFrame:
    """Reads the named sets and keeps each text once, its labels merged (see merge_duplicates)."""
    root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    names = list(names)
    unknown = [name for name in names if name not in ADAPTERS]
    if unknown:
        raise ValueError(f"unknown data set(s) {', '.join(unknown)}; known: {', '.join(ADAPTERS)}")
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {root} does not exist")
    frames = []
    for name in names:
        frame = ADAPTERS[name].load(root)
        frames.append(frame)
        if progress is not None:
            progress(name, len(frame))
    if not frames:
        return pd.DataFrame({column: [] for column in MERGED_COLUMNS})
    return merge_duplicates(pd.concat(frames, ignore_index=True))


def merge_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Keeps each normalised text once: first text, group and set; per label the max known value.

    A label stays NaN only where every copy lacks it. `sets` lists every set the text came from.
    `spans` are kept only from a copy whose text equals the kept text, so offsets stay valid.
    """
    keys = frame["text"].map(normalised_key).to_numpy()
    work = frame.reset_index(drop=True).assign(_key=keys)
    first = work.drop_duplicates("_key", keep="first").set_index("_key")
    merged = first[["text", "group", "set"]].join(
        work.groupby("_key", sort=False)[list(LABELS)].max()
    )
    repeated = work[work["_key"].duplicated(keep=False)]
    sets_of = repeated.groupby("_key", sort=False)["set"].agg(
        lambda sets: tuple(dict.fromkeys(sets))
    )
    sets_by_key = sets_of.to_dict()
    merged["sets"] = [
        sets_by_key.get(key, (name,)) for key, name in zip(merged.index, merged["set"], strict=True)
    ]
    with_spans = work[work["spans"].map(lambda spans: spans is not None)]
    with_spans = with_spans[
        with_spans["text"].to_numpy() == merged.loc[with_spans["_key"], "text"].to_numpy()
    ]
    spans_of = with_spans.drop_duplicates("_key").set_index("_key")["spans"]
    spans_by_key = spans_of.to_dict()
    merged["spans"] = [spans_by_key.get(key) for key in merged.index]
    for label in LABELS:
        merged[label] = merged[label].astype(float)
    return merged.reset_index(drop=True)[list(MERGED_COLUMNS)]


def file_sha256(data_dir: Path | None, name: str) -> dict[str, str]:
    """sha256 of every file a set reads, keyed by its path relative to the data dir (manifest)."""
    root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    digests = {}
    for file_name in ADAPTERS[name].info.files:
        with open(root / name / file_name, "rb") as handle:
            digests[f"{name}/{file_name}"] = hashlib.file_digest(handle, "sha256").hexdigest()
    return digests
