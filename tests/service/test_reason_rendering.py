"""Every kind of decision reason: its JSON in the CMS callback, its words on the page and in CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from core.db import session_scope
from core.policy import Policy, Thresholds, decide
from core.reasons import (
    REASON_TYPES,
    AppealReason,
    BelowThresholdsReason,
    BlocklistReason,
    LinksReason,
    ModeratorReason,
    Reason,
    ReplacesProvisionalReason,
    SanctionReason,
    ScoreReason,
    TrustReason,
    UndoReason,
    UnscoredReason,
    describe_reason,
)
from core.settings import Settings
from core.store import NewSource
from core.tables import Event
from tests.service.review_support import Account, add_comment, bearer, make_account, sign_in

# Each kind, the JSON the contract gives it (docs/cms-integration.md), and its words.
EXAMPLES: list[tuple[Reason, dict[str, Any], str]] = [
    (
        ScoreReason(label="toxic", score=0.91, threshold=0.5, outcome="flagged"),
        {"kind": "score", "label": "toxic", "score": 0.91, "threshold": 0.5, "outcome": "flagged"},
        "toxic scored 0.91 (threshold 0.5)",
    ),
    (
        BlocklistReason(term="watchword", matched="w a t c h w o r d", outcome="rejected"),
        {
            "kind": "blocklist",
            "term": "watchword",
            "matched": "w a t c h w o r d",
            "outcome": "rejected",
        },
        "blocked term: watchword (written “w a t c h w o r d”)",
    ),
    (
        LinksReason(count=3, limit=2, outcome="flagged"),
        {"kind": "links", "count": 3, "limit": 2, "outcome": "flagged"},
        "3 links (limit 2)",
    ),
    (
        BelowThresholdsReason(outcome="approved"),
        {"kind": "below_thresholds", "outcome": "approved"},
        "every score below its threshold",
    ),
    (
        ModeratorReason(reason_code="threat", outcome="rejected"),
        {"kind": "moderator", "reason_code": "threat", "outcome": "rejected"},
        "moderator: Threat of violence",
    ),
    (
        UndoReason(undoes=41, outcome="flagged"),
        {"kind": "undo", "undoes": 41, "outcome": "flagged"},
        "undo of decision 41",
    ),
    (
        SanctionReason(
            sanction="suspension", sanction_id=3, until="2026-12-11T12:00:00Z", outcome="rejected"
        ),
        {
            "kind": "sanction",
            "sanction": "suspension",
            "sanction_id": 3,
            "until": "2026-12-11T12:00:00Z",
            "outcome": "rejected",
        },
        "author suspended until 2026-12-11T12:00:00Z",
    ),
    (
        AppealReason(appeal_id=5, outcome="approved"),
        {"kind": "appeal", "appeal_id": 5, "outcome": "approved"},
        "appeal 5 granted by a second moderator",
    ),
    (
        TrustReason(approved=1, required=3, outcome="flagged"),
        {"kind": "trust", "approved": 1, "required": 3, "outcome": "flagged"},
        "new author: 1 of 3 approved comments needed",
    ),
    (
        UnscoredReason(wait_seconds=300, outcome="approved"),
        {"kind": "unscored", "wait_seconds": 300, "outcome": "approved"},
        "approved provisionally: not scored within 300 s",
    ),
    (
        UnscoredReason(wait_seconds=60, outcome="pending"),
        {"kind": "unscored", "wait_seconds": 60, "outcome": "pending"},
        "held: not scored within 60 s",
    ),
    (
        ReplacesProvisionalReason(replaces=17, outcome="flagged"),
        {"kind": "replaces_provisional", "replaces": 17, "outcome": "flagged"},
        "replaces the provisional approval (decision 17)",
    ),
]
KINDS = [json["kind"] for _, json, _ in EXAMPLES]


def test_reason_examples_cover_every_kind() -> None:
    assert sorted(set(KINDS)) == sorted(t.model_fields["kind"].default for t in REASON_TYPES)


@pytest.fixture
def moderator(settings: Settings) -> Account:
    return make_account(settings, "moderator")


Example = tuple[Reason, dict[str, Any], str]


@pytest.fixture(params=EXAMPLES, ids=KINDS)
def example(request: pytest.FixtureRequest) -> Example:
    """One kind of reason, its contract JSON and its words."""
    value: Example = request.param
    return value


@pytest.fixture
def decided(settings: Settings, source: NewSource, example: Example) -> str:
    """A comment decided for this example's reason alone; its id."""
    return add_comment(settings, source.source.id, reasons=[example[0]])


class TestReasonRendering:
    def test_reason_reaches_the_callback_in_its_contract_shape(
        self, settings: Settings, decided: str, example: Example
    ) -> None:
        with session_scope(settings) as session:
            event = session.query(Event).filter_by(comment_id=decided).one()
            assert event.payload["data"]["reasons"] == [example[1]]

    def test_reason_reads_back_as_the_same_words(self, example: Example) -> None:
        reason, as_json, words = example
        assert reason.describe() == describe_reason(as_json) == words

    def test_reason_in_words_on_the_queue_page(
        self, client: FlaskClient, moderator: Account, decided: str, example: Example
    ) -> None:
        sign_in(client, moderator)
        page = client.get("/moderate").get_data(as_text=True)
        assert f"<li>{example[2]}</li>" in page

    def test_reason_in_words_in_the_audit_csv(
        self, client: FlaskClient, moderator: Account, decided: str, example: Example
    ) -> None:
        response = client.get("/v1/review/audit.csv", headers=bearer(moderator))
        (row,) = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
        assert row["reasons"] == example[2]


def test_reason_of_an_unknown_kind_is_shown_by_its_name() -> None:
    assert describe_reason({"kind": "from_the_future", "x": 1}) == "from_the_future"


def test_a_score_reads_the_same_in_its_bar_and_its_reason(
    client: FlaskClient, settings: Settings, source: NewSource, moderator: Account
) -> None:
    # 0.914962 shows as 0.91; rounded to 0.915 first, the reason used to say 0.92.
    scores = {"toxic": 0.01, "identity_hate": 0.01, "threat": 0.01, "spam": 0.914962}
    outcome = decide(scores, "Great deals here", Policy(thresholds={"spam": Thresholds(flag=0.5)}))
    add_comment(settings, source.source.id, scores=scores, reasons=outcome.reasons)
    sign_in(client, moderator)
    page = client.get("/moderate").get_data(as_text=True)
    assert '<span class="num">0.91</span>' in page
    assert "<li>spam scored 0.91 (threshold 0.5)</li>" in page
    assert "0.92" not in page
