"""Comments stored and read back the way the web process does, for integration tests."""

from __future__ import annotations

from sqlalchemy import select

from core.db import session_scope
from core.settings import Settings
from core.sources import SourceChanges, update_source
from core.store import NewSource, create_source
from core.tables import Comment, Decision, Event
from core.tasks import SCORE_COMMENT
from service.queue import create_client
from tests.comments import incoming, receive
from tests.receiver import Receiver

BENIGN = "Thanks for the clear reporting on the council budget."
TOXIC = "You are a pathetic idiot, shut up and die"


def store_comment(settings: Settings, body: str, external_id: str = "cms-1") -> str:
    """A committed pending comment (what intake does before queueing); returns its id."""
    with session_scope(settings) as session:
        source = create_source(session, "Daily Planet").source
        comment = receive(
            session,
            source.id,
            incoming(body, external_id),
        )
        return comment.id


def queue_scoring(settings: Settings, comment_id: str) -> None:
    """Queue the task by name, the way the web process does."""
    create_client(settings).send_task(SCORE_COMMENT, args=[comment_id])


def status_of(settings: Settings, comment_id: str) -> str:
    with session_scope(settings) as session:
        return session.get_one(Comment, comment_id).status


def decided(settings: Settings, comment_id: str) -> str | None:
    status = status_of(settings, comment_id)
    return None if status == "pending" else status


def decisions_of(settings: Settings, comment_id: str) -> list[tuple[int, str, str]]:
    with session_scope(settings) as session:
        # In the order they were made (an index on (comment_id, actor) orders them otherwise).
        rows = session.scalars(
            select(Decision).where(Decision.comment_id == comment_id).order_by(Decision.id)
        )
        return [(d.revision, d.status, d.actor) for d in rows]


def events_of(settings: Settings, comment_id: str) -> list[str]:
    with session_scope(settings) as session:
        return list(session.scalars(select(Event.type).where(Event.comment_id == comment_id)))


def point_callbacks_at(settings: Settings, source: NewSource, receiver: Receiver) -> None:
    with session_scope(settings) as session:
        update_source(session, source.source.id, SourceChanges(callback_url=receiver.url))
