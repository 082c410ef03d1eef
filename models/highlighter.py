"""The highlighter: which words of a scored comment a moderator sees marked.

It reads the scorer's probabilities and word contributions (models.scorer) and decides with the
tuned gate, the span model (models.highlight) and the identity words (models.identity).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from models.highlight import join_spaced
from models.identity import identity_words
from models.scorer import LinearScorer, merge_spans, trim_to_word
from models.textnorm import NormalisedText, normalise_text
from models.words import Unit, word_form

if TYPE_CHECKING:
    from models.classifier import HighlightRule
    from models.highlight import SpanModel

__all__ = ["Highlighter", "eligible_units", "marked_units"]


class Highlighter:
    """A scorer's highlights under one rule and span model, for the labels it highlights."""

    def __init__(
        self,
        scorer: LinearScorer,
        rule: HighlightRule,
        labels: Sequence[str],
        thresholds: Mapping[str, float],
        span_model: SpanModel | None = None,
    ) -> None:
        self.scorer = scorer
        self.rule = rule
        self.labels = tuple(labels)
        self.thresholds = thresholds
        self.span_model = span_model

    def candidates(
        self, text: str, normalised: NormalisedText | None = None
    ) -> tuple[np.ndarray, list[tuple[int, int] | None], np.ndarray]:
        """Probabilities, original word spans and their per-label contributions (for rules)."""
        if normalised is None:
            normalised = normalise_text(text)
        probabilities = self.scorer.predict_normalised(normalised.text)
        return (probabilities, *self._contributions(text, normalised))

    def _contributions(
        self, text: str, normalised: NormalisedText
    ) -> tuple[list[tuple[int, int] | None], np.ndarray]:
        """Original word spans and their per-label contributions."""
        spans, contributions = self.scorer._word_contributions(normalised)
        originals = [trim_to_word(text, *normalised.to_original(s, e)) for s, e in spans]
        return originals, contributions

    def apply_rule(
        self,
        rule: HighlightRule,
        probabilities: np.ndarray,
        originals: list[tuple[int, int] | None],
        contributions: np.ndarray,
    ) -> list[tuple[int, int]]:
        """The spans ``rule`` marks, given a text's highlight candidates."""
        scorer_labels = self.scorer.labels
        marked: list[tuple[int, int]] = []
        for label in self.labels:
            column = scorer_labels.index(label)
            if probabilities[column] < rule.gate or not len(originals):
                continue
            weights = contributions[:, column]
            top = float(weights.max())
            if top <= 0:
                continue
            cut = max(rule.share * top, rule.floor)
            marked.extend(
                span
                for span in (originals[i] for i in np.flatnonzero(weights >= cut))
                if span is not None
            )
        return [(s, e) for s, e, _ in merge_spans([(s, e, 0.0) for s, e in marked])]

    def score(self, probabilities: np.ndarray) -> float:
        """A text's likeliest highlighted label: what the gate and the span model's surety on
        unflagged comments go by."""
        scorer_labels = self.scorer.labels
        return max(
            (float(probabilities[scorer_labels.index(label)]) for label in self.labels),
            default=0.0,
        )

    def gate(self, probabilities: np.ndarray) -> bool:
        """Whether a text scored high enough, on any highlighted label, to show highlights."""
        return bool(self.labels) and self.score(probabilities) >= self.rule.gate

    def flagged(self, probabilities: np.ndarray) -> bool:
        """Whether any highlighted label reaches its flag threshold."""
        scorer_labels = self.scorer.labels
        return any(
            probabilities[scorer_labels.index(label)] >= self.thresholds.get(label, 0.5)
            for label in self.labels
        )

    def highlights(
        self,
        text: str,
        probabilities: np.ndarray | None = None,
        normalised: NormalisedText | None = None,
    ) -> list[tuple[int, int]]:
        """Spans a moderator sees marked: the offending words of a text scored high enough
        (``probabilities`` and ``normalised``, if the caller has them already, save scoring and
        normalising the text twice).

        The gate: nothing is marked below the tuned highlight gate (``rule.gate``); between it
        and the flag thresholds a word is marked only when the span model is surer of it
        (``SpanModel.word_threshold``, set so that few clean comments show any mark), it raises
        the toxic score and it is no identity term. So a neutral "I am a gay Muslim woman" marks
        nothing, while a borderline insult below the threshold keeps its insult marked. Marked
        words separated only by spaces are one span, as in the gold spans the model learnt from.
        """
        if probabilities is None:
            if normalised is None:
                normalised = normalise_text(text)
            probabilities = self.scorer.predict_normalised(normalised.text)
        if not self.gate(probabilities):
            return []
        if normalised is None:
            normalised = normalise_text(text)
        flagged = self.flagged(probabilities)
        if self.span_model is not None:
            units = self.scorer.words(text, normalised)
            word_probabilities = self.span_model.word_probabilities(text, units, probabilities)
            chosen = self.span_model.choose(word_probabilities, flagged, self.score(probabilities))
            return join_spaced(text, marked_units(units, chosen, flagged))
        originals, contributions = self._contributions(text, normalised)
        marked = self.apply_rule(self.rule, probabilities, originals, contributions)
        if not flagged:
            identity = identity_words()
            marked = [(s, e) for s, e in marked if word_form(text[s:e]) not in identity]
        return [(s, e) for s, e, _ in merge_spans([(s, e, 0.0) for s, e in marked])]


def eligible_units(units: Sequence[Unit], flagged: bool) -> np.ndarray:
    """Which words highlights() may mark: all of them on a flagged comment, otherwise only those
    that are no identity term and raise the toxic score (training tunes the span model with this
    same rule; SpanModel.choose adds the surer threshold of unflagged comments)."""
    if flagged:
        return np.ones(len(units), dtype=bool)
    identity = identity_words()
    return np.array(
        [form not in identity and contribution > 0 for _, form, contribution in units],
        dtype=bool,
    )


def marked_units(units: Sequence[Unit], chosen: np.ndarray, flagged: bool) -> list[tuple[int, int]]:
    """Spans of the chosen words that highlights() may mark (eligible_units)."""
    keep = np.asarray(chosen, dtype=bool) & eligible_units(units, flagged)
    return [units[int(i)][0] for i in np.flatnonzero(keep)]
