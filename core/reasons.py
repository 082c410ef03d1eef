"""Why a comment was decided: one type per kind of reason, each with one way to say itself.

A decision stores its reasons as JSON (`to_json`), and the CMS callback carries that JSON as it
is (the shapes are documented in docs/cms-integration.md); the moderator pages and the audit CSV
read it back (`reason_from_json`) and print `describe()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

# Why a moderator rejected (or approved) a comment: code -> words shown in the page.
REJECT_REASONS: dict[str, str] = {
    "toxic": "Rude or abusive",
    "hate": "Attacks a group (identity hate)",
    "threat": "Threat of violence",
    "spam": "Spam or scam",
    "harassment": "Harassment of a person",
    "personal_info": "Shares personal information",
    "off_topic": "Off topic",
    "other": "Other (see note)",
}
APPROVE_REASONS: dict[str, str] = {
    "ok": "Acceptable",
    "false_positive": "Model was wrong",
    "context": "Fine in context",
}


class Reason(BaseModel):
    """One reason of a decision; `kind` names its type in JSON."""

    model_config = ConfigDict(frozen=True)

    def to_json(self) -> dict[str, Any]:
        """The stored and delivered form: {"kind": ..., fields...}."""
        return self.model_dump(mode="json")

    def describe(self) -> str:
        raise NotImplementedError


class ScoreReason(Reason):
    """A label scored at or above its flag or reject threshold."""

    kind: Literal["score"] = "score"
    label: str
    score: float
    threshold: float
    outcome: str

    def describe(self) -> str:
        return f"{self.label} scored {self.score:.2f} (threshold {self.threshold})"


class BlocklistReason(Reason):
    """A term of the source's blocklist occurs in the text."""

    kind: Literal["blocklist"] = "blocklist"
    term: str
    # What the reader wrote that the term matched ("c a s i n o" for `casino`), when known.
    matched: str | None = None
    outcome: str

    def describe(self) -> str:
        if self.matched and self.matched.casefold() != self.term.casefold():
            return f"blocked term: {self.term} (written “{self.matched}”)"
        return f"blocked term: {self.term}"


class LinksReason(Reason):
    """More links than the source allows."""

    kind: Literal["links"] = "links"
    count: int
    limit: int
    outcome: str = "flagged"

    def describe(self) -> str:
        return f"{self.count} links (limit {self.limit})"


class BelowThresholdsReason(Reason):
    """Nothing called for a flag or a rejection."""

    kind: Literal["below_thresholds"] = "below_thresholds"
    outcome: str = "approved"

    def describe(self) -> str:
        return "every score below its threshold"


class ModeratorReason(Reason):
    """A moderator decided, with one of the reason codes above (or none)."""

    kind: Literal["moderator"] = "moderator"
    reason_code: str | None
    outcome: str

    def describe(self) -> str:
        code = self.reason_code or ""
        words = REJECT_REASONS.get(code) or APPROVE_REASONS.get(code)
        return f"moderator: {words or code or self.outcome}"


class UndoReason(Reason):
    """A moderator took back their own decision `undoes`."""

    kind: Literal["undo"] = "undo"
    undoes: int
    outcome: str

    def describe(self) -> str:
        return f"undo of decision {self.undoes}"


class SanctionReason(Reason):
    """The author was suspended (until `until`) or banned at the comment's source."""

    kind: Literal["sanction"] = "sanction"
    sanction: Literal["suspension", "ban"]
    sanction_id: int
    until: str | None = None
    outcome: str

    def describe(self) -> str:
        if self.sanction == "ban":
            return "author banned"
        return f"author suspended until {self.until}"


class AppealReason(Reason):
    """A second moderator granted the author's appeal `appeal_id`: the rejection is undone."""

    kind: Literal["appeal"] = "appeal"
    appeal_id: int
    outcome: str

    def describe(self) -> str:
        return f"appeal {self.appeal_id} granted by a second moderator"


class TrustReason(Reason):
    """The author is new at the source (fewer approved comments than it requires), so the
    model's approval became a flag for a person."""

    kind: Literal["trust"] = "trust"
    approved: int
    required: int
    outcome: str

    def describe(self) -> str:
        return f"new author: {self.approved} of {self.required} approved comments needed"


class UnscoredReason(Reason):
    """The scorer did not decide the comment within its source's wait: approved provisionally
    (fail-open) or held pending (fail-closed) until a worker scores it."""

    kind: Literal["unscored"] = "unscored"
    wait_seconds: int
    outcome: str

    def describe(self) -> str:
        if self.outcome == "approved":
            return f"approved provisionally: not scored within {self.wait_seconds} s"
        return f"held: not scored within {self.wait_seconds} s"


class ReplacesProvisionalReason(Reason):
    """The model's decision that replaced the provisional approval `replaces` (a decision id)."""

    kind: Literal["replaces_provisional"] = "replaces_provisional"
    replaces: int
    outcome: str

    def describe(self) -> str:
        return f"replaces the provisional approval (decision {self.replaces})"


class UnreadableReason(Reason):
    """A stored reason none of the types above reads (kept readable rather than failing a page)."""

    kind: str

    def describe(self) -> str:
        return self.kind


_KnownReason = Annotated[
    ScoreReason
    | BlocklistReason
    | LinksReason
    | BelowThresholdsReason
    | ModeratorReason
    | UndoReason
    | SanctionReason
    | AppealReason
    | TrustReason
    | UnscoredReason
    | ReplacesProvisionalReason,
    Field(discriminator="kind"),
]
REASON_TYPES: tuple[type[Reason], ...] = (
    ScoreReason,
    BlocklistReason,
    LinksReason,
    BelowThresholdsReason,
    ModeratorReason,
    UndoReason,
    SanctionReason,
    AppealReason,
    TrustReason,
    UnscoredReason,
    ReplacesProvisionalReason,
)
_READER: TypeAdapter[_KnownReason] = TypeAdapter(_KnownReason)


def reason_from_json(data: Mapping[str, Any]) -> Reason:
    """The typed reason a stored one stands for."""
    try:
        return _READER.validate_python(data)
    except ValidationError:
        return UnreadableReason(kind=str(data.get("kind")))


def describe_reason(reason: Mapping[str, Any]) -> str:
    """A stored reason in words, as the moderator pages and the audit CSV print it."""
    return reason_from_json(reason).describe()


def describe_reasons(reasons: Sequence[Mapping[str, Any]]) -> list[str]:
    """Stored reasons in words, in order."""
    return [describe_reason(r) for r in reasons]
