"""A small classifier trained in seconds on made-up comments, for tests that need any model."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from models.classifier import Classifier
from models.embedding import StaticEmbedding, basic_words
from models.train import TrainConfig, train

INSULTS = ("idiot", "stupid", "moron", "fuck", "loser", "dumb")
NEUTRAL = ("article", "weather", "thanks", "interesting", "read", "agree", "point", "city")
TARGETS = ("you", "he", "this guy", "the author")


def tiny_frame() -> pd.DataFrame:
    """Rows for all four labels; each label known only on part of them (NaN elsewhere)."""
    rows = []
    for i, (insult, target) in enumerate(itertools.product(INSULTS, TARGETS)):
        text = f"{target} is a {insult} and a total {insult}"
        rows.append((text, 1.0, np.nan, np.nan, np.nan, i))
    for i, (word, other) in enumerate(itertools.product(NEUTRAL, NEUTRAL)):
        rows.append((f"what a {word} about the {other} today", 0.0, np.nan, np.nan, np.nan, i))
    for i, word in enumerate(NEUTRAL):
        rows.append((f"I will kill you, {word}", np.nan, 0.0, 1.0, np.nan, i))
        rows.append((f"the {word} killed the mood", np.nan, 0.0, 0.0, np.nan, i))
        rows.append((f"those people are vermin, {word}", np.nan, 1.0, 0.0, np.nan, i))
        rows.append((f"check out my channel and subscribe {word}", np.nan, np.nan, np.nan, 1.0, i))
        rows.append((f"great song about the {word}", np.nan, np.nan, np.nan, 0.0, i))
    frame = pd.DataFrame(rows, columns=["text", "toxic", "identity_hate", "threat", "spam", "n"])
    frame["group"] = [f"g{i}" for i in range(len(frame))]
    frame["set"] = "made-up"
    frame["spans"] = None
    return frame.drop(columns="n")


def tiny_classifier() -> Classifier:
    """A classifier from tiny_frame (no identity augmentation: the audit is not under test)."""
    config = TrainConfig(word_min_df=1, char_min_df=1, augmentation_weight=0.0)
    return train(tiny_frame(), config).classifier


def tiny_embedding(dim: int = 8, seed: int = 13) -> StaticEmbedding:
    """A WordPiece vocabulary of tiny_frame's words (and a suffix piece) with seeded random
    vectors: enough for the embedding stage to learn from, and to be saved and verified."""
    words = sorted({w for text in tiny_frame()["text"] for w in basic_words(text)})
    vocabulary = ["[PAD]", "[UNK]", *words, "##ing", "##s"]
    embedding = StaticEmbedding(vocabulary, source="tests")
    vectors = np.random.default_rng(seed).normal(size=(len(vocabulary), dim))
    embedding.attach(vectors.astype(np.float16))
    return embedding


def tiny_stacked_classifier() -> Classifier:
    """tiny_classifier with an embedding stage over tiny_embedding."""
    config = TrainConfig(word_min_df=1, char_min_df=1, augmentation_weight=0.0)
    return train(tiny_frame(), config, embedding=tiny_embedding()).classifier
