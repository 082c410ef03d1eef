"""Implicit Hate Corpus (ElSherief et al. 2021), stage 1: coded hate and hard negatives from tweets.

Mapping (`class`): `explicit_hate` and `implicit_hate` -> identity_hate 1; `not_hate` -> 0 (posts
from the same extremist-adjacent accounts: hard negatives on the same topics). toxic is left NaN:
the catalogue lists this set as teaching identity_hate only, and not_hate posts were never judged
for rudeness. threat is NaN: a sample of the stage-2 `threatening`/`incitement` posts mixes
violence with "deport them" and in-group boasting, so it is no clean threat signal. spam -> NaN.
Stages 2 and 3 re-annotate stage-1 posts (no new texts) and are not read. Cleaning: the authors'
leftover quote debris and "rt :" prefixes, whitespace. Groups: normalised-text hash.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import (
    collapse_spaces,
    normalise_newlines,
    replace_mentions,
    strip_retweet_markers,
    strip_stray_quotes,
    trim,
    unescape_html,
)

NAME = "implicit-hate"
FILES = ("implicit_hate_v1_stg1_posts.tsv.gz",)
CLEANERS = (
    unescape_html,
    normalise_newlines,
    strip_stray_quotes,
    strip_retweet_markers,
    strip_stray_quotes,
    replace_mentions,
    collapse_spaces,
    trim,
)
HATE_CLASSES = frozenset({"explicit_hate", "implicit_hate"})


class ImplicitHate:
    """Reads the stage-1 posts file."""

    info = SetInfo(
        name=NAME,
        licence="CC BY 4.0 (tweet text: Twitter user content)",
        licence_class="open",
        labels=("identity_hate",),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        raw = pd.read_csv(data_dir / NAME / FILES[0], sep="\t")
        texts = apply_cleaners(raw["post"], CLEANERS)
        hate = raw["class"].isin(HATE_CLASSES).to_numpy().astype(float)
        return build_frame(NAME, texts, {"identity_hate": hate})


ADAPTER = ImplicitHate()
