"""ThreatGram 101 (Ravi & Yuan 2025): threat levels of replies on extremist Telegram channels.

Mapping: `Label` 2 (violent threat or wish: hang, execute, shoot) -> threat 1; 1 (legal or
punitive: arrest, jail, impeach, "lock her up") -> threat 0, the hard negatives that share the
vocabulary of punishment; 0 -> threat 0. Replies that mention Gitmo or Guantanamo (about 1,000
positives, detention rather than violence: a judgement call under our definition) are dropped as
one group (threat NaN), so the model does not learn "Gitmo" as a threat word. toxic,
identity_hate and spam are not annotated (the set has plenty of insults) -> NaN. Repeated texts
are kept once, their label the majority of their copies (9 texts carry conflicting labels), so
merge_duplicates' max cannot turn "Impeach" (5x level 1, 1x level 2) into a threat. Cleaning:
CRLF, whitespace; empty replies dropped. Groups: channel and month, so a burst of replies in one
thread stays in one part.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame, normalised_key
from models.datasets.clean import normalise_newlines, trim

NAME = "threatgram101"
FILES = ("Labeled_15076.json.gz",)
CLEANERS = (normalise_newlines, trim)
VIOLENT = 2
DETENTION = re.compile(r"(?i)gitmo|\bguant\w*")  # with its misspellings: Guantonimo, Guantamano


def majority_labels(keys: list[str], labels: list[int]) -> dict[str, int]:
    """Per normalised text, its most frequent label (on a tie the lower, non-violent level)."""
    counts: dict[str, Counter[int]] = {}
    for key, label in zip(keys, labels, strict=True):
        counts.setdefault(key, Counter())[label] += 1
    return {key: min(c, key=lambda level: (-c[level], level)) for key, c in counts.items()}


class ThreatGram101:
    """Reads the labelled JSON array."""

    info = SetInfo(
        name=NAME,
        licence="CC BY 4.0 (unconfirmed; reply text: Telegram user content)",
        licence_class="open",
        labels=("threat",),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        with gzip.open(data_dir / NAME / FILES[0], "rt", encoding="utf-8") as handle:
            rows = json.load(handle)
        texts = apply_cleaners([row["reply"] for row in rows], CLEANERS)
        keys = [normalised_key(text) for text in texts]
        majority = majority_labels(keys, [int(row["Label"]) for row in rows])
        kept_texts: list[str] = []
        groups: list[str] = []
        threat: list[float] = []
        seen: set[str] = set()
        for row, text, key in zip(rows, texts, keys, strict=True):
            if key in seen:
                continue
            seen.add(key)
            month = datetime.fromtimestamp(int(row["replyDate"]), UTC).strftime("%Y-%m")
            channel = str(row["telegramChannel"]).removesuffix(".json")
            kept_texts.append(text)
            groups.append(f"{NAME}:{channel}:{month}")
            threat.append(np.nan if DETENTION.search(text) else float(majority[key] == VIOLENT))
        return build_frame(NAME, kept_texts, {"threat": threat}, groups=groups)


ADAPTER = ThreatGram101()
