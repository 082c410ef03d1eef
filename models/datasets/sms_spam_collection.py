"""SMS Spam Collection v.1 (UCI): UK prize, lottery and premium-rate spam beside personal texts.

Mapping: `spam` -> spam 1, `ham` -> spam 0. toxic, identity_hate and threat are not annotated
(ham is not checked for abuse) -> NaN. Cleaning: Windows-1252 characters left as C1 control code
points (\\x92 -> ’), HTML entities, the NUS corpus' anonymised-number placeholders (<#>,
<DECIMAL>, only in ham) removed, runs of 5+ digits (phone numbers, short codes: 585 of 747 spam,
3 of 4,827 ham) removed in both classes, so the model learns the scam's words rather than "has
a long number" (reader comments quote figures and phone numbers too), whitespace. Groups:
normalised-text hash (no ids); the 403 repeated texts collapse in merge_duplicates.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from models.datasets.base import SetInfo, apply_cleaners, build_frame
from models.datasets.clean import collapse_spaces, normalise_newlines, trim, unescape_html

NAME = "sms-spam-collection"
FILES = ("SMSSpamCollection.gz",)
_C1 = re.compile(r"[\x80-\x9f]")
_PLACEHOLDER = re.compile(r"<(?:#|DECIMAL|URL|TIME|EMAIL)>")
_LONG_DIGITS = re.compile(r"\d{5,}")


def repair_c1_controls(text: str) -> str:
    """Reads C1 control code points as the Windows-1252 characters they were (\\x92 -> ’)."""
    if not _C1.search(text):
        return text
    return _C1.sub(lambda m: m.group().encode("latin-1").decode("cp1252", "replace"), text)


def drop_number_placeholders(text: str) -> str:
    """Removes the <#> / <DECIMAL> placeholders the NUS corpus put for numbers (ham only)."""
    return _PLACEHOLDER.sub(" ", text) if "<" in text else text


def drop_long_digit_runs(text: str) -> str:
    """Removes runs of 5 or more digits: in this set they mark spam, in comments they do not."""
    return _LONG_DIGITS.sub(" ", text)


CLEANERS = (
    repair_c1_controls,
    unescape_html,
    drop_number_placeholders,
    drop_long_digit_runs,
    normalise_newlines,
    collapse_spaces,
    trim,
)


class SmsSpamCollection:
    """Reads the tab-separated label/text file (no header, quotes are literal)."""

    info = SetInfo(
        name=NAME,
        licence="CC BY 4.0 (UCI; authors' readme: free use, no limitations)",
        licence_class="open",
        labels=("spam",),
        files=FILES,
    )

    def load(self, data_dir: Path) -> pd.DataFrame:
        raw = pd.read_csv(
            data_dir / NAME / FILES[0],
            sep="\t",
            header=None,
            names=["label", "text"],
            quoting=csv.QUOTE_NONE,
            dtype=str,
            keep_default_na=False,
        )
        texts = apply_cleaners(raw["text"], CLEANERS)
        spam = (raw["label"] == "spam").astype(float)
        return build_frame(NAME, texts, {"spam": spam})


ADAPTER = SmsSpamCollection()
