"""The shipped classifier on the functional suites: per category, how often it flags, against
the bar a moderator set for that category (issue 19's targets), at the shipped thresholds."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import models
from cli.simulate import SAMPLES, sim_thresholds
from core.domain import Status
from core.policy import Policy, Thresholds, decide
from core.reasons import ScoreReason
from models.artifact import SHIPPED_DIR
from models.classifier import Classifier

SUITES_DIR = Path(__file__).resolve().parent / "functional"
SUITE_LABELS = ("threat", "spam", "identity_hate")


@dataclass(frozen=True)
class Bar:
    """A category passes when its share of flagged cases is at least ``at_least`` (cases to
    catch) or at most ``at_most`` (contrasts that must be left alone)."""

    at_least: float | None = None
    at_most: float | None = None

    def met(self, rate: float) -> bool:
        if self.at_least is not None:
            return rate >= self.at_least
        assert self.at_most is not None
        return rate <= self.at_most

    def __str__(self) -> str:
        return f">= {self.at_least:.0%}" if self.at_least is not None else f"<= {self.at_most:.0%}"


CATCH_THREAT, LEAVE_THREAT = Bar(at_least=0.90), Bar(at_most=0.05)
CATCH_SPAM, LEAVE_SPAM = Bar(at_least=0.90), Bar(at_most=0.03)
CATCH_HATE, LEAVE_HATE = Bar(at_least=0.85), Bar(at_most=0.05)
BARS: dict[str, dict[str, Bar]] = {
    "threat": {
        "direct_threat": CATCH_THREAT,
        "indirect_threat": CATCH_THREAT,
        "wish_of_harm": CATCH_THREAT,
        "call_violence_person": CATCH_THREAT,
        "call_violence_group": CATCH_THREAT,
        "property_with_people": CATCH_THREAT,
        "figurative": LEAVE_THREAT,
        "reporting_threat": LEAVE_THREAT,
        "condemning_threat": LEAVE_THREAT,
        "punitive": LEAVE_THREAT,
        "ordinary": LEAVE_THREAT,
    },
    "spam": {
        "scam": CATCH_SPAM,
        "crypto": CATCH_SPAM,
        "betting": CATCH_SPAM,
        "phishing": CATCH_SPAM,
        "seo_link_drop": CATCH_SPAM,
        "numbers": LEAVE_SPAM,
        "prices": LEAVE_SPAM,
        "source_links": LEAVE_SPAM,
        "companies": LEAVE_SPAM,
        "ordinary": LEAVE_SPAM,
    },
    "identity_hate": {
        "group_attack": CATCH_HATE,
        "dehumanising": CATCH_HATE,
        "exclusion": CATCH_HATE,
        "person_insult": LEAVE_HATE,
        "negation": LEAVE_HATE,
        "counter_speech": LEAVE_HATE,
        "quote": LEAVE_HATE,
        "reclaimed": LEAVE_HATE,
        "positive_identity": LEAVE_HATE,
    },
}
# Bars the shipped model does not meet yet, with its measured figure (xfail, strict: a bar
# that starts passing fails here until it is moved out of this table).
SHORTFALLS: dict[tuple[str, str], str] = {
    ("threat", "direct_threat"): "linear-c26d361e70c7: 7/18 = 38.9% flagged (bar >= 90%)",
    ("threat", "indirect_threat"): "linear-c26d361e70c7: 1/16 = 6.2% flagged (bar >= 90%)",
    ("threat", "wish_of_harm"): "linear-c26d361e70c7: 11/16 = 68.8% flagged (bar >= 90%)",
    ("threat", "call_violence_person"): "linear-c26d361e70c7: 11/16 = 68.8% flagged (bar >= 90%)",
    ("threat", "call_violence_group"): "linear-c26d361e70c7: 10/16 = 62.5% flagged (bar >= 90%)",
    ("threat", "property_with_people"): "linear-c26d361e70c7: 3/14 = 21.4% flagged (bar >= 90%)",
    ("threat", "figurative"): "linear-c26d361e70c7: 2/20 = 10.0% flagged (bar <= 5%)",
    ("threat", "condemning_threat"): "linear-c26d361e70c7: 3/20 = 15.0% flagged (bar <= 5%)",
    ("threat", "punitive"): "linear-c26d361e70c7: 2/20 = 10.0% flagged (bar <= 5%)",
    ("spam", "scam"): "linear-c26d361e70c7: 11/20 = 55.0% flagged (bar >= 90%)",
    ("spam", "crypto"): "linear-c26d361e70c7: 7/16 = 43.8% flagged (bar >= 90%)",
    ("spam", "betting"): "linear-c26d361e70c7: 11/16 = 68.8% flagged (bar >= 90%)",
    ("spam", "phishing"): "linear-c26d361e70c7: 7/16 = 43.8% flagged (bar >= 90%)",
    ("spam", "seo_link_drop"): "linear-c26d361e70c7: 2/16 = 12.5% flagged (bar >= 90%)",
    ("spam", "prices"): "linear-c26d361e70c7: 1/16 = 6.2% flagged (bar <= 3%)",
    ("spam", "source_links"): "linear-c26d361e70c7: 2/16 = 12.5% flagged (bar <= 3%)",
    ("spam", "ordinary"): "linear-c26d361e70c7: 1/16 = 6.2% flagged (bar <= 3%)",
    ("identity_hate", "group_attack"): "linear-c26d361e70c7: 11/26 = 42.3% flagged (bar >= 85%)",
    ("identity_hate", "dehumanising"): "linear-c26d361e70c7: 13/16 = 81.2% flagged (bar >= 85%)",
    ("identity_hate", "exclusion"): "linear-c26d361e70c7: 6/12 = 50.0% flagged (bar >= 85%)",
    ("identity_hate", "person_insult"): "linear-c26d361e70c7: 2/20 = 10.0% flagged (bar <= 5%)",
    ("identity_hate", "counter_speech"): "linear-c26d361e70c7: 2/20 = 10.0% flagged (bar <= 5%)",
    ("identity_hate", "reclaimed"): "linear-c26d361e70c7: 1/12 = 8.3% flagged (bar <= 5%)",
}


@dataclass(frozen=True)
class Case:
    category: str
    expected: int
    text: str


def read_suite(label: str) -> list[Case]:
    with (SUITES_DIR / f"{label}.tsv").open(newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [Case(row["category"], int(row["expected"]), row["text"]) for row in rows]


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return models.load(SHIPPED_DIR)


# What the suites' tests computed, kept for the figures printed at the end of the run.
_flags: dict[str, np.ndarray] = {}
_scored_by: list[Classifier] = []


def flags(classifier: Classifier, label: str) -> np.ndarray:
    """Per case of the label's suite: flagged for that label at the shipped threshold."""
    if label not in _flags:
        _scored_by[:] = [classifier]
        texts = [case.text for case in read_suite(label)]
        column = classifier.labels.index(label)
        scores = classifier.predict_proba(texts)[:, column]
        _flags[label] = scores >= classifier.thresholds[label]
    return _flags[label]


def category_rate(classifier: Classifier, label: str, category: str) -> tuple[float, int, int]:
    cases = read_suite(label)
    flagged = flags(classifier, label)
    inside = [i for i, case in enumerate(cases) if case.category == category]
    hits = int(flagged[inside].sum())
    return hits / len(inside), hits, len(inside)


def report(classifier: Classifier) -> Iterator[str]:
    """The per-category figures, printed at the end of the test run."""
    for label in SUITE_LABELS:
        yield f"{label} (threshold {classifier.thresholds[label]:.2f}):"
        for category, bar in BARS[label].items():
            rate, hits, size = category_rate(classifier, label, category)
            verdict = "meets" if bar.met(rate) else "MISSES"
            yield f"  {category:22} flagged {hits:3}/{size:<3} {rate:6.1%}  bar {bar}  {verdict}"


def cases_of_bars() -> list[object]:
    params: list[object] = []
    for label, bars in BARS.items():
        for category in bars:
            shortfall = SHORTFALLS.get((label, category))
            marks = (
                [pytest.mark.xfail(strict=True, raises=AssertionError, reason=shortfall)]
                if shortfall
                else []
            )
            params.append(pytest.param(label, category, marks=marks, id=f"{label}-{category}"))
    return params


class TestSuites:
    @pytest.mark.parametrize("label", SUITE_LABELS)
    def test_suite_has_a_hundred_cases_in_known_categories(self, label: str) -> None:
        cases = read_suite(label)
        assert len(cases) >= 100
        assert {case.category for case in cases} == set(BARS[label])
        assert {case.expected for case in cases} == {0, 1}
        for case in cases:
            bar = BARS[label][case.category]
            assert (bar.at_least is not None) == (case.expected == 1), case

    @pytest.mark.parametrize("label", SUITE_LABELS)
    def test_suite_texts_are_distinct(self, label: str) -> None:
        texts = [" ".join(case.text.lower().split()) for case in read_suite(label)]
        assert len(set(texts)) == len(texts)


class TestShippedOnSuites:
    @pytest.mark.parametrize(("label", "category"), cases_of_bars())
    def test_shipped_meets_the_category_bar(
        self, shipped: Classifier, label: str, category: str
    ) -> None:
        rate, hits, size = category_rate(shipped, label, category)
        assert BARS[label][category].met(rate), f"{hits}/{size} = {rate:.1%} flagged"


def policies(classifier: Classifier) -> dict[str, Policy]:
    """The policy of a source created without thresholds (flat default), and one at the
    model's tuned thresholds (what such a source starts from once it reads the manifest)."""
    tuned = {label: Thresholds(flag=value) for label, value in classifier.thresholds.items()}
    # `moderation simulate`'s own source: tuned, and toxic also rejected above a threshold.
    simulated = dict(tuned)
    for label, values in sim_thresholds(classifier.thresholds).items():
        simulated[label] = Thresholds(flag=values["flag"], reject=values["reject"])
    return {
        "default": Policy(),
        "tuned": Policy(thresholds=tuned),
        "simulate": Policy(thresholds=simulated),
    }


# Samples the shipped model does not decide as their kind says yet, by policy: the figure.
SAMPLE_SHORTFALLS: dict[str, str] = {
    "default": "linear-c26d361e70c7: 1 of 40 decided wrongly",
}


class TestSimulatorSamples:
    @pytest.mark.parametrize(
        "policy_name",
        [
            pytest.param(
                name,
                marks=[
                    pytest.mark.xfail(
                        strict=True, raises=AssertionError, reason=SAMPLE_SHORTFALLS[name]
                    )
                ]
                if name in SAMPLE_SHORTFALLS
                else [],
            )
            for name in ("default", "tuned", "simulate")
        ],
    )
    def test_every_sample_comment_is_decided_as_its_kind_says(
        self, shipped: Classifier, policy_name: str
    ) -> None:
        policy = policies(shipped)[policy_name]
        probabilities = shipped.predict_proba([sample.text for sample in SAMPLES])
        wrong = []
        for sample, row in zip(SAMPLES, probabilities, strict=True):
            scores = dict(zip(shipped.labels, map(float, row), strict=True))
            outcome = decide(scores, sample.text, policy)
            flagged_for = {r.label for r in outcome.reasons if isinstance(r, ScoreReason)}
            right = (
                outcome.status == Status.APPROVED
                if sample.kind == "ordinary"
                else outcome.status != Status.APPROVED and sample.kind in flagged_for
            )
            if not right:
                wrong.append(f"{sample.kind} {outcome.status.value}: {sample.text[:50]}")
        assert wrong == [], f"{len(wrong)} of {len(SAMPLES)} decided wrongly"


FUNCTIONAL_HEADING = "## Functional suites"


def card_section(classifier: Classifier) -> list[str]:
    return [
        FUNCTIONAL_HEADING,
        "Printed by `python -m tests.models.test_functional --card` (and at the end of every",
        "test run): the hand-written cases of tests/models/functional/, flagged per category at",
        "the shipped thresholds, against the bar each category must meet. The suites were",
        "written before this model was trained and were looked at while choosing its design;",
        "training never reads them.",
        "",
        "```",
        *report(classifier),
        "```",
    ]


if __name__ == "__main__":
    import argparse

    from models.artifact import CARD_FILE
    from models.card import with_section

    parser = argparse.ArgumentParser(description="The functional suites' per-category figures.")
    parser.add_argument("--model", type=Path, default=SHIPPED_DIR)
    parser.add_argument("--card", action="store_true", help="also write them into MODEL_CARD.md")
    args = parser.parse_args()
    model = models.load(args.model)
    section = card_section(model)
    print("\n".join(section[7:-1]))
    if args.card:
        card = args.model / CARD_FILE
        card.write_text(with_section(card.read_text(), FUNCTIONAL_HEADING, section))
        print(f"wrote the functional section of {card}")
