"""Review test helpers: accounts, signed-in clients, comments decided as the model would."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient

from core.accounts import create_user, mint_token
from core.db import session_scope
from core.domain import Status
from core.explanations import explain_outcome
from core.moderation import score_text
from core.reasons import Reason, ScoreReason
from core.settings import Settings
from core.store import IncomingComment, record_decision
from core.tables import Comment, Source
from tests.comments import receive

PASSWORD = "correct horse battery staple"
XSS_BODY = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    password: str
    token: str


def make_account(settings: Settings, role: str = "moderator", email: str | None = None) -> Account:
    email = email or f"{role}-{uuid.uuid4().hex[:6]}@example.org"
    with session_scope(settings) as session:
        user = create_user(session, email, role, PASSWORD)
        token = mint_token(session, user, "tests").token
        return Account(id=user.id, email=user.email, password=PASSWORD, token=token)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page hands out to this client's session."""
    page = client.get(path)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, f"no csrf token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, account: Account) -> None:
    response = client.post(
        "/login",
        data={
            "email": account.email,
            "password": account.password,
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def add_comment(
    settings: Settings,
    source_id: str,
    *,
    status: Status = Status.FLAGGED,
    scores: dict[str, float] | None = None,
    body: str = "You are an idiot and this article is rubbish.",
    highlights: list[list[int]] | None = None,
    author: str = "Reader",
    author_id: str | None = None,
    thread: str = "article-7",
    thread_url: str | None = "https://news.example.org/a/7",
    parent: str | None = None,
    external_id: str | None = None,
    reasons: list[Reason] | None = None,
    **fields: Any,
) -> str:
    """A comment received from the CMS and decided by the model; returns its id."""
    with session_scope(settings) as session:
        source = session.get(Source, source_id)
        assert source is not None
        comment = receive(
            session,
            source.id,
            IncomingComment(
                external_id=external_id or f"cms-{uuid.uuid4().hex[:8]}",
                thread_id=thread,
                thread_url=thread_url,
                thread_title=f"Title of {thread}",
                author_name=author,
                author_email=f"{author.lower()}@example.org",
                author_id=author_id or "u-" + author.lower().replace(" ", "-"),
                body=body,
                parent_external_id=parent,
                **fields,
            ),
        )
        if status is not Status.PENDING:
            scores = scores if scores is not None else {"toxic": 0.9, "spam": 0.1}
            comment.highlights = highlights
            record_decision(
                session,
                comment,
                status,
                actor="model",
                reasons=reasons
                or [
                    ScoreReason(
                        label=max(scores, key=lambda k: scores[k]),
                        score=max(scores.values()),
                        threshold=0.5,
                        outcome=status.value,
                    )
                ],
                scores=scores,
                model_version="test-model-1",
            )
        return comment.id


def bearer(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def explain_with_shipped_model(settings: Settings, comment_id: str) -> dict[str, Any]:
    """Store on a comment its scores and the explanation the shipped model gives, as the worker
    does when it flags one; returns the explanation."""
    import models  # scikit-learn: only the tests that explain pay for the import

    classifier = models.load()
    with session_scope(settings) as session:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        comment.scores = score_text(classifier, comment.body)
        explanation = explain_outcome(classifier, comment.body, Status.FLAGGED)
        assert explanation, "the shipped model explains a flagged comment"
        comment.explanation = explanation
        return explanation
