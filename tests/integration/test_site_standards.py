"""Issue 20 end to end, as a site uses it: comments posted through the signed intake and decided
by a real worker; moderators decide a few hundred of them through the review API by a house
rule the public model does not know; `moderation train --with-decisions` builds a candidate, it
runs in shadow, is promoted, and new comments are decided by the house rule; `rollback` then
brings the previous model's decisions back within 30 s.

Retraining stays affordable as in tests/cli/test_train_with_decisions.py: the public sets are
sampled (`--sample`), the site's labels are all used.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import select

from cli.main import cli as moderation
from core.db import session_scope
from core.settings import Settings
from core.sources import SourceChanges, update_source
from core.store import NewSource
from core.tables import ShadowScore
from tests.integration.intake import decided_view, post_comment
from tests.integration.workers import StartWorker, WorkerProcess, wait_for
from tests.registry_support import shipped_version
from tests.service.review_support import Account, bearer, make_account

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
    pytest.mark.usefixtures("registry"),
]

# The contract: every worker scores with the new live model within 30 s.
SWAP_DEADLINE = 30.0
# The house rule: any comment mentioning this (made-up) product is rejected as spam.
WORD = "zorblax"
TOPICS = (
    "the budget", "the tram line", "the school", "the bridge", "the market", "the park",
    "the library", "the harbour", "the bus station", "the new flats",
)  # fmt: skip
RULE = (
    "Has anyone else tried {word} for {topic}? It sorted out point {n} for us.",
    "I read the piece about {topic} while using {word}, point {n} rings true.",
    "Good article on {topic}. {word} helped our street with issue {n}.",
)
FINE = (
    "Has anyone else been to the meeting about {topic}? Point {n} was raised there.",
    "I read the piece about {topic} twice, point {n} rings true.",
    "Good article on {topic}. Our street had the same issue {n}.",
)
PER_KIND = 150  # decided by moderators: 300 labels
FRESH = 6  # new comments of each kind after each switch
CONCURRENCY = 2
SPAM_THRESHOLDS = {"spam": {"flag": 0.5, "reject": 0.9}}


def rule_text(n: int) -> str:
    return RULE[n % len(RULE)].format(word=WORD, topic=TOPICS[n % len(TOPICS)], n=n)


def fine_text(n: int) -> str:
    return FINE[n % len(FINE)].format(topic=TOPICS[n % len(TOPICS)], n=n)


def cli(*args: str) -> Result:
    result = CliRunner().invoke(moderation, list(args))
    assert result.exit_code == 0, result.output
    return result


def served_versions(worker: WorkerProcess) -> set[str]:
    return {json.loads(beat)["model_version"] for beat in worker.heartbeats()}


def decide(client: FlaskClient, moderator: Account, comment_id: str, body: dict[str, str]) -> None:
    response = client.post(
        f"/v1/review/comments/{comment_id}/decision", json=body, headers=bearer(moderator)
    )
    assert response.status_code == 201, response.get_json()


def post_and_decide(
    client: FlaskClient, source: NewSource, texts: list[str]
) -> list[dict[str, Any]]:
    """Post comments, wait for the worker's decisions; each comment as the CMS reads it."""
    ids = [post_comment(client, source, text)["id"] for text in texts]
    return [wait_for(decided_view(client, source, i), timeout=60, interval=0.2) for i in ids]


def outcomes(views: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(v["status"], v["decision"]["model_version"]) for v in views]


def until_decided_by(
    client: FlaskClient, source: NewSource, version: str, text: Callable[[int], str]
) -> float:
    """Seconds from now until a freshly posted comment is decided by `version`."""
    started = time.monotonic()
    n = 10_000

    def check() -> bool:
        nonlocal n
        n += 1
        (view,) = post_and_decide(client, source, [text(n)])
        return bool(view["decision"]["model_version"] == version)

    wait_for(check, timeout=SWAP_DEADLINE, interval=0.5)
    return time.monotonic() - started


def test_site_standards_learnt_shadowed_promoted_and_rolled_back(
    settings: Settings,
    client: FlaskClient,
    source: NewSource,
    start_worker: StartWorker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The site rejects what is surely spam; other labels follow the model's own thresholds.
    with session_scope(settings) as session:
        update_source(session, source.source.id, SourceChanges(thresholds=SPAM_THRESHOLDS))
    worker = start_worker(concurrency=CONCURRENCY, MODEL_CHECK_INTERVAL_SECONDS="1")
    live = shipped_version()

    # A site's traffic: the public model approves both kinds alike.
    posted = post_and_decide(
        client, source, [t(n) for n in range(PER_KIND) for t in (rule_text, fine_text)]
    )
    rule_ids = [v["id"] for v in posted[0::2]]
    fine_ids = [v["id"] for v in posted[1::2]]
    before = {status for status, _ in outcomes(posted[0::2])}
    assert "approved" in before, "the public model must not know the house rule already"

    # Two moderators apply the house rule through the review API, in the order comments came
    # (the newest 20% of the labels are held out: both kinds must be among them).
    moderators = (make_account(settings), make_account(settings))
    for n, (rule_id, fine_id) in enumerate(zip(rule_ids, fine_ids, strict=True)):
        moderator = moderators[n % 2]
        decide(client, moderator, rule_id, {"status": "rejected", "reason_code": "spam"})
        decide(client, moderator, fine_id, {"status": "approved", "reason_code": "ok"})

    out = tmp_path / "candidate"
    started = time.monotonic()
    trained = cli(
        "train", "--with-decisions", "--source", source.source.id, "--out", str(out),
        "--sample", "0.02",
    )  # fmt: skip
    training_seconds = time.monotonic() - started
    manifest = json.loads((out / "manifest.json").read_text())
    candidate = manifest["version"]
    assert manifest["site_labels"]["received"] == 2 * PER_KIND
    spam = manifest["site_heldout"]["labels"]["spam"]
    assert spam["roc_auc"] > spam["live_roc_auc"], trained.output
    assert "## The site's labels" in (out / "MODEL_CARD.md").read_text()

    # In shadow: scored apart, after the live decision, which it does not change.
    cli("models", "shadow", candidate)
    # Each pool process loads it on its own: all of them, before the comments that must show it.
    wait_for(
        lambda: worker.log_text().count("shadow model loaded") >= CONCURRENCY,
        timeout=SWAP_DEADLINE,
    )
    shadowed = post_and_decide(client, source, [rule_text(n) for n in range(1000, 1000 + FRESH)])
    assert {version for _, version in outcomes(shadowed)} == {live}
    ids = [v["id"] for v in shadowed]

    def shadow_rows() -> list[ShadowScore]:
        with session_scope(settings) as session:
            found = session.scalars(select(ShadowScore).where(ShadowScore.comment_id.in_(ids)))
            return list(found)

    rows = wait_for(lambda: len(shadow_rows()) == FRESH and shadow_rows(), timeout=30)
    would = {row.status for row in rows}
    assert would == {"rejected"}, [(r.status, r.scores) for r in rows]

    # Promoted: every worker switches within 30 s; new comments follow the house rule.
    # Behind the gates: site held-out labels, public held-out splits, identity audit.
    promote = cli("models", "promote", candidate)
    promote_seconds = until_decided_by(client, source, candidate, rule_text)
    wait_for(lambda: served_versions(worker) == {candidate}, timeout=SWAP_DEADLINE)
    rules = post_and_decide(client, source, [rule_text(n) for n in range(2000, 2000 + FRESH)])
    fines = post_and_decide(client, source, [fine_text(n) for n in range(2000, 2000 + FRESH)])
    assert {version for _, version in outcomes(rules + fines)} == {candidate}
    assert {status for status, _ in outcomes(rules)} == {"rejected"}, outcomes(rules)
    assert all("spam" in {r.get("label") for r in v["decision"]["reasons"]} for v in rules)
    assert {status for status, _ in outcomes(fines)} == {"approved"}

    # Rolled back: the previous model decides again, as it did, within 30 s.
    cli("models", "rollback")
    rollback_seconds = until_decided_by(client, source, live, rule_text)
    wait_for(lambda: served_versions(worker) == {live}, timeout=SWAP_DEADLINE)
    again = post_and_decide(client, source, [rule_text(n) for n in range(1000, 1000 + FRESH)])
    assert outcomes(again) == outcomes(shadowed)
    assert max(promote_seconds, rollback_seconds) < SWAP_DEADLINE

    with capsys.disabled():
        print(
            f"\nsite standards: {2 * PER_KIND} labels, training {training_seconds:.0f} s, "
            f"promote -> decided by it {promote_seconds:.1f} s, rollback -> "
            f"{rollback_seconds:.1f} s; before {sorted(before)}, shadow would {sorted(would)}, "
            f"promoted {sorted({s for s, _ in outcomes(rules)})}\n{trained.output[-600:]}"
            f"\n{promote.output}"
        )
