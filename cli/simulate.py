"""`moderation simulate`: a reference CMS in one command, to prove an integration end to end.

It serves a callback receiver on 127.0.0.1 that verifies every signature with the
standardwebhooks library, posts N signed comments to a running service at a chosen rate, waits
for the decisions to come back, and reports accepted / decided / delivered and the latency from
post to callback. Its code doubles as the example a CMS developer can copy.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import click
import httpx
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from core.domain import utf16_length

MAX_BODY_UTF16 = 1500
# Intake answers worth retrying (rate limited, database briefly unavailable), honouring
# Retry-After; network errors are retried too. Every other answer is final.
RETRY_STATUSES = frozenset({429, 503})
MAX_POST_ATTEMPTS = 8
MAX_RETRY_WAIT_SECONDS = 60.0
# Reader comments under a news article about a council budget vote: mostly ordinary, a few
# rude, hateful, threatening or spammy ones, as a real comment section has. Each carries its
# kind: what a moderator would decide ("ordinary" is approved; any other kind is flagged for
# that label), and tests/models check that the shipped model decides them so.
SampleKind = Literal["ordinary", "toxic", "identity_hate", "threat", "spam"]


@dataclass(frozen=True)
class Sample:
    kind: SampleKind
    text: str


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "ordinary",
        "Thanks for the clear reporting on the council budget. "
        "The table of cuts was really useful.",
    ),
    Sample(
        "ordinary", "I went to the meeting last night and this matches what was said. Good summary."
    ),
    Sample("ordinary", "Does anyone know whether the library hours are affected by this?"),
    Sample(
        "ordinary",
        "The article says 4% but the council's own document says 3.8%. Minor, but worth fixing.",
    ),
    Sample(
        "ordinary",
        "My kids' school lost its crossing guard last year. I hope this budget brings it back.",
    ),
    Sample(
        "ordinary",
        "Interesting that nobody from the opposition was quoted. Was anyone asked for comment?",
    ),
    Sample(
        "ordinary",
        "Honestly this is the first time I've understood how the rates are calculated. Thank you.",
    ),
    Sample(
        "ordinary", "I disagree with the editorial line here, but the facts are laid out fairly."
    ),
    Sample(
        "ordinary", "Parking fees going up again? Small businesses on the high street will feel it."
    ),
    Sample(
        "ordinary",
        "Could you do a follow-up on the pothole budget? Our road has been waiting two years.",
    ),
    Sample(
        "ordinary", "Well researched. I'd like to see the same analysis for the county council."
    ),
    Sample("ordinary", "The vote is on Thursday at 7pm for anyone who wants to attend in person."),
    Sample("ordinary", "Nice to see local journalism that actually reads the documents."),
    Sample("ordinary", "I'm a retired accountant and the numbers check out, for what it's worth."),
    Sample("ordinary", "Why is the leisure centre always the first thing they cut?"),
    Sample(
        "ordinary",
        "My neighbour works for the council and says the consultation was rushed. Worth a look.",
    ),
    Sample("ordinary", "Great piece. Shared it with our residents' association."),
    Sample(
        "ordinary", "The chart on page two is hard to read on a phone, could you make it bigger?"
    ),
    Sample("ordinary", "Can we get the full list of councillors who voted for it?"),
    Sample("ordinary", "This is a balanced article. Both sides get their say."),
    Sample("toxic", "You are a pathetic idiot, shut up and die."),
    Sample("toxic", "Only a moron would write this garbage. Go back to school, you clown."),
    Sample("identity_hate", "People like them should be driven out of this town, they are vermin."),
    Sample("threat", "Somebody should burn the council offices down with them inside."),
    Sample(
        "spam",
        "BEST CRYPTO SIGNALS!!! Earn $5000 a week from home, "
        "join now www.quick-cash-crypto.example",
    ),
    Sample(
        "spam",
        "Cheap watches and handbags, free shipping: http://replica-deals.example http://deals2.example",
    ),
    Sample("toxic", "The councillor quoted here is an utter disgrace and a liar."),
    Sample("ordinary", "Does the budget include the new cycle lanes promised last spring?"),
    Sample("ordinary", "I appreciate that you linked the original report. More of this please."),
    Sample(
        "ordinary", "Our street was flooded twice this winter; drainage should be the priority."
    ),
    Sample("ordinary", "I'll believe the promised savings when I see them."),
    Sample("ordinary", "Good to see the youth club funding protected."),
    Sample("ordinary", "The author clearly did their homework on this one."),
    Sample("ordinary", "Is there a recording of the meeting available anywhere?"),
    Sample(
        "ordinary", "Fair summary, though I think the pension liabilities deserved a paragraph."
    ),
    Sample("ordinary", "Another tax rise dressed up as 'investment'. Same every year."),
    Sample("ordinary", "Thanks, this helped me write to my councillor."),
    Sample("ordinary", "Could the paper publish the consultation responses as well?"),
    Sample(
        "spam", "Click here to win a free iPhone!!! limited offer www.free-phone-winner.example"
    ),
    Sample("toxic", "Shut up, nobody cares about your stupid opinion, idiot."),
)
SAMPLE_COMMENTS: tuple[str, ...] = tuple(sample.text for sample in SAMPLES)


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def trimmed(text: str, limit: int = MAX_BODY_UTF16) -> str:
    """At most `limit` UTF-16 units, as the intake counts them."""
    text = text.strip()[:limit]
    while utf16_length(text) > limit:
        text = text[:-1]
    return text


def load_texts(csv_path: Path | None, column: str) -> list[str]:
    if csv_path is None:
        return list(SAMPLE_COMMENTS)
    dialect = "excel-tab" if csv_path.suffix.lower() == ".tsv" else "excel"
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, dialect=dialect)
        if reader.fieldnames is None or column not in reader.fieldnames:
            columns = ", ".join(reader.fieldnames or [])
            raise click.ClickException(f"{csv_path} has no {column!r} column (columns: {columns})")
        texts = [trimmed(row[column]) for row in reader if (row.get(column) or "").strip()]
    if not texts:
        raise click.ClickException(f"{csv_path} has no non-empty {column!r} values")
    return texts


# --- the callback receiver ---------------------------------------------------------------


@dataclass
class Callback:
    event_id: str
    comment_id: str
    type: str
    seq: int
    received: float  # time.monotonic()


@dataclass
class Inbox:
    """What the receiver saw: verified callbacks, refused ones, and redeliveries of one id."""

    secret: str
    callbacks: dict[str, Callback] = field(default_factory=dict)  # by webhook-id
    latest_by_comment: dict[str, Callback] = field(default_factory=dict)
    first_by_comment: dict[str, float] = field(default_factory=dict)
    invalid: int = 0
    duplicates: int = 0
    # Rejections whose callback had no statement of reasons (there must be none).
    rejections_without_statement: int = 0
    # Our comment id -> the outcome of its appeal (comment.appeal_resolved).
    appeal_outcomes: dict[str, str] = field(default_factory=dict)
    # Our comment id -> the states its comment.reported events said, in arrival order.
    report_states: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        """Verify and record one callback; the HTTP status to answer."""
        now = time.monotonic()
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.invalid += 1
            return 401
        data = payload.get("data", {})
        callback = Callback(
            event_id=headers.get("webhook-id", ""),
            comment_id=str(data.get("id")),
            type=str(payload.get("type")),
            seq=int(data.get("seq") or 0),
            received=now,
        )
        with self.lock:
            if callback.event_id in self.callbacks:
                # Retried after a lost response: already applied, acknowledge again.
                self.duplicates += 1
                return 204
            self.callbacks[callback.event_id] = callback
            self.first_by_comment.setdefault(callback.comment_id, now)
            statement = data.get("statement_of_reasons") or {}
            if callback.type == "comment.rejected" and not (
                statement.get("ground") and statement.get("text")
            ):
                self.rejections_without_statement += 1
            if callback.type == "comment.appeal_resolved":
                self.appeal_outcomes[callback.comment_id] = str(data["appeal"]["outcome"])
            if callback.type == "comment.reported":
                states = self.report_states.setdefault(callback.comment_id, [])
                states.append(str(data["report"]["state"]))
            # The ordering rule: apply an event only if its seq is the highest seen so far.
            latest = self.latest_by_comment.get(callback.comment_id)
            if latest is None or callback.seq > latest.seq:
                self.latest_by_comment[callback.comment_id] = callback
        return 204

    def types_of(self, comment_id: str) -> list[str]:
        """The types of the verified callbacks about one comment, in seq order."""
        with self.lock:
            about = [c for c in self.callbacks.values() if c.comment_id == comment_id]
        return [c.type for c in sorted(about, key=lambda c: c.seq)]

    def delivered_comments(self, of: set[str] | None = None) -> int:
        """Comments with at least one verified callback (among `of`, when given)."""
        with self.lock:
            if of is None:
                return len(self.first_by_comment)
            return len(of.intersection(self.first_by_comment))


def serve_receiver(inbox: Inbox, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            status = inbox.receive(body, {k.lower(): v for k, v in self.headers.items()})
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="callback-receiver", daemon=True).start()
    return server


# --- the source --------------------------------------------------------------------------


@dataclass(frozen=True)
class SimSource:
    id: str
    secret: str
    token: str
    created_here: bool


# Plainly abusive comments are rejected outright, so rejections, their statements of reasons
# and appeals are exercised too.
SIM_TOXIC_REJECT = 0.9


def sim_thresholds(model_thresholds: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """The model's tuned toxic flag threshold (as a new source gets it), plus a reject."""
    from core.policy import DEFAULT_FLAG_THRESHOLD

    flag = float(model_thresholds.get("toxic", DEFAULT_FLAG_THRESHOLD))
    return {"toxic": {"flag": flag, "reject": SIM_TOXIC_REJECT}}


def create_sim_source(callback_url: str) -> SimSource:
    """A fresh source in the service's database (same DATABASE_URL), calling back to us."""
    from sqlalchemy.exc import SQLAlchemyError

    from core.db import session_scope
    from core.settings import get_settings
    from core.store import create_source
    from core.thresholds import live_model_thresholds

    name = f"simulate {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
    try:
        settings = get_settings()
        thresholds = sim_thresholds(live_model_thresholds(settings))
        with session_scope(settings) as session:
            created = create_source(session, name, callback_url=callback_url, thresholds=thresholds)
            source_id = created.source.id
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"cannot create a source in the database ({type(exc).__name__}): run simulate where "
            "`moderation up` runs (same directory / DATABASE_URL), or pass --source-id, --secret "
            "and --token of an existing source"
        ) from exc
    return SimSource(source_id, created.secret, created.token, created_here=True)


def stop_callbacks(source_id: str) -> None:
    """Our receiver is going away: stop the service calling it (events then wait, unharmed)."""
    from sqlalchemy.exc import SQLAlchemyError

    from core.db import session_scope
    from core.settings import get_settings
    from core.sources import SourceChanges, update_source

    try:
        with session_scope(get_settings()) as session:
            update_source(session, source_id, SourceChanges(clear_callback_url=True))
    except SQLAlchemyError:
        pass


# --- posting -----------------------------------------------------------------------------


@dataclass
class Posted:
    """Intake results: our comment id -> when it was posted, and refusals by status."""

    sent_at: dict[str, float] = field(default_factory=dict)
    # Our comment id -> the CMS's (the payload's "id"), author id: to appeal it.
    sent_as: dict[str, tuple[str, str]] = field(default_factory=dict)
    text_of: dict[str, str] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)  # final answers (0: gave up)
    throttled: Counter[int] = field(default_factory=Counter)  # 429/503 answers, then retried
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def accepted(self) -> int:
        return self.statuses[202] + self.statuses[200]


def comment_payload(run_id: str, index: int, text: str) -> dict[str, Any]:
    article = index % 5
    return {
        "id": f"sim-{run_id}-{index}",
        "thread": {
            "id": f"article-{article}",
            "url": f"https://news.example.org/council-budget/{article}",
            "title": "Council approves budget after late-night vote",
        },
        "author": {
            "name": f"Reader {index % 97}",
            "email": f"reader{index % 97}@example.org",
            "id": f"u-{index % 97}",
        },
        "body": text,
        "parent_id": None,
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "language": "en",
    }


def signed_headers(secret: str, body: str) -> dict[str, str]:
    """Standard Webhooks headers for one request: a fresh id, the current time, the signature."""
    webhook_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
    }


def post_comment(
    client: httpx.Client, url: str, source: SimSource, payload: dict[str, Any], posted: Posted
) -> None:
    """Send one comment as a CMS should: signed, and retried while the service says "later".

    Retrying is safe because the intake is idempotent per comment id; each try gets a fresh
    webhook-id and timestamp (a reused id would be refused as a replay).
    """
    body = json.dumps(payload)
    for attempt in range(1, MAX_POST_ATTEMPTS + 1):
        started = time.monotonic()
        wait: float | None = None
        try:
            response = client.post(
                f"{url}/v1/sources/{source.id}/comments",
                content=body,
                headers=signed_headers(source.secret, body),
            )
        except httpx.HTTPError as exc:
            with posted.lock:
                posted.errors[type(exc).__name__] += 1
            wait = min(2.0**attempt, MAX_RETRY_WAIT_SECONDS)
        else:
            if response.status_code in RETRY_STATUSES:
                with posted.lock:
                    posted.throttled[response.status_code] += 1
                wait = retry_after_seconds(response.headers.get("retry-after"), attempt)
            else:
                with posted.lock:
                    posted.statuses[response.status_code] += 1
                    if response.status_code in (200, 202):
                        # Latency runs from the request the service accepted.
                        comment_id = str(response.json()["id"])
                        posted.sent_at[comment_id] = started
                        posted.text_of[comment_id] = payload["body"]
                        author = (payload.get("author") or {}).get("id")
                        posted.sent_as[comment_id] = (str(payload.get("id")), str(author or ""))
                    elif response.status_code == 404 and not posted.sent_at:
                        posted.errors["unknown-source"] += 1
                return
        if attempt < MAX_POST_ATTEMPTS:
            time.sleep(wait)
    with posted.lock:
        posted.statuses[0] += 1  # gave up


@dataclass
class Twice:
    """What came of sending one request per comment, and then the same one again."""

    statuses: Counter[int] = field(default_factory=Counter)
    repeats: Counter[int] = field(default_factory=Counter)
    # Our ids of the comments whose first request was accepted.
    accepted_ids: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "sent": sum(self.statuses.values()),
            "accepted": self.statuses[202],
            "second_refused": self.repeats[409],
        }

    @property
    def as_expected(self) -> bool:
        """Each accepted once, each repeat refused (409)."""
        return self.statuses[202] == self.repeats[409] == sum(self.statuses.values())


def send_twice(
    client: httpx.Client,
    url: str,
    source: SimSource,
    posted: Posted,
    comment_ids: list[str],
    what: str,
    body_for: Any,
) -> Twice:
    """POST `what` (appeals, reports) for each comment, signed, twice: a CMS forwards one per
    author and rejection, or per reader and comment, so the second must be refused."""
    sent = Twice()
    for comment_id in comment_ids:
        if comment_id not in posted.sent_as:
            continue
        external_id, author_id = posted.sent_as[comment_id]
        body = json.dumps(body_for(author_id))
        for counter in (sent.statuses, sent.repeats):
            response = signed_post(client, url, source, external_id, what, body)
            counter[response.status_code] += 1
            if counter is sent.statuses and response.status_code == 202:
                sent.accepted_ids.append(comment_id)
    return sent


def signed_post(
    client: httpx.Client, url: str, source: SimSource, external_id: str, what: str, body: str
) -> httpx.Response:
    """POST a report or an appeal about one of our comments, signed as the intake is."""
    return client.post(
        f"{url}/v1/sources/{source.id}/comments/{quote(external_id, safe='')}/{what}",
        content=body,
        headers=signed_headers(source.secret, body),
    )


def latest_of_type(inbox: Inbox, event_type: str) -> list[str]:
    with inbox.lock:
        return [cid for cid, c in inbox.latest_by_comment.items() if c.type == event_type]


def appeal_rejections(
    client: httpx.Client, url: str, source: SimSource, inbox: Inbox, posted: Posted
) -> Twice:
    """Appeal each comment whose latest callback rejected it, as its author."""
    return send_twice(
        client,
        url,
        source,
        posted,
        latest_of_type(inbox, "comment.rejected"),
        "appeals",
        lambda author_id: {
            "author": {"id": author_id},
            "text": "I think this was removed by mistake.",
        },
    )


def report_approvals(
    client: httpx.Client, url: str, source: SimSource, inbox: Inbox, posted: Posted
) -> Twice:
    """Report each approved comment once, as one reader (below any threshold of the source)."""
    return send_twice(
        client,
        url,
        source,
        posted,
        latest_of_type(inbox, "comment.approved"),
        "reports",
        lambda _author_id: {"reporter": {"id": "sim-reader"}, "reason": "off_topic"},
    )


def decided_as_kind(
    posted: Posted, inbox: Inbox, latest: dict[str, Callback] | None = None
) -> tuple[int, list[dict[str, str]]]:
    """The built-in samples the service decided as their kind says (an ordinary one approved,
    any other flagged or rejected), and the others: what a newsroom checks the model on.
    `latest`: each comment's latest callback as the decisions left it (the inbox's now)."""
    kind_of = {sample.text: sample.kind for sample in SAMPLES}
    right, wrong = 0, []
    if latest is None:
        with inbox.lock:
            latest = dict(inbox.latest_by_comment)
    for comment_id, text in posted.text_of.items():
        kind, callback = kind_of.get(text), latest.get(comment_id)
        if kind is None or callback is None:
            continue
        outcome = callback.type.removeprefix("comment.")
        if (outcome == "approved") == (kind == "ordinary"):
            right += 1
        else:
            wrong.append({"kind": kind, "outcome": outcome, "text": text})
    return right, wrong


# --- outcomes: what the moderators' side makes of the reports and appeals ------------------

# Fresh readers reporting one approved comment, at most, before its source's threshold must
# have reopened it (each new reader weighs 1; the default threshold is 3).
REOPEN_MAX_READERS = 20


@dataclass(frozen=True)
class Check:
    """One outcome checked: ok, wrong (ok False) or not applicable here (ok None)."""

    name: str
    ok: bool | None
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class Moderators:
    """Two moderators' review API tokens: the second decides appeals of the first's rejections.
    `emails`: the accounts this run created (disabled again at the end)."""

    first: str
    second: str
    emails: tuple[str, ...] = ()


def create_sim_moderators(run_id: str) -> Moderators | None:
    """Two moderator accounts in the service's database (same DATABASE_URL), or None."""
    from sqlalchemy.exc import SQLAlchemyError

    from core.accounts import create_user, generate_password, mint_token
    from core.db import session_scope
    from core.settings import get_settings

    emails = tuple(f"simulate-{run_id}-{n}@example.org" for n in (1, 2))
    try:
        with session_scope(get_settings()) as session:
            tokens = [
                mint_token(
                    session, create_user(session, email, "moderator", generate_password()), "sim"
                ).token
                for email in emails
            ]
    except SQLAlchemyError:
        return None
    return Moderators(tokens[0], tokens[1], emails)


def retire_sim_moderators(moderators: Moderators | None) -> None:
    """The run is over: its moderator accounts can no longer sign in or use their tokens."""
    if moderators is None or not moderators.emails:
        return
    from sqlalchemy.exc import SQLAlchemyError

    from core.accounts import set_active, user_by_email
    from core.db import session_scope
    from core.settings import get_settings

    try:
        with session_scope(get_settings()) as session:
            for email in moderators.emails:
                user = user_by_email(session, email)
                if user is not None:
                    set_active(session, user, False)
    except SQLAlchemyError:
        pass


def wait_until(predicate: Any, timeout: float) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


class ReviewApi:
    """The moderators' review API, as one moderator (a bearer token)."""

    def __init__(self, client: httpx.Client, url: str, token: str) -> None:
        self.client, self.url = client, url
        self.headers = {"authorization": f"Bearer {token}"}

    def get(self, path: str) -> httpx.Response:
        return self.client.get(f"{self.url}/v1/review{path}", headers=self.headers)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(f"{self.url}/v1/review{path}", json=body, headers=self.headers)


def reopen(
    client: httpx.Client, url: str, source: SimSource, posted: Posted, comment_id: str, run: str
) -> tuple[int, float] | None:
    """Report one approved comment by fresh readers until the service says it reopened it:
    (readers it took, the weight they added), or None when it never did."""
    external_id, _ = posted.sent_as[comment_id]
    weight = 0.0
    for n in range(1, REOPEN_MAX_READERS + 1):
        body = json.dumps({"reporter": {"id": f"sim-{run}-reader-{n}"}, "reason": "abusive"})
        response = signed_post(client, url, source, external_id, "reports", body)
        if response.status_code != 202:
            return None
        answer = response.json()
        weight += float(answer["weight"])
        if answer["reopened"]:
            return n, weight
    return None


def check_reports(
    client: httpx.Client,
    url: str,
    source: SimSource,
    inbox: Inbox,
    posted: Posted,
    moderators: Moderators | None,
    run: str,
    wait: float,
) -> tuple[list[Check], str | None]:
    """Reopen approved comments with readers' reports, see them in the Reported tab, uphold one
    and dismiss another, and see the CMS told each time. Also returns the upheld comment (now
    rejected by the first moderator), for the appeal checks."""
    approved = sorted(latest_of_type(inbox, "comment.approved"))
    if not approved:
        return [Check("reports reopen an approved comment", None, "no comment was approved")], None
    checks: list[Check] = []
    upheld: str | None = None
    for comment_id, outcome in zip(approved, ("upheld", "dismissed"), strict=False):
        reopened = reopen(client, url, source, posted, comment_id, run)
        checks.append(
            Check(
                "reports reopen an approved comment",
                reopened is not None,
                f"{comment_id} reopened by {reopened[0]} more readers' reports "
                f"(+{reopened[1]:g} weight)"
                if reopened
                else f"{comment_id} not reopened after {REOPEN_MAX_READERS} readers' reports",
            )
        )
        if reopened is None:
            continue
        told = wait_until(lambda c=comment_id: "open" in inbox.report_states.get(c, []), wait)
        checks.append(
            Check(
                "the CMS hears the comment was reported",
                told,
                f"comment.reported (open) for {comment_id}"
                + ("" if told else f" not received within {wait:g} s"),
            )
        )
        if moderators is None:
            continue
        review = ReviewApi(client, url, moderators.first)
        listed = review.get(f"/reported?source={quote(source.id)}")
        ids = [i["comment"]["id"] for i in listed.json()["items"]] if listed.is_success else []
        checks.append(
            Check(
                "it is in the Reported tab",
                comment_id in ids,
                f"GET /v1/review/reported {listed.status_code}, "
                + ("lists it" if comment_id in ids else f"does not list {comment_id}"),
            )
        )
        settled = review.post(f"/comments/{comment_id}/reports/decision", {"outcome": outcome})
        expected = ["comment.rejected"] if outcome == "upheld" else []

        def reached(c: str = comment_id, o: str = outcome, e: list[str] = expected) -> bool:
            return o in inbox.report_states.get(c, []) and all(t in inbox.types_of(c) for t in e)

        told = settled.status_code == 200 and wait_until(reached, wait)
        checks.append(
            Check(
                f"reports {outcome}: the CMS is told",
                told,
                f"decision {settled.status_code}; "
                + ", ".join([*expected, f"comment.reported ({outcome})"])
                + (" received" if told else f" not all received within {wait:g} s"),
            )
        )
        if outcome == "upheld" and told:
            upheld = comment_id
    return checks, upheld


def check_appeals(
    client: httpx.Client,
    url: str,
    source: SimSource,
    inbox: Inbox,
    posted: Posted,
    moderators: Moderators | None,
    appealed: list[str],
    upheld: str | None,
    wait: float,
) -> list[Check]:
    """See the appeals in the Appeals tab; the moderator who upheld the reports (and so
    rejected that comment) is refused its appeal, a second one grants it; the model's
    rejections' appeals are denied; the CMS hears each outcome."""
    if moderators is None:
        return [
            Check(
                "reports and appeals are settled by moderators",
                None,
                "not checked: no moderator (run where the service's database is, or pass "
                "--moderator-token twice)",
            )
        ]
    checks: list[Check] = []
    wanted = list(appealed)
    if upheld is not None:
        _, author_id = posted.sent_as[upheld]
        body = json.dumps({"author": {"id": author_id}, "text": "Readers misread my comment."})
        sent = signed_post(client, url, source, posted.sent_as[upheld][0], "appeals", body)
        checks.append(
            Check(
                "a moderator's rejection can be appealed",
                sent.status_code == 202,
                f"appeal of {upheld}: {sent.status_code}",
            )
        )
        if sent.status_code == 202:
            wanted.append(upheld)
    if not wanted:
        checks.append(Check("appeals land in the Appeals tab", None, "nothing was appealed"))
        return checks
    first, second = (ReviewApi(client, url, t) for t in (moderators.first, moderators.second))
    listed = second.get(f"/appeals?source={quote(source.id)}")
    appeal_of = (
        {a["comment_id"]: a["id"] for a in listed.json()["appeals"]} if listed.is_success else {}
    )
    missing = [c for c in wanted if c not in appeal_of]
    checks.append(
        Check(
            "appeals land in the Appeals tab",
            not missing,
            f"{len(wanted) - len(missing)} of {len(wanted)} listed"
            + (f"; missing {', '.join(missing)}" if missing else ""),
        )
    )
    outcomes: dict[str, str] = {}
    if upheld is not None and upheld in appeal_of:
        refused = first.post(f"/appeals/{appeal_of[upheld]}/decision", {"outcome": "granted"})
        checks.append(
            Check(
                "the rejecting moderator cannot decide its appeal",
                refused.status_code == 403,
                f"decision by the moderator who upheld the reports: {refused.status_code}",
            )
        )
        outcomes[upheld] = "granted"
    for comment_id in appealed:
        if comment_id in appeal_of:
            outcomes[comment_id] = "denied"
    answers = Counter(
        second.post(
            f"/appeals/{appeal_of[c]}/decision", {"outcome": o, "note": "Checked by simulate."}
        ).status_code
        for c, o in outcomes.items()
    )

    def all_told() -> bool:
        with inbox.lock:
            heard = dict(inbox.appeal_outcomes)
        granted_back = upheld not in outcomes or "comment.approved" in inbox.types_of(upheld)
        return granted_back and all(heard.get(c) == o for c, o in outcomes.items())

    told = answers == Counter({200: len(outcomes)}) and wait_until(all_told, wait)
    granted = sum(o == "granted" for o in outcomes.values())
    checks.append(
        Check(
            "appeals decided by a second moderator reach the CMS",
            told,
            f"{granted} granted, {len(outcomes) - granted} denied (answers {dict(answers)}); "
            + (
                "comment.appeal_resolved received for each"
                if told
                else f"not all comment.appeal_resolved received within {wait:g} s"
            ),
        )
    )
    return checks


def retry_after_seconds(header: str | None, attempt: int) -> float:
    """Retry-After in seconds (capped), or exponential backoff when absent or unreadable."""
    if header and header.strip().isdigit():
        return min(max(float(header.strip()), 0.1), MAX_RETRY_WAIT_SECONDS)
    return min(2.0**attempt, MAX_RETRY_WAIT_SECONDS)


def check_service(client: httpx.Client, url: str) -> None:
    try:
        response = client.get(f"{url}/healthz", timeout=5)
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"cannot reach the service at {url} ({type(exc).__name__}); start it with "
            "`moderation up` or pass --url"
        ) from exc
    if response.status_code != 200:
        raise click.ClickException(f"{url}/healthz answered {response.status_code}: not healthy")


def count_decided(
    client: httpx.Client, url: str, source: SimSource, ids: list[str]
) -> Counter[str]:
    """Each accepted comment's status, read back through the API with the source's token."""
    statuses: Counter[str] = Counter()
    headers = {"authorization": f"Bearer {source.token}"}

    def status_of(comment_id: str) -> str:
        try:
            response = client.get(f"{url}/v1/comments/{comment_id}", headers=headers)
        except httpx.HTTPError:
            return "unreadable"
        if response.status_code != 200:
            return "unreadable"
        return str(response.json().get("status"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        for status in pool.map(status_of, ids):
            statuses[status] += 1
    return statuses


def progress(message: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + message)
    else:
        sys.stderr.write(message + "\n")
    sys.stderr.flush()


@click.command()
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The service.")
@click.option("--count", type=click.IntRange(min=1), default=100, show_default=True)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Comments per second (0: as fast as possible). The intake allows 600/minute per "
    "source by default (INTAKE_RATE_LIMIT); above it, 429s are retried after Retry-After.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Post texts from this CSV/TSV instead of the built-in samples.",
)
@click.option("--text-column", default="text", show_default=True)
@click.option(
    "--source-json",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use an existing source: the output of `moderation sources add NAME --json`.",
)
@click.option("--source-id", help="Use this existing source instead of creating one.")
@click.option("--secret", help="The existing source's signing secret (whsec_...).")
@click.option("--token", help="The existing source's API token.")
@click.option("--receiver-port", type=click.IntRange(0, 65535), default=0, help="0: any free.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="Seconds to wait for callbacks after the last post.",
)
@click.option(
    "--moderator-token",
    "moderator_tokens",
    multiple=True,
    help="Twice: two moderators' review API tokens (`moderation users token EMAIL`), to settle "
    "the reports and appeals sent. By default two accounts are created in the service's "
    "database for the run and disabled after it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def simulate(
    url: str,
    count: int,
    rate: float,
    csv_path: Path | None,
    text_column: str,
    source_json: Path | None,
    source_id: str | None,
    secret: str | None,
    token: str | None,
    receiver_port: int,
    timeout: float,
    moderator_tokens: tuple[str, ...],
    as_json: bool,
) -> None:
    """Act as a CMS: post signed comments, receive and verify the decision callbacks, report."""
    url = url.rstrip("/")
    if source_json is not None:
        try:
            saved = json.loads(source_json.read_text())
            source_id, secret, token = saved["id"], saved["secret"], saved["token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise click.BadParameter(
                "expected the JSON object `moderation sources add NAME --json` prints",
                param_hint="--source-json",
            ) from exc
    given = [source_id, secret, token]
    if any(given) and not all(given):
        raise click.UsageError("--source-id, --secret and --token go together")
    if moderator_tokens and len(moderator_tokens) != 2:
        raise click.UsageError("--moderator-token goes twice: two different moderators")
    texts = load_texts(csv_path, text_column)
    client = httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))
    check_service(client, url)

    # The receiver first, so the source can be pointed at it.
    inbox = Inbox(secret=secret or "")
    try:
        server = serve_receiver(inbox, "127.0.0.1", receiver_port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{receiver_port}: {exc}") from exc
    callback_url = f"http://127.0.0.1:{server.server_address[1]}/moderation-callback"
    if source_id and secret and token:
        source = SimSource(source_id, secret, token, created_here=False)
        progress(
            f"Using source {source_id}: its callback URL must be {callback_url}\n"
            f"  (moderation sources update {source_id} --callback-url {callback_url})"
        )
    else:
        source = create_sim_source(callback_url)
        inbox.secret = source.secret
        progress(f"Created source {source.id}, calling back to {callback_url}")

    run_id = uuid.uuid4().hex[:8]
    moderators = (
        Moderators(moderator_tokens[0], moderator_tokens[1])
        if moderator_tokens
        else create_sim_moderators(run_id)
    )
    posted = Posted()
    interval = 1.0 / rate if rate > 0 else 0.0
    workers = max(4, min(32, int(rate / 5) + 4)) if rate > 0 else 16
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for index in range(count):
                due = started + index * interval
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                payload = comment_payload(run_id, index, texts[index % len(texts)])
                pool.submit(post_comment, client, url, source, payload, posted)
                if posted.errors["unknown-source"]:
                    raise click.ClickException(
                        f"the service does not know source {source.id}: does it use the same "
                        "database (DATABASE_URL) as this command?"
                    )
                if index % 20 == 0:
                    progress(
                        f"posted {index + 1}/{count} · accepted {posted.accepted} · "
                        f"callbacks {inbox.delivered_comments()}"
                    )
        posting_seconds = time.monotonic() - started

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with posted.lock:
                ours = set(posted.sent_at)
            delivered = inbox.delivered_comments(ours)
            progress(f"posted {count}/{count} · accepted {posted.accepted} · callbacks {delivered}")
            if delivered >= posted.accepted:
                break
            time.sleep(0.5)
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        decided = count_decided(client, url, source, list(posted.sent_at))
        # The decisions as they came: the checks below change some comments' latest callback.
        with inbox.lock:
            as_decided = dict(inbox.latest_by_comment)
        appealed = appeal_rejections(client, url, source, inbox, posted)
        reported = report_approvals(client, url, source, inbox, posted)
        progress("checking what comes of reports and appeals")
        wait = min(timeout, 60.0)
        checks, upheld = check_reports(client, url, source, inbox, posted, moderators, run_id, wait)
        checks += check_appeals(
            client, url, source, inbox, posted, moderators, appealed.accepted_ids, upheld, wait
        )
    finally:
        server.shutdown()
        server.server_close()
        if source.created_here:
            stop_callbacks(source.id)
        retire_sim_moderators(moderators)
        client.close()

    latencies = [
        (inbox.first_by_comment[cid] - sent) * 1000
        for cid, sent in posted.sent_at.items()
        if cid in inbox.first_by_comment
    ]
    outcomes = Counter(c.type for c in as_decided.values())
    as_kind, not_as_kind = decided_as_kind(posted, inbox, as_decided)
    report: dict[str, Any] = {
        "source_id": source.id,
        "posted": count,
        "accepted": posted.accepted,
        "refused": {str(k): v for k, v in sorted(posted.statuses.items()) if k not in (200, 202)},
        "post_errors": dict(posted.errors),
        "throttled_then_retried": {str(k): v for k, v in sorted(posted.throttled.items())},
        "decided": sum(v for k, v in decided.items() if k in ("approved", "flagged", "rejected")),
        "delivered": inbox.delivered_comments(set(posted.sent_at)),
        "callbacks": len(inbox.callbacks),
        "invalid_signatures": inbox.invalid,
        "duplicate_callbacks": inbox.duplicates,
        "outcomes": dict(sorted(outcomes.items())),
        "rejections_without_statement": inbox.rejections_without_statement,
        "appeals": appealed.as_json(),
        "reports": reported.as_json(),
        "checks": [check.as_json() for check in checks],
        # Built-in samples only (none with --csv).
        "samples_as_their_kind": as_kind,
        "samples_not_as_their_kind": not_as_kind,
        "post_rate_per_second": round(count / posting_seconds, 1) if posting_seconds else None,
        "latency_ms": {
            name: round(value, 1) if value is not None else None
            for name, value in (
                ("p50", percentile(latencies, 50)),
                ("p95", percentile(latencies, 95)),
                ("p99", percentile(latencies, 99)),
            )
        },
    }
    if as_json:
        click.echo(json.dumps(report))
    else:
        lat = report["latency_ms"]
        click.echo(f"posted     {count} at {report['post_rate_per_second']}/s")
        click.echo(
            f"accepted   {report['accepted']}"
            + (f"  refused {report['refused']}" if report["refused"] else "")
            + (
                f"  (retried after {report['throttled_then_retried']})"
                if report["throttled_then_retried"]
                else ""
            )
        )
        click.echo(f"decided    {report['decided']}")
        click.echo(
            f"delivered  {report['delivered']} with valid signatures"
            f" (invalid {inbox.invalid}, duplicates {inbox.duplicates})"
        )
        click.echo(f"outcomes   {report['outcomes']}")
        appeal_report = report["appeals"]
        click.echo(
            f"appeals    {appeal_report['accepted']}/{appeal_report['sent']} rejections appealed,"
            f" {appeal_report['second_refused']} second appeals refused; "
            f"{inbox.rejections_without_statement} rejections without a statement of reasons"
        )
        click.echo(
            f"reports    {report['reports']['accepted']}/{report['reports']['sent']} approved "
            f"comments reported, {report['reports']['second_refused']} second reports refused"
        )
        for check in checks:
            verdict = {True: "ok", False: "WRONG", None: "n/a"}[check.ok]
            click.echo(f"checked    {verdict:5} {check.name}: {check.detail}")
        if as_kind or not_as_kind:
            click.echo(
                f"samples    {as_kind} of {as_kind + len(not_as_kind)} decided as their kind says"
            )
            for miss in not_as_kind:
                click.echo(f"  {miss['kind']} {miss['outcome']}: {miss['text'][:70]}")
        click.echo(
            f"latency    post -> callback p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
            f"p99 {lat['p99']} ms"
        )
    complete = (
        report["accepted"] == count
        and report["delivered"] == count
        and report["decided"] == count
        and inbox.invalid == 0
        and inbox.rejections_without_statement == 0
        and appealed.as_expected
        and reported.as_expected
    )
    wrong = [check for check in checks if check.ok is False]
    for check in wrong:
        click.echo(f"wrong outcome: {check.name}: {check.detail}", err=True)
    if not complete or wrong:
        sys.exit(1)
