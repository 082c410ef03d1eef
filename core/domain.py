"""Domain vocabulary shared by the web process, the worker and the CLI."""

from __future__ import annotations

import enum

# The classifier's labels, in the order models.predict_proba returns them.
LABELS: tuple[str, ...] = ("toxic", "identity_hate", "threat", "spam")


class Status(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    FLAGGED = "flagged"
    REJECTED = "rejected"


DECIDED = frozenset({Status.APPROVED, Status.FLAGGED, Status.REJECTED})


class Actor(enum.StrEnum):
    """Who made a decision."""

    MODEL = "model"
    MODERATOR = "moderator"
    # The sweeper, when the scorer was down too long (core.unscored).
    SYSTEM = "system"


class Role(enum.StrEnum):
    MODERATOR = "moderator"
    ADMIN = "admin"


class EventType(enum.StrEnum):
    APPROVED = "comment.approved"
    FLAGGED = "comment.flagged"
    REJECTED = "comment.rejected"
    # Readers' reports reopened an approved comment, or a moderator settled them (core.reports).
    REPORTED = "comment.reported"
    # An author's appeal of a rejection was decided (core.appeals).
    APPEAL_RESOLVED = "comment.appeal_resolved"
    # Not scored within the source's wait and held pending (fail-closed, core.unscored).
    UNSCORED = "comment.unscored"
    # About an author rather than one comment (core.authors).
    AUTHOR_SUSPENDED = "author.suspended"
    AUTHOR_BANNED = "author.banned"
    AUTHOR_REINSTATED = "author.reinstated"
    AUTHOR_ERASED = "author.erased"

    @classmethod
    def for_status(cls, status: Status) -> EventType:
        return {
            Status.PENDING: cls.UNSCORED,
            Status.APPROVED: cls.APPROVED,
            Status.FLAGGED: cls.FLAGGED,
            Status.REJECTED: cls.REJECTED,
        }[status]


class UnscoredMode(enum.StrEnum):
    """What a source wants done with a comment the scorer has not decided within its wait."""

    # It stays pending (the CMS hears comment.unscored) until a worker decides it.
    CLOSED = "fail-closed"
    # It is approved provisionally, then scored and decided again when a worker is back.
    OPEN = "fail-open"


class Unscored(enum.StrEnum):
    """A comment's state past its source's wait without a model decision (comments.unscored)."""

    HELD = "held"
    PROVISIONAL = "provisional"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


def utf16_length(text: str) -> int:
    """Length as a browser's maxlength counts it: UTF-16 code units (non-BMP emoji count 2)."""
    return len(text.encode("utf-16-le")) // 2
