"""The span model's second stage: boosted trees over dense per-word features, evaluated in numpy.

The first stage (models.highlight.SpanModel's logistic weights) scores each word on its own. It
cannot see that a word is the likeliest of its post, that its neighbours are marked, or how often
it appears in toxic rows of the large classification sets (a prior that covers words too rare
in the 7k span-labelled posts). A small gradient-boosted ensemble over such dense features
re-scores each word. It is fitted with scikit-learn but shipped as plain arrays (no estimator is
pickled) and evaluated by walking all trees at once, level by level.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from models.identity import identity_words
from models.words import Unit, word_form

# Words seen fewer times than this in the classification rows get no prior (saves artifact size).
PRIOR_MIN_COUNT = 3
# Additive smoothing of the prior's log-odds.
PRIOR_ALPHA = 1.0
STOPWORDS = frozenset(
    "a an the and or but if of to in on at for with by from as is are was were be been being am i"
    " you he she it we they me him her us them my your his its our their this that these those"
    " not no do does did have has had will would can could should so just than then there here"
    " what who whom which when where why how all any some more most very too also only own same"
    " such up down out over under again about into through during before after above below off"
    " further once".split()
)
N_FEATURES = 28


def word_prior(normalised_texts: Iterable[str], labels: Iterable[int]) -> dict[str, float]:
    """Smoothed log-odds of each word appearing in a toxic rather than a non-toxic row."""
    toxic: Counter[str] = Counter()
    clean: Counter[str] = Counter()
    n_toxic = n_clean = 0
    for text, label in zip(normalised_texts, labels, strict=True):
        words = {word_form(piece) for piece in text.split()}
        if label:
            toxic.update(words)
            n_toxic += 1
        else:
            clean.update(words)
            n_clean += 1
    a = PRIOR_ALPHA
    return {
        word: float(
            np.log((toxic[word] + a) / (n_toxic + a)) - np.log((clean[word] + a) / (n_clean + a))
        )
        for word in sorted(set(toxic) | set(clean))
        if toxic[word] + clean[word] >= PRIOR_MIN_COUNT
    }


def _shift(values: np.ndarray, by: int) -> np.ndarray:
    """values moved right (by > 0) or left (by < 0), zero-filled: a neighbour's value."""
    out = np.zeros_like(values)
    if by > 0:
        out[by:] = values[:-by]
    elif by < 0:
        out[:by] = values[-by:]
    return out


def dense_features(
    text: str,
    units: Sequence[Unit],
    probabilities: np.ndarray,
    scores: np.ndarray,
    prior: dict[str, float],
) -> np.ndarray:
    """(words x N_FEATURES): each word's first-stage probability in its post's context, its
    contribution, its prior and neighbours' priors, the post's label scores and the word's
    shape."""
    n = len(units)
    if n == 0:
        return np.zeros((0, N_FEATURES))
    identity = identity_words()
    p = np.asarray(probabilities, dtype=np.float64)
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    top_p = float(p.max())
    rank = np.empty(n)
    rank[np.argsort(-p, kind="stable")] = np.arange(n)
    contribution = np.array([unit[2] for unit in units])
    top_c = max(float(contribution.max()), 1e-9)
    word_prior_ = np.array([prior.get(form, 0.0) for _, form, _ in units])
    originals = [text[start:end] for (start, end), _, _ in units]
    forms = [form for _, form, _ in units]
    full = np.ones(n)
    columns = [
        p,
        np.log(clipped / (1 - clipped)),
        p / max(top_p, 1e-9),
        full * top_p,
        full * float(p.mean()),
        rank,
        rank / n,
        _shift(p, 1),
        _shift(p, -1),
        _shift(p, 2),
        _shift(p, -2),
        contribution,
        np.clip(contribution / top_c, -1.0, 1.0),
        word_prior_,
        np.array([float(form in prior) for form in forms]),
        _shift(word_prior_, 1),
        _shift(word_prior_, -1),
        np.array([len(form) for form in forms], dtype=np.float64),
        np.array([float(form in STOPWORDS) for form in forms]),
        np.array([float(len(w) > 1 and w.isupper()) for w in originals]),
        np.array([float(w[:1].isupper()) for w in originals]),
        np.array([float(not w.isalpha()) for w in originals]),
        np.array([float(form in identity) for form in forms]),
        full * n,
        np.arange(n) / n,
        full * float((p >= 0.35).sum()),
        full * float(scores[0]),
        full * float(scores[1:].max() if len(scores) > 1 else 0.0),
    ]
    return np.column_stack(columns)


@dataclass
class TreeStage:
    """A boosted tree ensemble as flat arrays: node i splits on feature[i] at threshold[i]
    (<= goes to left[i], else right[i]) unless it is a leaf, whose value it adds."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf: np.ndarray
    roots: np.ndarray
    baseline: float
    depth: int

    def margins(self, features: np.ndarray) -> np.ndarray:
        """Raw log-odds per row: every tree walked at once, one level per step."""
        n = features.shape[0]
        node = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = np.arange(n)[:, None]
        for _ in range(self.depth):
            at_leaf = self.leaf[node]
            if at_leaf.all():
                break
            goes_left = features[rows, self.feature[node]] <= self.threshold[node]
            step = np.where(goes_left, self.left[node], self.right[node])
            node = np.where(at_leaf, node, step)
        return self.baseline + self.value[node].sum(axis=1)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(word inside a toxic span) per row."""
        from scipy.special import expit

        return expit(self.margins(features))


# The ensemble's size: small enough to walk in well under a millisecond per comment.
TREE_PARAMS = {
    "max_iter": 150,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "early_stopping": False,
}


def fit_tree_stage(features: np.ndarray, labels: np.ndarray, seed: int) -> TreeStage:
    """Fits the boosted trees and flattens them into a TreeStage."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(random_state=seed, **TREE_PARAMS)
    model.fit(features, labels)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("f", "t", "l", "r", "v", "leaf")}
    roots: list[int] = []
    offset = 0
    depth = 0
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        roots.append(offset)
        parts["f"].append(nodes["feature_idx"].astype(np.int64))
        parts["t"].append(nodes["num_threshold"].astype(np.float64))
        parts["l"].append(nodes["left"].astype(np.int64) + offset)
        parts["r"].append(nodes["right"].astype(np.int64) + offset)
        parts["v"].append(np.where(nodes["is_leaf"], nodes["value"], 0.0).astype(np.float64))
        parts["leaf"].append(nodes["is_leaf"].astype(bool))
        depth = max(depth, int(nodes["depth"].max()))
        offset += len(nodes)
    return TreeStage(
        feature=np.concatenate(parts["f"]),
        threshold=np.concatenate(parts["t"]),
        left=np.concatenate(parts["l"]),
        right=np.concatenate(parts["r"]),
        value=np.concatenate(parts["v"]),
        leaf=np.concatenate(parts["leaf"]),
        roots=np.asarray(roots, dtype=np.int64),
        baseline=float(np.ravel(model._baseline_prediction)[0]),
        depth=depth,
    )
