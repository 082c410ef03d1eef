"""Request and response shapes of the intake and comment API (pydantic); also the OpenAPI spec."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import email_validator
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    IPvAnyAddress,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from core.domain import utf16_length

DEFAULT_MAX_BODY_CHARS = 1500
# Context key of model_validate(..., context=...) carrying the source's body limit.
MAX_BODY_CHARS = "max_body_chars"

_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)

View = TypeVar("View", bound=BaseModel)


def from_row(model: type[View], row: object, **computed: Any) -> View:
    """An answer built from a stored row: each required field not in `computed` is the row's
    attribute of the same name; a field with a default is the default unless computed gives it."""
    copied = {
        name: getattr(row, name)
        for name, field in model.model_fields.items()
        if field.is_required() and name not in computed
    }
    return model.model_validate(copied | computed)


def _plain_text(value: str) -> str:
    """Refuse what a database cannot store or a moderator cannot see: NUL, lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


def _http_url(value: str) -> str:
    """Check an absolute http(s) URL but keep the CMS's spelling of it."""
    if not re.fullmatch(HTTP_URL_PATTERN, value):
        raise ValueError("must be an absolute http(s) URL with a host name, in printable ASCII")
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"]) from None
    return value


def _utc(value: datetime) -> datetime:
    """A timestamp without an offset is taken as UTC (what CMSs that omit it mean)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # E.g. 0001-01-01T00:30+01:00: its UTC time falls outside the years 1 to 9999.
        raise ValueError(
            f"must be between {datetime.min.isoformat()}Z and {datetime.max.isoformat()}Z in UTC"
        ) from None


PlainText = AfterValidator(_plain_text)
# What the schema says of every plain text: no NUL (lone surrogates JSON Schema cannot express).
NO_NUL_PATTERN = "^[^\\x00]*$"
NO_NUL: dict[str, Any] = {"pattern": NO_NUL_PATTERN}
# An absolute http(s) URL whose host is a name (its last label starts with a letter, so it is
# never read as an IPv4 address) and whose rest is printable ASCII: published as the schema's
# pattern and checked before the URL parser, so the document and the code accept the same.
HTTP_URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9-]{1,63}\.)*[A-Za-z][A-Za-z0-9-]{0,62}"
    r"(:[0-9]{1,4})?([/?#][!-~]*)?$"
)
# Strings bounded to what the tables hold, free of NUL and lone surrogates.
Id = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=NO_NUL), PlainText]
OptionalId = Annotated[str, Field(max_length=200, json_schema_extra=NO_NUL), PlainText]
Name = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=NO_NUL), PlainText]
Title = Annotated[str, Field(max_length=500, json_schema_extra=NO_NUL), PlainText]
UserAgent = Annotated[str, Field(max_length=500, json_schema_extra=NO_NUL), PlainText]
Language = Annotated[str, Field(max_length=20, json_schema_extra=NO_NUL), PlainText]
# The request size limit bounds the body; its real limit is checked after trimming.
BodyText = Annotated[
    str,
    Field(
        max_length=65536,
        json_schema_extra={
            # Not only whitespace, no NUL; at most the source's max_body_chars (default shown)
            # UTF-16 code units once trimmed.
            "allOf": [{"pattern": NO_NUL_PATTERN}, {"pattern": "\\S"}],
            "maxLength": DEFAULT_MAX_BODY_CHARS,
            "description": "At most the source's max_body_chars (default 1500) UTF-16 code "
            "units after trimming; not only whitespace",
        },
    ),
    PlainText,
]
HttpUrlText = Annotated[
    str,
    Field(max_length=2000, json_schema_extra={"pattern": HTTP_URL_PATTERN}),
    AfterValidator(_http_url),
]


def _integral(value: Any) -> Any:
    """JSON Schema's integer includes 5.0; a boolean is no number at all (strict refuses it)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# After a Field(strict=True, ...): a JSON integer is 5 or 5.0, never true, false or "5". (Placed
# after the Field so the schema keeps its minimum and maximum.)
Integral = BeforeValidator(_integral)
# The schema names the two standard formats (pydantic's "ipvanyaddress" is no known format).
IpAddress = Annotated[
    IPvAnyAddress,
    WithJsonSchema({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}),
]
# email_validator refuses special-use domains (.test, .local, ...): the schema says so too.
SPECIAL_USE_EMAIL_DOMAIN = (
    "@(.*\\.)?("
    + "|".join(
        "".join(f"[{c.lower()}{c.upper()}]" for c in name)
        for name in email_validator.SPECIAL_USE_DOMAIN_NAMES
    )
    + ")$"
)
Email = Annotated[
    EmailStr,
    Field(max_length=320, json_schema_extra={"not": {"pattern": SPECIAL_USE_EMAIL_DOMAIN}}),
]
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class IncomingThread(BaseModel):
    """The article or page a comment belongs to."""

    model_config = ConfigDict(extra="ignore")

    id: Id
    url: HttpUrlText | None = None
    title: Title | None = None


class IncomingAuthor(BaseModel):
    """Who wrote the comment, as the CMS knows them."""

    model_config = ConfigDict(extra="ignore")

    name: Name
    email: Email
    id: OptionalId | None = None


class IncomingComment(BaseModel):
    """The intake webhook's body (DESIGN.md); unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: Id
    thread: IncomingThread
    author: IncomingAuthor
    # Trimmed, then 1..source.max_body_chars UTF-16 code units (like a browser's maxlength).
    body: BodyText
    parent_id: OptionalId | None = None
    created_at: UtcDatetime | None = None
    ip: IpAddress | None = None
    user_agent: UserAgent | None = None
    language: Language | None = None

    @field_validator("body")
    @classmethod
    def _body_length(cls, value: str, info: ValidationInfo) -> str:
        limit = int((info.context or {}).get(MAX_BODY_CHARS, DEFAULT_MAX_BODY_CHARS))
        trimmed = value.strip()
        if not trimmed:
            raise ValueError("must not be empty or only whitespace")
        length = utf16_length(trimmed)
        if length > limit:
            raise ValueError(f"must be at most {limit} characters after trimming, got {length}")
        return trimmed


class FieldError(BaseModel):
    field: str
    message: str


def field_errors(error: ValidationError) -> list[FieldError]:
    """Every bad field of a validation error, named by its dotted path ("author.email")."""
    errors: list[FieldError] = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "(body)"
        message = item["msg"].removeprefix("Value error, ")
        errors.append(FieldError(field=field, message=message))
    return errors


class Links(BaseModel):
    self: str


class AcceptedComment(BaseModel):
    """202: stored and queued for scoring (a new comment, or a new revision of one)."""

    id: str
    status: str
    revision: int
    links: Links


class RevisionView(BaseModel):
    number: int
    received_at: datetime
    body: str


class StatementOfReasons(BaseModel):
    """Why a comment was rejected, for its author (EU DSA article 17)."""

    automated: bool = Field(description="true: the model decided; false: a moderator")
    ground: str = Field(
        description="The label, rule or reason code that decided: toxic, identity_hate, threat, "
        "spam, blocklist, suspension, ban, or a moderator's reject reason code"
    )
    text: str = Field(description="For the author, from the source's template for the ground")
    appeal_url: str | None = Field(description="Where the author appeals (the source's setting)")


class DecisionView(BaseModel):
    """One status change and what made it: the model (version, policy) or a moderator."""

    status: str
    previous_status: str
    actor: str
    revision: int
    model_version: str | None
    moderator_id: int | None
    scores: dict[str, float] | None
    reasons: list[dict[str, Any]]
    policy: dict[str, Any] | None
    reason_code: str | None
    note: str | None
    statement_of_reasons: StatementOfReasons | None = Field(
        description="Set on a rejection, null otherwise"
    )
    created_at: datetime


class ThreadView(BaseModel):
    id: str
    url: str | None
    title: str | None


class CommentView(BaseModel):
    """A comment as its source may read it: status, scores, decision and history."""

    id: str
    external_id: str
    source_id: str
    status: str
    revision: int
    body: str
    thread: ThreadView
    parent_id: str | None
    scores: dict[str, float] | None
    highlights: list[list[int]] | None
    decision: DecisionView | None
    decisions: list[DecisionView]
    revisions: list[RevisionView]
    created_at: datetime | None
    received_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    links: Links


class AppealAuthor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Id


AppealText = Annotated[
    str,
    Field(
        max_length=65536,
        json_schema_extra={
            "allOf": [{"pattern": NO_NUL_PATTERN}, {"pattern": "\\S"}],
            "maxLength": 1500,
            "description": "At most 1500 UTF-16 code units after trimming; not only whitespace",
        },
    ),
    PlainText,
]


class IncomingAppeal(BaseModel):
    """An author's appeal of the comment's rejection, forwarded by the CMS (signed)."""

    model_config = ConfigDict(extra="ignore")

    author: AppealAuthor
    text: AppealText

    @field_validator("text")
    @classmethod
    def _text_length(cls, value: str) -> str:
        trimmed = value.strip()
        if not trimmed:
            raise ValueError("must not be empty or only whitespace")
        if utf16_length(trimmed) > 1500:
            raise ValueError("must be at most 1500 characters after trimming")
        return trimmed


class AcceptedAppeal(BaseModel):
    """202: the appeal waits for a second moderator."""

    id: int
    comment_id: str
    decision_id: int = Field(description="The rejection appealed")
    state: Literal["open"]


class Reporter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Id


ReportReason = Literal[
    "abusive", "hate", "threat", "spam", "harassment", "personal_info", "off_topic", "other"
]
ReportText = Annotated[str, Field(max_length=500, json_schema_extra=NO_NUL), PlainText]


class IncomingReport(BaseModel):
    """A reader's report of a comment, forwarded by the CMS (signed)."""

    model_config = ConfigDict(extra="ignore")

    reporter: Reporter
    reason: ReportReason
    text: ReportText | None = None


class AcceptedReport(BaseModel):
    """202: the report is stored; `reopened` when it brought the comment back for review."""

    id: int
    comment_id: str
    weight: float = Field(description="What this reader's report counts for")
    reopened: bool
