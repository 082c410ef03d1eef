"""Training: many partially labelled sets -> one calibrated Classifier, reproducibly.

Each label's linear model learns only from rows whose set carries that label (NaN = unknown,
never 0), weighted so that every set's classes balance (set_balanced_weights). Rows are split
per set by group into fit / calibration / held-out parts (models.splits); the held-out part is
never used for fitting, calibrating or tuning.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from models.classifier import Classifier
from models.contrast import contrast_negatives
from models.embedding import StaticEmbedding
from models.evaluate import mean_set_roc_auc
from models.features import char_features, word_features
from models.highlight import Unit
from models.highlight_tuning import fit_highlights, has_gold_spans, span_folds
from models.splits import CALIBRATION, FIT, assign_parts
from models.stage import EmbeddingStage
from models.textnorm import normalised_text

log = logging.getLogger(__name__)

LABELS: tuple[str, ...] = ("toxic", "identity_hate", "threat", "spam")
# Features whose weight is below this for every label are dropped from the shipped model.
PRUNE_BELOW = 0.02
# Threshold search range: never flag below 0.4 or demand more than 0.9.
THRESHOLD_RANGE = (0.4, 0.9)

Progress = Callable[[str], None]


def _quiet(step: str) -> None:
    log.info("training step: %s", step)


@dataclass(frozen=True)
class TrainConfig:
    """Every choice that changes the model; stored in the manifest."""

    seed: int = 13
    word_min_df: int = 2
    char_min_df: int = 3
    word_max_features: int = 150_000
    char_max_features: int = 300_000
    # Inverse regularisation strengths tried per label; the calibration split picks one.
    c_grid: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    # Weight of identity-audit augmentation sentences added as negatives (0 = none).
    augmentation_weight: float = 10.0
    # Weight, against their set's balanced weights, of the toxic negatives made from
    # span-labelled posts with their gold spans cut out (span_cut_rows; 0 = none).
    span_cut_weight: float = 0.5
    # Sets of ordinary discussion (news-site and talk-page comments, none labelled spam) whose
    # rows count as spam negatives, each row at this weight against the spam sets' balanced
    # weights: the spam sets alone (YouTube comments, SMS) teach that any link, figure or
    # company name is spam, since their negatives have none.
    spam_negative_sets: tuple[str, ...] = (
        "jigsaw-toxic-partial",
        "toxic-spans-semeval2021",
        "fox-news-comments",
        "jigsaw-toxic-6label-partial",
    )
    spam_negative_weight: float = 0.2
    # Labels re-scored by the embedding stage (models.stage) when training is given an
    # embedding; the others keep the n-gram model alone. identity_hate is not among them:
    # stacked, it fell 0.010 ROC-AUC on ETHOS's held-out rows and flagged more negations and
    # quotes (the card's embedding section has the figures).
    embedding_labels: tuple[str, ...] = ("toxic", "threat", "spam")
    # Inverse regularisation strength of each label's embedding model.
    embedding_c: float = 1.0
    # Weight, on top of the balanced weights, of the contrast negatives (models.contrast) in
    # the embedding models.
    contrast_weight: float = 3.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "word_min_df": self.word_min_df,
            "char_min_df": self.char_min_df,
            "word_max_features": self.word_max_features,
            "char_max_features": self.char_max_features,
            "c_grid": list(self.c_grid),
            "augmentation_weight": self.augmentation_weight,
            "span_cut_weight": self.span_cut_weight,
            "spam_negative_sets": list(self.spam_negative_sets),
            "spam_negative_weight": self.spam_negative_weight,
            "embedding_labels": list(self.embedding_labels),
            "embedding_c": self.embedding_c,
            "contrast_weight": self.contrast_weight,
        }


@dataclass
class TrainingRun:
    """The fitted classifier with everything needed to evaluate and describe it."""

    classifier: Classifier
    frame: pd.DataFrame  # input rows with columns "normalised" and "part" added
    config: TrainConfig
    seconds: dict[str, float]
    highlight: dict[str, Any] = field(default_factory=dict)
    # Per label: the chosen C and the calibration score of every C tried.
    regularisation: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The embedding stage: per stacked label, its weights and contrast negatives (or empty).
    stage: dict[str, Any] = field(default_factory=dict)


def with_spam_negatives(frame: pd.DataFrame, sets: Sequence[str]) -> pd.DataFrame:
    """A copy in which the rows of ``sets`` that carry no spam label are spam negatives
    (TrainConfig.spam_negative_sets says why)."""
    frame = frame.copy()
    fill = frame["set"].isin(list(sets)).to_numpy() & frame["spam"].isna().to_numpy()
    frame.loc[fill, "spam"] = 0.0
    return frame


def normalise_all(texts: Sequence[str]) -> list[str]:
    """Normalised form of every text (the features are computed on it)."""
    return list(map(normalised_text, texts))


def _fit_vectorizers(
    texts: Sequence[str], config: TrainConfig
) -> tuple[TfidfVectorizer, TfidfVectorizer, sp.csr_matrix]:
    word = TfidfVectorizer(
        analyzer=word_features,
        min_df=config.word_min_df,
        max_features=config.word_max_features,
        sublinear_tf=True,
        dtype=np.float64,
    )
    char = TfidfVectorizer(
        analyzer=char_features,
        min_df=config.char_min_df,
        max_features=config.char_max_features,
        sublinear_tf=True,
        dtype=np.float64,
    )
    matrix = sp.hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()
    return word, char, matrix


def _vectorise(word: TfidfVectorizer, char: TfidfVectorizer, texts: Sequence[str]) -> sp.csr_matrix:
    """Feature rows of normalised texts under the fitted vectorizers."""
    return sp.hstack([word.transform(texts), char.transform(texts)]).tocsr()


def _augmentation(seed: int) -> list[str]:
    """Neutral identity sentences from the audit module, added as negatives (mitigation)."""
    try:
        from models.audit import augmentation_sentences
    except ImportError:
        log.warning("models.audit is not available: no identity augmentation")
        return []
    return list(augmentation_sentences(seed))


# Labels whose scores an identity term alone must not raise.
IDENTITY_NEUTRAL_LABELS = ("toxic", "identity_hate", "threat")
# Char n-grams shorter than this are shared with too many other words to clip.
MIN_CLIPPED_NGRAM = 4


def identity_words() -> list[str]:
    """Identity terms (models.identity) and their plurals, lowercased."""
    from models.identity import identity_words as words

    return sorted(words())


def _clip_identity_weights(word: TfidfVectorizer, char: TfidfVectorizer, coef: np.ndarray) -> int:
    """Mitigation: identity words, and char n-grams lying inside them, may lower but never raise
    the toxic, identity_hate and threat margins (their positive weights are set to 0)."""
    words = identity_words()
    if not words:
        return 0
    n_word = len(word.idf_)
    columns = [LABELS.index(label) for label in IDENTITY_NEUTRAL_LABELS]
    rows = [word.vocabulary_[w] for w in words if w in word.vocabulary_]
    padded = [f" {w} " for w in words]
    rows += [
        n_word + index
        for gram, index in char.vocabulary_.items()
        if len(gram.strip()) >= MIN_CLIPPED_NGRAM - 1
        and len(gram) >= MIN_CLIPPED_NGRAM
        and any(gram in p for p in padded)
    ]
    block = coef[np.ix_(rows, columns)]
    coef[np.ix_(rows, columns)] = np.minimum(block, 0.0)
    return len(rows)


def _build_classifier(
    word: TfidfVectorizer,
    char: TfidfVectorizer,
    coef: np.ndarray,
    intercept: np.ndarray,
    version: str,
) -> Classifier:
    """Plain arrays from fitted estimators, without features no label gives weight to."""
    word_vocab = word.vocabulary_
    char_vocab = char.vocabulary_
    n_word = len(word.idf_)
    idf = np.concatenate([word.idf_, char.idf_])
    keep = np.abs(coef).max(axis=1) >= PRUNE_BELOW
    new_index = np.cumsum(keep) - 1
    kept_word = {f: int(new_index[i]) for f, i in word_vocab.items() if keep[i]}
    kept_char = {f: int(new_index[i + n_word]) for f, i in char_vocab.items() if keep[i + n_word]}
    return Classifier(
        labels=LABELS,
        version=version,
        word_vocab=kept_word,
        char_vocab=kept_char,
        idf=idf[keep],
        coef=coef[keep],
        intercept=intercept,
        calib_slope=np.ones(len(LABELS)),
        calib_offset=np.zeros(len(LABELS)),
        thresholds={label: 0.5 for label in LABELS},
    )


def set_balanced_weights(sets: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row weights under which, inside every set, positives and negatives weigh the same and the
    set keeps its row count (a set with one class only, such as the toxic-spans posts, keeps its
    rows at weight 1). Mean weight 1.

    The sets' base rates differ wildly (Davidson's tweets 83% toxic, Jigsaw's talk pages 10%):
    unweighted, a model learns a set's style as evidence for or against a label, which then
    misleads it on comments from elsewhere."""
    weights = np.ones(len(y), dtype=np.float64)
    for name in np.unique(sets):
        in_set = sets == name
        size = int(in_set.sum())
        positives = int(y[in_set].sum())
        if positives in (0, size):
            continue
        weights[in_set & (y == 1)] = size / (2 * positives)
        weights[in_set & (y == 0)] = size / (2 * (size - positives))
    return weights * (len(weights) / weights.sum()) if len(weights) else weights


def _logistic(c: float, seed: int) -> LogisticRegression:
    return LogisticRegression(C=c, solver="liblinear", random_state=seed, max_iter=200)


# C used when no calibration set has enough rows of both classes to choose one.
FALLBACK_C = 1.0


def _fit_label(
    x: sp.csr_matrix,
    y: np.ndarray,
    weights: np.ndarray,
    cal_x: sp.csr_matrix,
    cal_y: np.ndarray,
    cal_sets: np.ndarray,
    config: TrainConfig,
) -> tuple[LogisticRegression, dict[str, Any]]:
    """One label's logistic regression, with the C of config.c_grid whose mean per-set ROC-AUC
    on the calibration rows is best (on a tie the smaller C, the simpler model)."""

    def fitted(c: float) -> LogisticRegression:
        return _logistic(c, config.seed).fit(x, y, sample_weight=weights)

    if mean_set_roc_auc(cal_y, np.zeros(len(cal_y)), cal_sets) is None:  # nothing to judge by
        return fitted(FALLBACK_C), {"c": FALLBACK_C, "calibration_roc_auc": {}}
    best: tuple[float, float, LogisticRegression] | None = None
    scores: dict[str, float] = {}
    for c in sorted(config.c_grid):
        model = fitted(c)
        score = mean_set_roc_auc(cal_y, model.decision_function(cal_x), cal_sets)
        assert score is not None  # the same rows and sets as the check above
        scores[f"{c:g}"] = round(score, 5)
        if best is None or score > best[0] + 1e-9:
            best = (score, c, model)
    assert best is not None
    return best[2], {"c": best[1], "calibration_roc_auc": scores}


# A post whose toxic spans are cut out must keep this many words to serve as a negative.
SPAN_CUT_MIN_WORDS = 3


def span_cut_rows(rows: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Toxic negatives from posts with gold toxic spans: each post with its spans cut out, and
    the position in ``rows`` of the post it came from.

    The span-labelled news comments are all toxic, so on their own they teach that a news
    comment's topic and style (its "Canada", "Trump", "tax", its length) are evidence of
    toxicity: a quarter of the SFU Globe and Mail comments no rater found toxic were flagged.
    The same posts without the words raters marked are what those words' absence looks like,
    in the same domain; a post marked as a whole (no spans) gives nothing."""
    positions: list[int] = []
    texts: list[str] = []
    for position, (text, spans) in enumerate(zip(rows["text"], rows["spans"], strict=True)):
        if not isinstance(spans, list | tuple) or not spans:
            continue
        kept, start = [], 0
        for span_start, span_end in sorted(spans):
            kept.append(text[start:span_start])
            start = max(start, span_end)
        kept.append(text[start:])
        remainder = " ".join(piece.strip() for piece in kept if piece.strip())
        if len(remainder.split()) >= SPAN_CUT_MIN_WORDS:
            positions.append(position)
            texts.append(remainder)
    return np.asarray(positions, dtype=np.int64), texts


@dataclass(frozen=True)
class SpanCuts:
    """span_cut_rows of the fit rows, vectorised: the fit-row position each one came from."""

    positions: np.ndarray
    matrix: sp.csr_matrix


def _label_rows(
    label: str,
    fit_rows: pd.DataFrame,
    matrix: sp.csr_matrix,
    config: TrainConfig,
    leave_out: np.ndarray | None = None,
    cuts: SpanCuts | None = None,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """One label's training rows: the fit rows that carry it (less ``leave_out``, a mask over
    fit_rows), for toxic the span cuts of the posts kept (in their post's set, so its classes
    balance like any other set's), then the identity augmentation sentences (the rows of
    ``matrix`` after the fit rows) as negatives for every label but spam; with their weights."""
    n_fit = len(fit_rows)
    known = fit_rows[label].notna().to_numpy()
    if leave_out is not None:
        known = known & ~leave_out
    y = fit_rows[label].to_numpy()[known].astype(int)
    x = matrix[:n_fit][known]
    sets = fit_rows["set"].to_numpy()[known]
    n_cuts = 0
    if label == "toxic" and cuts is not None:
        kept = known[cuts.positions]  # a left-out post takes its cut with it
        n_cuts = int(kept.sum())
        x = sp.vstack([x, cuts.matrix[kept]]).tocsr()
        y = np.concatenate([y, np.zeros(n_cuts, dtype=int)])
        sets = np.concatenate([sets, fit_rows["set"].to_numpy()[cuts.positions[kept]]])
    weights = set_balanced_weights(sets, y)
    weights[len(weights) - n_cuts :] *= config.span_cut_weight
    if label == "spam":
        weights[np.isin(sets, config.spam_negative_sets)] *= config.spam_negative_weight
    n_extra = matrix.shape[0] - n_fit
    if n_extra and label != "spam":
        # Neutral sentences naming identities: never toxic, hateful or threatening.
        x = sp.vstack([x, matrix[n_fit:]]).tocsr()
        y = np.concatenate([y, np.zeros(n_extra, dtype=int)])
        weights = np.concatenate([weights, np.full(n_extra, config.augmentation_weight)])
    return x, y, weights


def _platt(margins: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Sigmoid calibration (Platt): p = 1 / (1 + exp(-(a * margin + b)))."""
    if len(np.unique(y)) < 2:
        return 1.0, 0.0
    model = LogisticRegression(C=1e4, solver="lbfgs")
    model.fit(margins.reshape(-1, 1), y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def _best_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The probability threshold with the best F1 on calibration rows, within THRESHOLD_RANGE."""
    if len(np.unique(y)) < 2:
        return 0.5
    best, best_f1 = 0.5, -1.0
    for t in np.arange(THRESHOLD_RANGE[0], THRESHOLD_RANGE[1] + 1e-9, 0.01):
        flagged = p >= t
        tp = float(np.sum(flagged & (y == 1)))
        precision = tp / max(float(flagged.sum()), 1.0)
        recall = tp / max(float((y == 1).sum()), 1.0)
        f1 = 0.0 if tp == 0 else 2 * precision * recall / (precision + recall)
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(round(t, 2)), f1
    return best


def model_version(frame: pd.DataFrame, config: TrainConfig) -> str:
    """A version that changes with the data and the configuration: date-free, reproducible."""
    digest = hashlib.sha256()
    digest.update(repr(sorted(config.as_dict().items())).encode())
    for text, group in zip(frame["text"], frame["group"], strict=True):
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(str(group).encode())
    return f"linear-{digest.hexdigest()[:12]}"


def learned_version(classifier: Classifier, data_version: str) -> str:
    """The data version extended with everything training learnt (weights, calibration,
    thresholds, highlight rule and span model), so the same data trained by changed code gets a
    new version: decisions recorded by two different models can always be told apart."""
    digest = hashlib.sha256(data_version.encode())
    for array in (
        classifier.idf,
        classifier.coef,
        classifier.intercept,
        classifier.calib_slope,
        classifier.calib_offset,
    ):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(repr(sorted(classifier.thresholds.items())).encode())
    digest.update(repr(classifier.highlight).encode())
    span = classifier.span_model
    if span is not None:
        digest.update(repr(sorted(span.weights.items())).encode())
        plain = {k: v for k, v in vars(span).items() if k not in ("weights", "stage", "prior")}
        digest.update(repr(sorted(plain.items())).encode())
        if span.prior is not None:
            digest.update(repr(sorted(span.prior.items())).encode())
        if span.stage is not None:
            for value in vars(span.stage).values():
                digest.update(np.ascontiguousarray(value).tobytes())
    stage = classifier.embedding_stage
    if stage is not None:
        digest.update(stage.embedding.sha256.encode())
        for array in (stage.weights, stage.bias, stage.stack, stage.stack_bias):
            digest.update(np.ascontiguousarray(array).tobytes())
    return f"linear-{digest.hexdigest()[:12]}"


def train(
    frame: pd.DataFrame,
    config: TrainConfig | None = None,
    progress: Progress = _quiet,
    embedding: StaticEmbedding | None = None,
) -> TrainingRun:
    """Fits, prunes and calibrates the classifier on one combined frame of labelled rows; with
    an ``embedding`` (vectors attached), also its embedding stage (fit_embedding_stage)."""
    config = config or TrainConfig()
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[step] = round(now - clock, 2)
        clock = now
        progress(step)

    frame = with_spam_negatives(frame.reset_index(drop=True), config.spam_negative_sets)
    frame["normalised"] = normalise_all(list(frame["text"]))
    frame["part"] = assign_parts(frame["group"], config.seed, frame["set"])
    lap("normalise")

    fit_rows = frame[frame["part"] == FIT]
    cal_rows = frame[frame["part"] == CALIBRATION]
    extra = _augmentation(config.seed) if config.augmentation_weight > 0 else []
    extra_norm = normalise_all(extra)
    fit_texts = list(fit_rows["normalised"]) + extra_norm
    word, char, matrix = _fit_vectorizers(fit_texts, config)
    cal_matrix = _vectorise(word, char, list(cal_rows["normalised"]))
    positions, cut_texts = span_cut_rows(fit_rows) if config.span_cut_weight > 0 else ([], [])
    cuts = (
        SpanCuts(np.asarray(positions), _vectorise(word, char, normalise_all(cut_texts)))
        if cut_texts
        else None
    )
    lap("features")

    coef = np.zeros((matrix.shape[1], len(LABELS)))
    intercept = np.zeros(len(LABELS))
    regularisation: dict[str, dict[str, Any]] = {}
    for column, label in enumerate(LABELS):
        x, y, weights = _label_rows(label, fit_rows, matrix, config, cuts=cuts)
        if len(np.unique(y)) < 2:
            log.warning("label %s has one class in the fit rows: constant score", label)
            continue
        cal_known = cal_rows[label].notna().to_numpy()
        model, regularisation[label] = _fit_label(
            x,
            y,
            weights,
            cal_matrix[cal_known],
            cal_rows[label].to_numpy()[cal_known].astype(int),
            cal_rows["set"].to_numpy()[cal_known],
            config,
        )
        coef[:, column] = model.coef_[0]
        intercept[column] = model.intercept_[0]
        lap(f"fit {label}")

    clipped = _clip_identity_weights(word, char, coef)
    classifier = _build_classifier(word, char, coef, intercept, model_version(frame, config))
    log.info("identity mitigation: %d features no longer push toxic labels up", clipped)
    lap("prune")

    margins = classifier.decision_function_normalised(list(cal_rows["normalised"]))
    slopes, offsets = np.ones(len(LABELS)), np.zeros(len(LABELS))
    thresholds: dict[str, float] = {}
    for column, label in enumerate(LABELS):
        known = cal_rows[label].notna().to_numpy()
        y = cal_rows[label].to_numpy()[known].astype(int)
        slopes[column], offsets[column] = _platt(margins[known, column], y)
        z = margins[known, column] * slopes[column] + offsets[column]
        thresholds[label] = _best_threshold(1.0 / (1.0 + np.exp(-z)), y)
    classifier.calib_slope = slopes
    classifier.calib_offset = offsets
    classifier.thresholds = thresholds
    lap("calibrate")

    stage_info: dict[str, Any] = {}
    if embedding is not None and config.embedding_labels:
        stage, stage_info = fit_embedding_stage(
            embedding, fit_rows, cal_rows, margins, extra_norm, config
        )
        classifier.embedding_stage = stage
        classifier.thresholds.update(stage_info.pop("thresholds"))
        lap("embedding stage")

    toxic_c = regularisation.get("toxic", {}).get("c")
    unseen = (
        _unseen_span_scores(
            classifier, fit_rows, matrix, cuts, (word, char), (coef, intercept), toxic_c, config
        )
        if toxic_c is not None
        else {}
    )
    lap("cross-fit toxic")
    highlight = fit_highlights(classifier, frame, config.seed, unseen)
    classifier.version = learned_version(classifier, classifier.version)
    lap("tune highlights")
    return TrainingRun(
        classifier=classifier,
        frame=frame,
        config=config,
        seconds=seconds,
        highlight=highlight,
        regularisation=regularisation,
        stage=stage_info,
    )


def _embedding_rows(
    label: str,
    fit_rows: pd.DataFrame,
    vectors: np.ndarray,
    n_extra: int,
    config: TrainConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """One label's rows for its embedding model: the fit rows that carry it with the n-gram
    model's weights, contrast negatives weighed up, then (but for spam) the identity
    augmentation sentences (the rows of ``vectors`` after the fit rows) as negatives; and the
    number of contrast negatives."""
    n_fit = len(fit_rows)
    known = fit_rows[label].notna().to_numpy()
    y = fit_rows[label].to_numpy()[known].astype(int)
    sets = fit_rows["set"].to_numpy()[known]
    weights = set_balanced_weights(sets, y)
    if label == "spam":
        weights[np.isin(sets, config.spam_negative_sets)] *= config.spam_negative_weight
    contrast = contrast_negatives(
        label, list(fit_rows["text"].to_numpy()[known]), y, fit_rows["toxic"].to_numpy()[known]
    )
    weights[contrast] *= config.contrast_weight
    x = vectors[:n_fit][known]
    if n_extra and label != "spam":
        x = np.vstack([x, vectors[n_fit:]])
        y = np.concatenate([y, np.zeros(n_extra, dtype=int)])
        weights = np.concatenate([weights, np.full(n_extra, config.augmentation_weight)])
    return x, y, weights, int(contrast.sum())


def fit_embedding_stage(
    embedding: StaticEmbedding,
    fit_rows: pd.DataFrame,
    cal_rows: pd.DataFrame,
    cal_margins: np.ndarray,
    extra_norm: Sequence[str],
    config: TrainConfig,
) -> tuple[EmbeddingStage, dict[str, Any]]:
    """Per label of config.embedding_labels: a logistic regression over the embeddings of the
    fit rows (models.stage), then the stacker over (n-gram margin, embedding margin) fitted on
    the calibration rows, where neither first model was fitted, and the flag threshold with the
    best F1 there (in place of the Platt step and threshold of the n-gram margin alone)."""
    vectors = embedding.embed(list(fit_rows["normalised"]) + list(extra_norm))
    cal_vectors = embedding.embed(list(cal_rows["normalised"]))
    labels: list[str] = []
    weights: list[np.ndarray] = []
    bias: list[float] = []
    stack: list[np.ndarray] = []
    stack_bias: list[float] = []
    info: dict[str, Any] = {"thresholds": {}, "labels": {}}
    for label in (label for label in config.embedding_labels if label in LABELS):
        x, y, w, n_contrast = _embedding_rows(label, fit_rows, vectors, len(extra_norm), config)
        known = cal_rows[label].notna().to_numpy()
        cal_y = cal_rows[label].to_numpy()[known].astype(int)
        if len(np.unique(y)) < 2 or len(np.unique(cal_y)) < 2:
            log.warning("label %s lacks a class in the fit or calibration rows: not stacked", label)
            continue
        model = LogisticRegression(C=config.embedding_c, max_iter=2000).fit(x, y, sample_weight=w)
        column = LABELS.index(label)
        embedded = cal_vectors[known] @ model.coef_[0] + model.intercept_[0]
        inputs = np.column_stack([cal_margins[known, column], embedded])
        stacker = LogisticRegression(C=1.0, max_iter=1000).fit(inputs, cal_y)
        labels.append(label)
        weights.append(model.coef_[0])
        bias.append(float(model.intercept_[0]))
        stack.append(stacker.coef_[0])
        stack_bias.append(float(stacker.intercept_[0]))
        p = stacker.predict_proba(inputs)[:, 1]
        info["thresholds"][label] = _best_threshold(p, cal_y)
        info["labels"][label] = {
            "fit_rows": int(len(y)),
            "contrast_negatives": n_contrast,
            "stack_ngram": round(float(stacker.coef_[0][0]), 4),
            "stack_embedding": round(float(stacker.coef_[0][1]), 4),
            "stack_bias": round(float(stacker.intercept_[0]), 4),
        }
    stage = EmbeddingStage(
        embedding,
        tuple(labels),
        np.asarray([LABELS.index(label) for label in labels], dtype=np.int64),
        np.column_stack(weights) if weights else np.zeros((embedding.dim, 0)),
        np.asarray(bias),
        np.vstack(stack) if stack else np.zeros((0, 2)),
        np.asarray(stack_bias),
    )
    return stage, info


def _unseen_span_scores(
    classifier: Classifier,
    fit_rows: pd.DataFrame,
    matrix: sp.csr_matrix,
    cuts: SpanCuts | None,
    vectorizers: tuple[TfidfVectorizer, TfidfVectorizer],
    linear: tuple[np.ndarray, np.ndarray],
    c: float,
    config: TrainConfig,
) -> dict[int, tuple[np.ndarray, list[Unit]]]:
    """highlight_units of every fit-part post with gold spans, from a classifier like the
    trained one (``linear``: its unpruned coefficients and intercepts) whose toxic weights never
    saw it (refitted SPAN_FOLDS times, each without one fold of those posts).

    The span model runs on comments the classifier has never seen. Scored by the classifier
    that learnt them as toxic positives, the training posts would show it sharper, surer
    contributions than new comments ever get."""
    has_spans = has_gold_spans(fit_rows)
    positions = np.flatnonzero(has_spans)
    folds = span_folds([str(g) for g in fit_rows["group"].to_numpy()[positions]])
    column = LABELS.index("toxic")
    scores: dict[int, tuple[np.ndarray, list[Unit]]] = {}
    for test in folds:
        leave_out = np.zeros(len(fit_rows), dtype=bool)
        leave_out[positions[test]] = True
        x, y, weights = _label_rows("toxic", fit_rows, matrix, config, leave_out, cuts)
        model = _logistic(c, config.seed).fit(x, y, sample_weight=weights)
        coef, intercept = linear[0].copy(), linear[1].copy()
        coef[:, column] = model.coef_[0]
        intercept[column] = model.intercept_[0]
        _clip_identity_weights(*vectorizers, coef)
        peer = _build_classifier(*vectorizers, coef, intercept, classifier.version)
        peer.calib_slope, peer.calib_offset = classifier.calib_slope, classifier.calib_offset
        peer.thresholds = classifier.thresholds
        peer.embedding_stage = classifier.embedding_stage
        for position in positions[test]:
            index = int(fit_rows.index[position])
            scores[index] = peer.highlight_units(str(fit_rows.at[index, "text"]))
    return scores


# -- the whole run behind `moderation train` --------------------------------------------------
class TrainingDataError(Exception):
    """The requested sets cannot be used (unknown, restricted without opt-in, missing files)."""


def choose_sets(names: Sequence[str] | None, allow_restricted: bool) -> list[str]:
    """The sets to train on: the open ones by default; restricted ones only when allowed."""
    from models.datasets import ADAPTERS, open_sets

    if not names:
        chosen = list(ADAPTERS) if allow_restricted else open_sets()
        return chosen
    unknown = [name for name in names if name not in ADAPTERS]
    if unknown:
        raise TrainingDataError(
            f"unknown set(s): {', '.join(unknown)} (known: {', '.join(ADAPTERS)})"
        )
    restricted = [n for n in names if ADAPTERS[n].info.licence_class != "open"]
    if restricted and not allow_restricted:
        raise TrainingDataError(
            f"set(s) {', '.join(restricted)} are not openly licensed; "
            "add --allow-restricted to train on them for your own use"
        )
    return list(dict.fromkeys(names))


def describe_sets(names: Sequence[str], data_dir: Path) -> list[dict[str, Any]]:
    """Manifest entries: every training set with its licence and its files' sha256."""
    from models.datasets import ADAPTERS, file_sha256

    described = []
    for name in names:
        info = ADAPTERS[name].info
        described.append(
            {
                "name": name,
                "licence": info.licence,
                "licence_class": info.licence_class,
                "labels": list(info.labels),
                "files": file_sha256(data_dir, name),
            }
        )
    return described
