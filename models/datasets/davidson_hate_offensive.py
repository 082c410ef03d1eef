"""Davidson et al. 2017 tweets: hate speech vs merely offensive vs neither.

Mapping (majority `class`): 0 hate speech -> identity_hate 1, toxic 1 (hate is toxic by our
definition); 1 offensive language -> toxic 1, identity_hate 0 (offensive but, by the annotators'
choice, not hate against a group); 2 neither -> toxic 0, identity_hate 0. threat and spam are not
annotated -> NaN. Cleaning: HTML entities (&amp;), "RT @user:" markers, @mentions -> "@user",
private-use emoji code points. Groups: normalised-text hash of the cleaned tweet, so retweets of
one tweet stay together.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import (
    collapse_spaces,
    drop_private_use,
    normalise_newlines,
    replace_mentions,
    strip_retweet_markers,
    trim,
    unescape_html,
)

NAME = "davidson-hate-offensive"
FILES = ("labeled_data.csv.gz",)
CLEANERS = (
    unescape_html,
    drop_private_use,
    normalise_newlines,
    strip_retweet_markers,
    replace_mentions,
    collapse_spaces,
    trim,
)


class DavidsonHateOffensive:
    """Reads labeled_data.csv."""

    info = SetInfo(
        name=NAME,
        licence="MIT (tweet text: Twitter user content)",
        licence_class="open",
        labels=("toxic", "identity_hate"),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        raw = pd.read_csv(data_dir / NAME / FILES[0], usecols=["class", "tweet"])
        texts = apply_cleaners(raw["tweet"], CLEANERS)
        label = raw["class"].to_numpy()
        return build_frame(
            NAME,
            texts,
            {"toxic": (label != 2).astype(float), "identity_hate": (label == 0).astype(float)},
        )


ADAPTER = DavidsonHateOffensive()
