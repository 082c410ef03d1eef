"""The site's labels in a retrain: de-duplicated, split by time, the held-out part never
trained or tuned on, the weight chosen on validation, figures in the manifest's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from models.site_labels import (
    WEIGHT_GRID,
    retrain_with_site,
    site_counts,
    site_frame,
    site_heldout,
    split_site,
)
from models.textnorm import normalised_text
from tests.models.tiny_model import tiny_classifier, tiny_frame

LABELS = ("toxic", "identity_hate", "threat", "spam")
START = datetime(2026, 10, 1, tzinfo=UTC)


def row(text: str, minutes: int, toxic: int | None, reason: str = "toxic") -> dict[str, Any]:
    labels = {"toxic": toxic} if toxic == 1 else dict.fromkeys(LABELS, 0)
    return {
        "text": text,
        **(labels if toxic is not None else {}),
        "decided_at": (START + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "reason_code": reason if toxic else "ok",
        "source": "src_1",
        "comment_id": f"cmt_{minutes}",
    }


def house_rule_rows(n: int) -> list[dict[str, Any]]:
    """A rule the tiny model does not know: anything about turnips is toxic."""
    rows = []
    for i in range(n):
        rows.append(row(f"turnips are on the menu again, note {i}", 2 * i, 1))
        rows.append(row(f"carrots are on the menu again, note {i}", 2 * i + 1, 0))
    return rows


def test_split_leaves_out_public_texts_and_older_repeats_then_cuts_by_time() -> None:
    rows = [row(f"comment number {i}", i, i % 2) for i in range(20)]
    rows.append(row("what a article about the city today", 30, 1))  # a public text
    rows.append(row("comment number 3", 40, 0))  # decided again later: this one counts
    public = {normalised_text("what a article about the city today")}
    split = split_site(site_frame(rows, LABELS), public)
    assert (split.received, split.public_duplicates, split.repeated) == (22, 1, 1)
    assert [len(p) for p in split.parts().values()] == [12, 4, 4]
    assert split.heldout["comment_id"].tolist() == ["cmt_17", "cmt_18", "cmt_19", "cmt_40"]
    newest_trained = max(split.train["decided_at"].max(), split.validation["decided_at"].max())
    assert newest_trained < split.heldout["decided_at"].min()
    assert split.validation["decided_at"].min() > split.train["decided_at"].max()
    counts = site_counts(split, LABELS)
    assert counts["rows"] == {"train": 12, "validation": 4, "heldout": 4}
    assert counts["labels"]["toxic"]["heldout"] == {"positives": 2, "negatives": 2}
    assert counts["labels"]["spam"]["train"]["positives"] == 0
    assert counts["reasons"]["ok"]["heldout"] == 2


@pytest.fixture(scope="module")
def live() -> Any:
    return tiny_classifier()


def test_the_house_rule_is_learnt_and_compared_on_held_out_labels(live: Any) -> None:
    site = site_frame(house_rule_rows(40), LABELS)
    run = retrain_with_site(live, {}, tiny_frame(), site)
    assert run.weight in WEIGHT_GRID and len(run.tried) == len(WEIGHT_GRID)
    assert run.classifier.version.startswith("site-")
    section = site_heldout(live, run.classifier, run.split.heldout, live.version)
    toxic = section["labels"]["toxic"]
    assert section["n"] == 16 and toxic["n"] == 16 and toxic["positives"] == 8
    assert toxic["roc_auc"] > toxic["live_roc_auc"]
    assert toxic["difference_low"] > 0
    probabilities = run.classifier.predict_proba(["turnips again", "carrots again"])[:, 0]
    assert probabilities[0] > probabilities[1]
    # The live model is left as it was.
    assert live.predict_proba(["turnips again"])[0, 0] == pytest.approx(
        tiny_classifier().predict_proba(["turnips again"])[0, 0]
    )


def test_held_out_labels_change_nothing_in_the_candidate(live: Any) -> None:
    rows = house_rule_rows(40)
    flipped = [dict(r) for r in rows]
    for r in flipped[-16:]:  # the newest 20%: the held-out part
        r["toxic"] = 1 - r["toxic"]
    first = retrain_with_site(live, {}, tiny_frame(), site_frame(rows, LABELS))
    second = retrain_with_site(live, {}, tiny_frame(), site_frame(flipped, LABELS))
    assert np.array_equal(first.classifier.coef, second.classifier.coef)
    assert first.classifier.thresholds == second.classifier.thresholds
    assert first.weight == second.weight
    assert first.classifier.version == second.classifier.version


def test_site_labels_that_are_all_public_texts_are_refused(live: Any) -> None:
    public = tiny_frame()
    rows = [row(text, i, 1) for i, text in enumerate(public["text"][:10])]
    with pytest.raises(ValueError, match="no site labels left to train on: 10 received, 10 are"):
        retrain_with_site(live, {}, public, site_frame(rows, LABELS))
