"""Contrast negatives: training comments a label's model must learn to leave alone.

A model that learns a label from its positives alone takes the label's words for the label:
"kill" for a threat, "Muslims" for hate, a link or a price for spam. The training sets hold many
comments that use those words harmlessly (a negative that talks about violence, a negative that
names a group, an ordinary comment with figures and links); the embedding stage weighs them up
(TrainConfig.contrast_weight), so it learns the difference instead of the words. They are picked
from the training rows by the words below, never from the functional suites.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

# Words of violence: a negative that uses them is a figurative, reported, condemned or punitive
# use (threatgram101's legal-punitive replies, Gab posts about a war, a talk page's "killed").
VIOLENT_WORDS = re.compile(
    r"\b(kill\w*|murder\w*|shoot\w*|shot|burn\w*|die|dies|died|dead|death|hang\w*|stab\w*|"
    r"bomb\w*|massacre\w*|destroy\w*|attack\w*|beat\w*|fight\w*|war|wars|weapon\w*|guns?|"
    r"execut\w*|slaughter\w*|blood\w*|violen\w*|threat\w*|punch\w*|hurt\w*|lynch\w*|"
    r"wipe\w* out|smash\w*|crush\w*|rope|bullet\w*)\b",
    re.IGNORECASE,
)
# What ordinary comments share with spam: figures, prices, links, company and brand names.
SPAM_LOOKALIKE = re.compile(
    r"(\d|https?://|www\.|\.(?:com|org|net|gov|uk)\b|[$£€%]|"
    r"\b(?:google|apple|amazon|facebook|microsoft|twitter|youtube|bank|company|price|prices|"
    r"free|offer|money|win|click|link|subscribe|deal|cash|bitcoin|crypto|invest\w*)\b)",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _identity_pattern() -> re.Pattern[str]:
    from models.identity import identity_words

    words = sorted(map(re.escape, identity_words()), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(words) + r")\b", re.IGNORECASE)


def contrast_negatives(
    label: str, texts: Sequence[str], y: np.ndarray, toxic: np.ndarray
) -> np.ndarray:
    """Mask of the rows that are contrast negatives for ``label``: negatives (y == 0) that use
    its words (threat: words of violence; identity_hate: a group's name, or any rude comment,
    which is an insult of a person when it is no attack on a group; spam: figures, links and
    names). ``toxic``: each row's toxic label, NaN where unknown."""
    if label == "threat":
        hit = [VIOLENT_WORDS.search(text) is not None for text in texts]
    elif label == "identity_hate":
        pattern = _identity_pattern()
        hit = [pattern.search(text) is not None for text in texts]
    elif label == "spam":
        hit = [SPAM_LOOKALIKE.search(text) is not None for text in texts]
    else:
        hit = [False] * len(texts)
    mask = np.asarray(hit, dtype=bool)
    if label == "identity_hate":
        mask |= np.nan_to_num(np.asarray(toxic, dtype=np.float64), nan=0.0) == 1
    return mask & (np.asarray(y) == 0)
