"""The span model's second stage: the word prior, dense features and the numpy tree walk."""

from __future__ import annotations

import numpy as np

from models.highlight import SpanModel
from models.span_stage import (
    N_FEATURES,
    PRIOR_MIN_COUNT,
    TREE_PARAMS,
    dense_features,
    fit_tree_stage,
    word_prior,
)

TEXT = "you are a total idiot"
UNITS = [
    ((0, 3), "you", 0.1),
    ((4, 7), "are", 0.0),
    ((8, 9), "a", 0.0),
    ((10, 15), "total", 0.2),
    ((16, 21), "idiot", 2.5),
]


def test_word_prior_favours_words_of_toxic_rows_and_drops_rare_ones() -> None:
    texts = ["you idiot"] * 5 + ["nice article"] * 5 + ["rare"] * (PRIOR_MIN_COUNT - 1)
    prior = word_prior(texts, [1] * 5 + [0] * 5 + [1] * (PRIOR_MIN_COUNT - 1))
    assert prior["idiot"] > 0 > prior["article"]
    assert "rare" not in prior


def test_dense_features_one_row_per_word() -> None:
    p = np.array([0.1, 0.05, 0.02, 0.3, 0.9])
    features = dense_features(TEXT, UNITS, p, np.array([0.9, 0.1, 0.0]), {"idiot": 3.0})
    assert features.shape == (len(UNITS), N_FEATURES)
    assert np.isfinite(features).all()
    assert dense_features("", [], np.zeros(0), np.zeros(3), {}).shape == (0, N_FEATURES)


def test_tree_stage_matches_scikit_learn() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 4))
    y = (x[:, 0] + x[:, 1] ** 2 + rng.normal(size=2000) > 1).astype(int)
    stage = fit_tree_stage(x, y, seed=13)
    reference = HistGradientBoostingClassifier(random_state=13, **TREE_PARAMS).fit(x, y)
    assert np.allclose(stage.probabilities(x), reference.predict_proba(x)[:, 1], atol=1e-9)


def test_tree_stage_is_reproducible() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 3))
    y = (x[:, 0] > 0).astype(int)
    a, b = fit_tree_stage(x, y, seed=13), fit_tree_stage(x, y, seed=13)
    assert all(
        np.array_equal(u, v) for u, v in zip(vars(a).values(), vars(b).values(), strict=True)
    )


def test_word_probabilities_use_the_stage_when_there_is_one() -> None:
    model = SpanModel({"w=idiot": 3.0}, intercept=-2.0)
    scores = np.array([0.9, 0.1, 0.0])
    first = model.probabilities(UNITS)
    assert np.array_equal(model.word_probabilities(TEXT, UNITS, scores), first)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, N_FEATURES))
    # A stage that learnt "the word's prior" (column 13) decides on its own.
    model.stage = fit_tree_stage(x, (x[:, 13] > 0).astype(int), seed=13)
    model.prior = {"idiot": 5.0, "you": -5.0}
    rescored = model.word_probabilities(TEXT, UNITS, scores)
    assert rescored[4] > 0.5 > rescored[0]


def test_fit_highlights_fits_both_stages_on_fit_and_calibration_posts() -> None:
    import itertools

    import pandas as pd

    from models.highlight_tuning import fit_highlights
    from models.splits import CALIBRATION, FIT, HELDOUT
    from tests.models.tiny_model import INSULTS, NEUTRAL, TARGETS, tiny_classifier

    classifier = tiny_classifier()
    rows = []
    for i, (insult, target, word) in enumerate(itertools.product(INSULTS, TARGETS, NEUTRAL)):
        text = f"{target} wrote a {insult} {word}"
        start = text.index(insult)
        rows.append((text, [(start, start + len(insult))], f"s{i}", (FIT, CALIBRATION)[i % 2]))
    # Held-out posts whose gold is wrong on purpose: were they used, nothing would be learnt.
    rows += [(f"you wrote a {w} idiot", [(0, 3)], f"h{i}", HELDOUT) for i, w in enumerate(NEUTRAL)]
    frame = pd.DataFrame(rows, columns=["text", "spans", "group", "part"])
    frame["toxic"] = 1.0
    frame["normalised"] = frame["text"]
    frame["set"] = "spans"
    info = fit_highlights(classifier, frame, seed=13)
    assert info["fit_posts"] == len(INSULTS) * len(TARGETS) * len(NEUTRAL)
    span_model = classifier.span_model
    assert span_model is not None and span_model.stage is not None
    text = "the author wrote a moron article"
    assert classifier.highlights(text, probabilities=np.array([0.99, 0.0, 0.0, 0.0])) == [(19, 24)]
