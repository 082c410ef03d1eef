from __future__ import annotations

import math
import re

import numpy as np
import pytest

from models.audit import (
    AUDIT_NEUTRAL_TEMPLATES,
    AUDIT_TOXIC_TEMPLATES,
    AUGMENTATION_TEMPLATES,
    IDENTITY_TERMS,
    audit_sentences,
    augmentation_sentences,
    bnsp_auc,
    bpsn_auc,
    power_mean,
    run_audit,
    subgroup_auc,
)

# Four examples in the subgroup, four in the background:
#                 subgroup                  background
LABELS = [False, False, True, True, False, False, True, True]
SCORES = [0.10, 0.40, 0.35, 0.80, 0.20, 0.05, 0.90, 0.30]
IN_GROUP = [True, True, True, True, False, False, False, False]


class TestBiasAucs:
    def test_subgroup_auc_by_hand(self) -> None:
        # positives {0.35, 0.80} vs negatives {0.10, 0.40}: 3 of 4 pairs ordered right.
        assert subgroup_auc(LABELS, SCORES, IN_GROUP) == pytest.approx(3 / 4)

    def test_bpsn_auc_by_hand(self) -> None:
        # background positives {0.90, 0.30} vs subgroup negatives {0.10, 0.40}: 3 of 4.
        assert bpsn_auc(LABELS, SCORES, IN_GROUP) == pytest.approx(3 / 4)

    def test_bnsp_auc_by_hand(self) -> None:
        # subgroup positives {0.35, 0.80} vs background negatives {0.20, 0.05}: 4 of 4.
        assert bnsp_auc(LABELS, SCORES, IN_GROUP) == pytest.approx(1.0)

    def test_bias_auc_counts_ties_as_half(self) -> None:
        labels = [False, True, False, True]
        scores = [0.5, 0.5, 0.1, 0.9]
        in_group = [True, True, False, False]
        # subgroup: one tied pair -> 0.5
        assert subgroup_auc(labels, scores, in_group) == pytest.approx(0.5)
        # BPSN: background positive 0.9 vs subgroup negative 0.5 -> 1.0
        assert bpsn_auc(labels, scores, in_group) == pytest.approx(1.0)

    def test_bias_auc_without_one_class_is_nan(self) -> None:
        assert math.isnan(subgroup_auc([True, True], [0.1, 0.2], [True, True]))

    def test_power_mean_leans_to_the_smallest(self) -> None:
        assert power_mean([1.0, 1.0]) == pytest.approx(1.0)
        assert power_mean([0.5, 1.0]) < 0.6
        # p = 1 is the arithmetic mean
        assert power_mean([0.5, 1.0], p=1.0) == pytest.approx(0.75)

    def test_power_mean_with_a_zero_is_zero(self) -> None:
        assert power_mean([0.0, 1.0]) == 0.0

    def test_power_mean_skips_missing_values(self) -> None:
        assert power_mean([float("nan"), 0.8]) == pytest.approx(0.8)


def _truth() -> dict[str, bool]:
    return {sentence.text: sentence.toxic for sentence in audit_sentences()}


def perfect(texts: list[str]) -> np.ndarray:
    truth = _truth()
    return np.array([0.95 if truth[text] else 0.05 for text in texts])


def keys_on_gay(texts: list[str]) -> np.ndarray:
    """Perfect, except that any sentence saying "gay" gets 0.9."""
    truth = _truth()
    return np.array(
        [0.9 if re.search(r"\bgay\b", t, re.I) else (0.8 if truth[t] else 0.1) for t in texts]
    )


class TestRunAudit:
    def test_run_audit_perfect_predictor_has_no_bias(self) -> None:
        report = run_audit(perfect, threshold=0.5)
        assert report.overall_auc == 1.0
        assert all(t.subgroup_auc == t.bpsn_auc == t.bnsp_auc == 1.0 for t in report.terms)
        assert report.neutral_flag_rate == 0.0
        assert report.toxic_flag_rate == 1.0

    def test_run_audit_reports_every_term(self) -> None:
        report = run_audit(perfect, threshold=0.5)
        assert [t.term for t in report.terms] == [i.term for i in IDENTITY_TERMS]
        assert report.sentences == len(IDENTITY_TERMS) * (
            len(AUDIT_NEUTRAL_TEMPLATES) + len(AUDIT_TOXIC_TEMPLATES)
        )

    def test_run_audit_finds_a_predictor_keyed_on_an_identity(self) -> None:
        report = run_audit(keys_on_gay, threshold=0.5)
        by_term = {t.term: t for t in report.terms}
        assert by_term["gay"].bpsn_auc < 0.1
        assert by_term["gay"].neutral_flag_rate == 1.0
        assert by_term["muslim"].bpsn_auc == 1.0
        assert by_term["muslim"].neutral_flag_rate == 0.0
        assert report.worst_terms(1)[0].term == "gay"

    def test_run_audit_accepts_a_single_column(self) -> None:
        report = run_audit(lambda texts: perfect(texts)[:, None], threshold=0.5)
        assert report.overall_auc == 1.0

    def test_run_audit_rejects_a_wrong_shape(self) -> None:
        with pytest.raises(ValueError, match="one toxic probability per text"):
            run_audit(lambda texts: np.zeros((len(texts), 4)), threshold=0.5)

    def test_audit_report_to_markdown_has_a_row_per_term(self) -> None:
        markdown = run_audit(keys_on_gay, threshold=0.5).to_markdown()
        rows = [line for line in markdown.splitlines() if line.startswith("| ")]
        assert len(rows) == 1 + len(IDENTITY_TERMS)  # header + terms
        assert "| gay | sexual orientation | " in markdown
        assert "BPSN" in markdown

    def test_audit_report_to_dict_is_plain_data(self) -> None:
        data = run_audit(perfect, threshold=0.5).to_dict()
        assert data["mean_bias_aucs"] == {"subgroup_auc": 1.0, "bpsn_auc": 1.0, "bnsp_auc": 1.0}
        assert len(data["terms"]) == len(IDENTITY_TERMS)  # type: ignore[arg-type]


class TestAugmentationSentences:
    def test_augmentation_templates_are_not_audit_templates(self) -> None:
        audit = set(AUDIT_NEUTRAL_TEMPLATES) | set(AUDIT_TOXIC_TEMPLATES)
        assert not audit & set(AUGMENTATION_TEMPLATES)

    def test_augmentation_templates_share_no_trigram_with_audit_templates(self) -> None:
        def trigrams(template: str) -> set[tuple[str, ...]]:
            words = re.sub(r"[{]\w+[}]", "X", template.lower())
            words = words.replace(",", " ").replace(".", " ").split()
            return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}

        audit = set().union(*map(trigrams, AUDIT_NEUTRAL_TEMPLATES + AUDIT_TOXIC_TEMPLATES))
        shared = {t: trigrams(t) & audit for t in AUGMENTATION_TEMPLATES}
        assert {t: s for t, s in shared.items() if s} == {}

    def test_augmentation_sentences_never_repeat_an_audit_sentence(self) -> None:
        audit = {s.text.lower() for s in audit_sentences()}
        augmented = {s.lower() for s in augmentation_sentences(seed=0)}
        assert not audit & augmented

    def test_augmentation_sentences_name_every_identity(self) -> None:
        text = " ".join(augmentation_sentences(seed=0)).lower()
        assert all(re.search(rf"\b{i.term}\b", text) for i in IDENTITY_TERMS)

    def test_augmentation_sentences_are_reproducible_per_seed(self) -> None:
        assert augmentation_sentences(seed=7) == augmentation_sentences(seed=7)
        assert augmentation_sentences(seed=7) != augmentation_sentences(seed=8)

    def test_augmentation_sentences_per_term_limits_the_count(self) -> None:
        few = augmentation_sentences(seed=0, per_term=2)
        assert len(few) < len(augmentation_sentences(seed=0))
        assert all("{" not in s for s in few)
