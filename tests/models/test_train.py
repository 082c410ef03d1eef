"""Training end to end on real sets: a loadable, verified artifact; licence rules enforced."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import models
from models.artifact import (
    MANIFEST_FILE,
    MODEL_FILE,
    SHIPPED_DIR,
    file_sha256,
    read_manifest,
    verify,
)
from models.datasets import DEFAULT_DATA_DIR
from models.splits import CALIBRATION, FIT, HELDOUT, assign_parts
from models.train import (
    SpanCuts,
    TrainConfig,
    TrainingDataError,
    _fit_label,
    _label_rows,
    choose_sets,
    learned_version,
    model_version,
    set_balanced_weights,
    span_cut_rows,
    train,
    with_spam_negatives,
)
from tests.models.tiny_model import INSULTS, tiny_frame
from tests.models.tiny_model import NEUTRAL as NEUTRAL_WORDS

needs_data = pytest.mark.skipif(
    not DEFAULT_DATA_DIR.is_dir(), reason=f"training data not found at {DEFAULT_DATA_DIR}"
)


@pytest.fixture(scope="module")
def small_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not DEFAULT_DATA_DIR.is_dir():
        pytest.skip(f"training data not found at {DEFAULT_DATA_DIR}")
    from models.build import build_artifact

    out = tmp_path_factory.mktemp("artifact")
    build_artifact(
        out=out,
        set_names=["convabuse", "youtube-spam"],
        allow_restricted=False,
        data_dir=None,
        seed=7,
    )
    return out


@needs_data
class TestBuildArtifact:
    def test_build_artifact_loads_with_verified_manifest(self, small_artifact: Path) -> None:
        manifest = verify(small_artifact, file_sha256(small_artifact / MODEL_FILE))
        classifier = models.load(small_artifact, manifest["sha256"])
        assert classifier.version == manifest["version"]
        spam = classifier.labels.index("spam")
        scores = classifier.predict_proba(
            ["check out my channel and subscribe http://bit.ly/x", "love this song so much"]
        )
        assert scores[0, spam] > scores[1, spam]

    def test_build_artifact_manifest_names_sets_with_licences_and_hashes(
        self, small_artifact: Path
    ) -> None:
        manifest = json.loads((small_artifact / MANIFEST_FILE).read_text())
        sets = {entry["name"]: entry for entry in manifest["training_sets"]}
        assert set(sets) == {"convabuse", "youtube-spam"}
        assert all(entry["licence"] and entry["files"] for entry in sets.values())
        assert all(len(digest) == 64 for digest in sets["youtube-spam"]["files"].values())
        assert manifest["seed"] == 7
        assert set(manifest["thresholds"]) == {"toxic", "identity_hate", "threat", "spam"}
        # The held-out scores' bins, drift's reference once the model is live (core.drift).
        reference = manifest["score_reference"]["spam"]
        assert reference["edges"][0] == 0.0 and reference["edges"][-1] == 1.0
        assert sum(reference["fractions"]) == pytest.approx(1.0)
        assert reference["count"] > 0

    def test_build_artifact_writes_card_and_plots(self, small_artifact: Path) -> None:
        card = (small_artifact / "MODEL_CARD.md").read_text()
        assert "## Held-out results" in card
        assert "--sets convabuse --sets youtube-spam --seed 7" in card
        assert (small_artifact / "plots" / "spam.png").stat().st_size > 0

    def test_build_artifact_stacks_on_the_shipped_embedding(self, small_artifact: Path) -> None:
        manifest = json.loads((small_artifact / MANIFEST_FILE).read_text())
        shipped = read_manifest(SHIPPED_DIR)["embedding"]
        assert manifest["embedding"]["sha256"] == shipped["sha256"]
        classifier = models.load(small_artifact, manifest["sha256"])
        assert classifier.embedding_stage is not None
        assert classifier.embedding_stage.labels == ("toxic", "spam")  # no threat rows here
        gain = manifest["metrics"]["stage_gain"]
        assert {(row["set"], row["label"]) for row in gain} == {
            ("convabuse", "toxic"),
            ("youtube-spam", "spam"),
        }
        assert "## Embedding stage" in (small_artifact / "MODEL_CARD.md").read_text()

    def test_build_artifact_scores_restricted_sets_out_of_domain(
        self, small_artifact: Path
    ) -> None:
        manifest = json.loads((small_artifact / MANIFEST_FILE).read_text())
        rows = manifest["metrics"]["out_of_domain"]
        assert {row["set"] for row in rows} == {
            "olid",
            "kaggle-insults",
            "sfu-constructiveness-toxicity",
            "unhealthy-comments-ucc",
        }
        assert all(row["n"] > 0 and row["peer_roc_auc"] is not None for row in rows)
        card = (small_artifact / "MODEL_CARD.md").read_text()
        assert "## Out-of-domain evaluation (restricted sets, never trained on)" in card
        assert "| `olid` | toxic |" in card


class TestChooseSets:
    def test_choose_sets_defaults_to_open_sets(self) -> None:
        from models.datasets import ADAPTERS

        chosen = choose_sets(None, allow_restricted=False)
        assert chosen
        assert all(ADAPTERS[name].info.licence_class == "open" for name in chosen)

    def test_choose_sets_refuses_restricted_without_opt_in(self) -> None:
        from models.datasets import ADAPTERS

        restricted = [n for n, a in ADAPTERS.items() if a.info.licence_class != "open"]
        if not restricted:
            pytest.fail("the catalogue should list restricted sets")
        with pytest.raises(TrainingDataError, match="--allow-restricted"):
            choose_sets([restricted[0]], allow_restricted=False)
        assert choose_sets([restricted[0]], allow_restricted=True) == [restricted[0]]

    def test_choose_sets_unknown_name_is_a_readable_error(self) -> None:
        with pytest.raises(TrainingDataError, match="unknown set"):
            choose_sets(["no-such-set"], allow_restricted=False)


class TestTrain:
    def test_train_is_reproducible_with_a_seed(self) -> None:
        config = TrainConfig(word_min_df=1, char_min_df=1, augmentation_weight=0.0, seed=3)
        first = train(tiny_frame(), config).classifier
        second = train(tiny_frame(), config).classifier
        texts = ["you are an idiot", "nice article"]
        assert first.version == second.version
        np.testing.assert_array_equal(first.predict_proba(texts), second.predict_proba(texts))

    def test_train_version_changes_with_what_was_learnt(self) -> None:
        config = TrainConfig(word_min_df=1, char_min_df=1, augmentation_weight=0.0, seed=3)
        classifier = train(tiny_frame(), config).classifier
        data_version = model_version(tiny_frame(), config)
        assert classifier.version == learned_version(classifier, data_version)
        thresholds = classifier.thresholds
        classifier.thresholds = {**thresholds, "toxic": 0.99}
        assert learned_version(classifier, data_version) != classifier.version
        classifier.thresholds = thresholds
        classifier.coef[0, 0] += 1.0
        assert learned_version(classifier, data_version) != classifier.version

    def test_train_uses_a_label_only_where_it_is_known(self) -> None:
        frame = tiny_frame()
        # Spam is known only on the spam rows; marking every other row spam=NaN must not
        # change the spam model, while calling them 0 would.
        config = TrainConfig(word_min_df=1, char_min_df=1, augmentation_weight=0.0)
        masked = train(frame, config).classifier
        zeroed_frame = frame.assign(spam=frame["spam"].fillna(0.0))
        zeroed = train(zeroed_frame, config).classifier
        spam = masked.labels.index("spam")
        text = ["check out my channel and subscribe"]
        assert masked.predict_proba(text)[0, spam] != zeroed.predict_proba(text)[0, spam]

    def test_train_picks_the_c_with_the_best_calibration_auc(self) -> None:
        # Three copies in distinct groups, so the calibration part holds both classes.
        frame = pd.concat(
            [tiny_frame().assign(group=lambda f, k=k: f["group"] + f"-{k}") for k in range(3)],
            ignore_index=True,
        )
        config = TrainConfig(
            word_min_df=1, char_min_df=1, augmentation_weight=0.0, c_grid=(0.01, 1.0, 100.0)
        )
        run = train(frame, config)
        scored = {
            label: entry
            for label, entry in run.regularisation.items()
            if entry["calibration_roc_auc"]
        }
        assert scored, "no label had calibration rows of both classes to choose C by"
        for entry in scored.values():
            scores = entry["calibration_roc_auc"]
            assert set(scores) == {"0.01", "1", "100"}
            best = max(scores.values())
            # The smallest C among the best: the simpler model wins a tie.
            assert entry["c"] == min(float(c) for c, v in scores.items() if v >= best - 1e-9)

    def test_fit_label_keeps_the_c_that_ranks_calibration_rows_best(self) -> None:
        # One informative column among many noisy ones, few training rows: how much C lets the
        # model fit the noise changes how well it ranks unseen rows.
        rng = np.random.default_rng(0)

        def rows(n: int) -> tuple[sp.csr_matrix, np.ndarray]:
            y = rng.integers(0, 2, n)
            x = rng.normal(size=(n, 300))
            x[:, 0] += 1.5 * y
            return sp.csr_matrix(x), y

        x, y = rows(40)
        cal_x, cal_y = rows(400)
        config = TrainConfig(c_grid=(0.001, 0.03, 1.0, 100.0))
        model, chosen = _fit_label(
            x, y, np.ones(len(y)), cal_x, cal_y, np.array(["a"] * 400), config
        )
        scores = chosen["calibration_roc_auc"]
        assert len(set(scores.values())) > 1, "the grid should make a difference here"
        assert scores[f"{chosen['c']:g}"] == max(scores.values())
        assert model.C == chosen["c"]


def test_span_model_learns_from_contributions_the_classifier_never_saw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A word found only in one fit-part span post: the trained classifier learnt it as toxic,
    but the span model is shown that post's words as a classifier without it scores them."""
    import models.train as training

    frame = tiny_frame()
    posts = pd.DataFrame(
        {
            "text": [f"the author wrote a {word} comment" for word in NEUTRAL_WORDS],
            "toxic": 1.0,
            "group": [f"span-{i}" for i in range(len(NEUTRAL_WORDS))],
            "set": "spans",
        }
    )
    posts["spans"] = [[(19, 19 + len(word))] for word in NEUTRAL_WORDS]
    frame = pd.concat([frame, posts], ignore_index=True)
    parts = assign_parts(frame["group"], 3, frame["set"])
    index = next(i for i in range(len(frame)) if frame.at[i, "set"] == "spans" and parts[i] == FIT)
    frame.at[index, "text"] = "the author wrote a zorbflax comment"
    seen: dict[str, object] = {}
    real = training.fit_highlights

    def spy(classifier, frame, seed, unseen=None):  # type: ignore[no-untyped-def]
        seen["unseen"] = dict(unseen or {})
        return real(classifier, frame, seed, unseen)

    monkeypatch.setattr(training, "fit_highlights", spy)
    config = TrainConfig(word_min_df=1, char_min_df=1, augmentation_weight=0.0, seed=3)
    classifier = train(frame, config).classifier

    def contribution(units: list) -> float:  # type: ignore[type-arg]
        return next(c for _, form, c in units if form == "zorbflax")

    unseen = seen["unseen"]
    assert isinstance(unseen, dict)
    fit_posts = {i for i in range(len(frame)) if frame.at[i, "set"] == "spans" and parts[i] == FIT}
    assert set(unseen) == fit_posts
    trained = contribution(classifier.highlight_units(frame.at[index, "text"])[1])
    assert trained > 0.1
    assert contribution(unseen[index][1]) < trained / 2


class TestSpanCuts:
    def test_span_cut_rows_cut_the_gold_spans_out(self) -> None:
        rows = pd.DataFrame(
            {
                "text": [
                    "you are a total idiot and a liar",
                    "idiot",
                    "the whole post is toxic",
                    "a row of another set",
                ],
                "spans": [[(10, 21), (28, 32)], [(0, 5)], [], None],
            }
        )
        positions, texts = span_cut_rows(rows)
        assert positions.tolist() == [0]
        assert texts == ["you are a and a"]

    def test_label_rows_add_the_cuts_of_kept_posts_as_toxic_negatives(self) -> None:
        fit_rows = pd.DataFrame(
            {
                "toxic": [1.0, 1.0, 1.0, 0.0, 1.0],
                "identity_hate": [np.nan, np.nan, np.nan, 0.0, 1.0],
                "set": ["spans", "spans", "spans", "wiki", "wiki"],
            }
        )
        matrix = sp.csr_matrix(np.eye(5))
        cut_rows = sp.csr_matrix(np.array([[0, 0, 0, 5.0, 0], [0, 0, 0, 0, 7.0]]))
        cuts = SpanCuts(np.array([0, 1]), cut_rows)
        leave_out = np.array([True, False, False, False, False])
        config = TrainConfig(span_cut_weight=1.0)
        x, y, weights = _label_rows("toxic", fit_rows, matrix, config, leave_out, cuts)
        # Post 0 is left out and takes its cut with it; post 1's cut is a negative of its set,
        # which now balances its two positives against that one negative.
        assert y.tolist() == [1, 1, 0, 1, 0]
        assert x.toarray()[-1].tolist() == [0, 0, 0, 0, 7.0]
        assert weights[-1] == pytest.approx(2 * weights[0])
        half = TrainConfig(span_cut_weight=0.5)
        _, _, halved = _label_rows("toxic", fit_rows, matrix, half, leave_out, cuts)
        np.testing.assert_allclose(halved, np.concatenate([weights[:-1], [weights[-1] / 2]]))
        x, y, _ = _label_rows("identity_hate", fit_rows, matrix, config, leave_out, cuts)
        assert y.tolist() == [0, 1]

    def test_a_topic_word_of_span_posts_is_no_evidence_of_toxicity(self) -> None:
        """Span posts all toxic, all about "canada": only the cuts keep the word neutral."""
        frame = tiny_frame()
        posts = pd.DataFrame(
            {
                "text": [
                    f"canada {topic} is run by a {insult}"
                    for insult in INSULTS
                    for topic in ("budget", "housing", "transit")
                ],
                "toxic": 1.0,
                "set": "spans",
            }
        )
        posts["group"] = [f"span-{i}" for i in range(len(posts))]
        posts["spans"] = [
            [(len(text) - len(text.split()[-1]), len(text))] for text in posts["text"]
        ]
        frame = pd.concat([frame, posts], ignore_index=True)

        def canada(span_cut_weight: float) -> float:
            config = TrainConfig(
                word_min_df=1,
                char_min_df=1,
                augmentation_weight=0.0,
                span_cut_weight=span_cut_weight,
            )
            words = train(frame, config).classifier.words("canada news")
            return next(c for _, form, c in words if form == "canada")

        assert canada(0.0) > 0.5
        assert canada(1.0) <= 0.1


class TestSetBalancedWeights:
    def test_each_set_keeps_its_size_and_balances_its_classes(self) -> None:
        sets = np.array(["tweets"] * 10 + ["wiki"] * 20)
        y = np.array([1] * 8 + [0] * 2 + [1] * 2 + [0] * 18)
        weights = set_balanced_weights(sets, y)
        assert weights.mean() == pytest.approx(1.0)
        for name, size in (("tweets", 10), ("wiki", 20)):
            in_set = sets == name
            assert weights[in_set].sum() == pytest.approx(size)
            assert weights[in_set & (y == 1)].sum() == pytest.approx(
                weights[in_set & (y == 0)].sum()
            )

    def test_a_set_with_one_class_keeps_plain_weights(self) -> None:
        sets = np.array(["spans"] * 4 + ["wiki"] * 4)
        y = np.array([1, 1, 1, 1, 1, 0, 0, 0])
        weights = set_balanced_weights(sets, y)
        np.testing.assert_allclose(weights[:4], 1.0)
        np.testing.assert_allclose(weights[4:], [2.0, 2 / 3, 2 / 3, 2 / 3])


class TestSplits:
    def test_assign_parts_keeps_groups_together_and_is_seeded(self) -> None:
        groups = [f"g{i // 3}" for i in range(3000)]
        parts = assign_parts(groups, seed=1)
        frame = pd.DataFrame({"group": groups, "part": parts})
        assert (frame.groupby("group")["part"].nunique() == 1).all()
        shares = frame["part"].value_counts(normalize=True)
        assert 0.15 < shares[HELDOUT] < 0.25
        assert 0.10 < shares[CALIBRATION] < 0.20
        assert shares[FIT] > 0.55
        assert list(assign_parts(groups, seed=1)) == list(parts)
        assert list(assign_parts(groups, seed=2)) != list(parts)


class TestSpamNegatives:
    def test_with_spam_negatives_labels_only_unlabelled_rows_of_the_named_sets(self) -> None:
        frame = pd.DataFrame(
            {
                "text": ["a", "b", "c", "d"],
                "set": ["news", "news", "tweets", "spam-set"],
                "spam": [np.nan, 1.0, np.nan, 0.0],
            }
        )
        filled = with_spam_negatives(frame, ("news",))
        assert filled["spam"].tolist()[:2] == [0.0, 1.0]
        assert np.isnan(filled["spam"].iloc[2])
        assert np.isnan(frame["spam"].iloc[0])  # the caller's frame is left alone

    def test_label_rows_weigh_spam_negatives_by_their_weight(self) -> None:
        fit_rows = pd.DataFrame(
            {
                "spam": [1.0, 0.0, 0.0, 0.0],
                "toxic": [np.nan, np.nan, 0.0, 0.0],
                "set": ["spam-set", "spam-set", "news", "news"],
            }
        )
        matrix = sp.csr_matrix(np.eye(4))
        config = TrainConfig(spam_negative_sets=("news",), spam_negative_weight=0.25)
        _, y, weights = _label_rows("spam", fit_rows, matrix, config)
        assert y.tolist() == [1, 0, 0, 0]
        assert weights[2] == pytest.approx(weights[1] / 4)
        _, _, toxic_weights = _label_rows("toxic", fit_rows, matrix, config)
        assert toxic_weights[0] == pytest.approx(toxic_weights[1])
