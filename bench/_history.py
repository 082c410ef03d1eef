"""A seeded comment history for a source: scored comments, the model's decisions and some
moderator decisions, written in bulk (the what-if benchmark and the policy tests share it).

Scores follow skewed beta distributions per label; a moderator's verdict is drawn from the
score (a comment scoring 0.8 on toxic is toxic four times in five), so precision rises with the
score as it does on a real site. The model's decisions are what core.policy.decide says under
the source's policy at seeding time.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from core.domain import LABELS
from core.policy import Policy, decide
from core.tables import Comment, Decision

# Beta(a, b) per label: most comments score low, a tail scores high (about one comment in ten
# crosses a flag threshold near 0.4, as on a news site).
SCORE_SHAPES = {"toxic": (0.5, 5.0), "identity_hate": (0.3, 8.0), "threat": (0.3, 10.0)}
SPAM_SHAPE = (0.3, 8.0)
# (body, weight). Disguised rule hits ("c a s i n o", "example dot com") are there so that the
# what-if's rules and decide() are compared on them too (tests/core/test_whatif.py).
BODIES = (
    ("Thanks for the clear reporting on the council budget.", 40),
    ("I disagree with the mayor, but this piece is fair.", 40),
    ("Who decided this? The article leaves out the vote count.", 40),
    ("Best casino bonuses here, sign up today", 2),
    ("Best c a s i n o and ca$ino bonuses, see example dot com and hxxp://x.example", 2),
    ("Sources: https://a.example/1 https://b.example/2 www.c.example/3", 3),
)
# Reject reason code per label, as a moderator picks it (core.labels maps them back).
REJECT_REASON = {"toxic": "toxic", "identity_hate": "hate", "threat": "threat", "spam": "spam"}
CHUNK = 5000
_TEXTS = [text for text, _ in BODIES]
_WEIGHTS = [weight for _, weight in BODIES]


@dataclass(frozen=True)
class SeededHistory:
    comments: int
    labelled: int


def _scores(rng: random.Random) -> dict[str, float]:
    scores = {label: rng.betavariate(*SCORE_SHAPES[label]) for label in SCORE_SHAPES}
    scores["spam"] = rng.betavariate(*SPAM_SHAPE)
    return {label: round(scores[label], 6) for label in LABELS}


def _verdict(rng: random.Random, scores: dict[str, float]) -> tuple[str, str | None]:
    """A moderator's decision: rejected for the first label that is truly there, else approved."""
    for label in LABELS:
        if rng.random() < scores[label]:
            return "rejected", REJECT_REASON[label]
    return "approved", None


def seed_history(
    session: Session,
    source_id: str,
    policy: Policy,
    n: int,
    *,
    now: datetime,
    days: int = 30,
    seed: int = 7,
    label_flagged: float = 0.9,
    label_others: float = 0.02,
) -> SeededHistory:
    """`n` comments spread over the `days` days before `now`, decided by the model under
    `policy`; moderators decided a share of the flagged ones and a few others."""
    rng = random.Random(seed)
    comments: list[dict[str, Any]] = []
    decisions: list[dict[str, Any]] = []
    labelled = 0
    for i in range(n):
        comment_id = f"cmt_{source_id[-8:]}_{seed}_{i:07d}"
        body = rng.choices(_TEXTS, _WEIGHTS)[0] + f" #{i}"
        scores = _scores(rng)
        received = now - timedelta(seconds=rng.uniform(60, days * 86400 - 60))
        status = decide(scores, body, policy).status.value
        final = status
        decisions.append(
            {
                "comment_id": comment_id,
                "revision": 1,
                "previous_status": "pending",
                "status": status,
                "actor": "model",
                "model_version": "seeded-1",
                "scores": scores,
                "policy": policy.describe(),
                "reasons": [],
                "created_at": received + timedelta(seconds=1),
            }
        )
        share = label_flagged if status != "approved" else label_others
        if rng.random() < share:
            final, reason_code = _verdict(rng, scores)
            labelled += 1
            decisions.append(
                {
                    "comment_id": comment_id,
                    "revision": 1,
                    "previous_status": status,
                    "status": final,
                    "actor": "moderator",
                    "reasons": [],
                    "reason_code": reason_code,
                    "created_at": received + timedelta(seconds=30),
                }
            )
        comments.append(
            {
                "id": comment_id,
                "source_id": source_id,
                "external_id": f"cms-{seed}-{i}",
                "thread_id": f"article-{i % 50}",
                "author_name": "Reader",
                "author_email": f"reader{i % 500}@example.org",
                "body": body,
                "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
                "revision": 1,
                "status": final,
                "scores": scores,
                "event_seq": 1,
                "received_at": received,
                "updated_at": received,
                "decided_at": received + timedelta(seconds=1),
            }
        )
    for start in range(0, n, CHUNK):
        session.execute(insert(Comment), comments[start : start + CHUNK])
    for start in range(0, len(decisions), CHUNK):
        session.execute(insert(Decision), decisions[start : start + CHUNK])
    session.flush()
    return SeededHistory(comments=n, labelled=labelled)
