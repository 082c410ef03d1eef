"""The shape every dataset adapter returns, so training can mix sets that label different things."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import pandas as pd

# Our labels (definitions in DESIGN.md); a set leaves NaN where it does not carry one.
LABELS: tuple[str, ...] = ("toxic", "identity_hate", "threat", "spam")
# The exact columns of every adapter's frame, in this order.
COLUMNS: tuple[str, ...] = ("text", "group", "set", *LABELS, "spans")

# The data catalogue lives beside the repository: <repo>/../shared/data.
DEFAULT_DATA_DIR: Path = Path(__file__).resolve().parents[2].parent / "shared" / "data"

Span = tuple[int, int]
Cleaner = Callable[[str], str]


@dataclass(frozen=True)
class SetInfo:
    """What a set is, under which licence, which of our labels it can teach and what it reads."""

    name: str
    licence: str
    licence_class: Literal["open", "restricted"]
    labels: tuple[str, ...]
    files: tuple[str, ...]


class Adapter(Protocol):
    """Reads one set in place and maps it onto our labels."""

    info: SetInfo

    def load(self, data_dir: Path) -> pd.DataFrame: ...


def normalised_key(text: str) -> str:
    """The form two texts must share to count as the same comment: lower-case, spaces collapsed."""
    return " ".join(text.split()).lower()


def text_group(set_name: str, text: str) -> str:
    """A group for sets without thread ids: near-identical texts share their normalised hash."""
    digest = hashlib.blake2b(normalised_key(text).encode("utf-8"), digest_size=8).hexdigest()
    return f"{set_name}:{digest}"


def apply_cleaners(texts: Iterable[str], cleaners: Sequence[Cleaner]) -> list[str]:
    """Runs the set's cleaners, in order, over every text."""
    cleaned = []
    for text in texts:
        value = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
        for cleaner in cleaners:
            value = cleaner(value)
        cleaned.append(value)
    return cleaned


def build_frame(
    set_name: str,
    texts: Sequence[str],
    labels: Mapping[str, Sequence[float] | np.ndarray | pd.Series],
    groups: Sequence[str] | None = None,
    spans: Sequence[list[Span] | None] | None = None,
) -> pd.DataFrame:
    """The common frame: labels a set lacks are NaN, groups default to the text hash.

    Rows whose text is empty after cleaning are dropped.
    """
    unknown = set(labels) - set(LABELS)
    if unknown:
        raise ValueError(f"{set_name}: unknown labels {sorted(unknown)}")
    count = len(texts)
    frame = pd.DataFrame(
        {
            "text": pd.Series(list(texts), dtype=object),
            "group": pd.Series(
                list(groups) if groups is not None else [text_group(set_name, t) for t in texts],
                dtype=object,
            ),
            "set": pd.Series([set_name] * count, dtype=object),
        }
    )
    for label in LABELS:
        values = labels.get(label)
        column = (
            np.full(count, np.nan)
            if values is None
            else np.asarray(values, dtype=float).reshape(count)
        )
        frame[label] = column
    frame["spans"] = pd.Series(list(spans) if spans is not None else [None] * count, dtype=object)
    keep = frame["text"].map(lambda text: bool(text.strip()))
    return frame.loc[keep, list(COLUMNS)].reset_index(drop=True)
