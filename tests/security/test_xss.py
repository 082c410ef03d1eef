"""XSS probes: hostile comments, names, titles, URLs and notes render inert on every page.

Comments come in through the real signed intake (so its validation applies), are decided by
the model and a moderator, and every moderator and admin page is then parsed: no element or
attribute may come from the data, and no link may lead to a javascript: or data: URL.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select

from core.db import session_scope
from core.moderation import moderate_comment
from core.settings import Settings
from core.store import NewSource, create_source
from core.tables import Event
from tests.service.conftest import SignedPost, comment_payload
from tests.service.review_support import add_comment, bearer, make_account, sign_in
from tests.wordlist_scorer import WordListScorer

SCRIPT = "<script>alert('xss-script')</script>"
IMG = '"><img src=x onerror="alert(\'xss-img\')">'
ATTR = "' onmouseover='alert(1)' x='"
SVG = "</textarea><svg onload=alert('xss-svg')>"
TEMPLATE = "{{ 7*7 }}{% print 'ssti' %}"
HOSTILE_URL = 'https://news.example.org/a?"><script>alert(1)</script>'
UNSAFE_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
]
UNSAFE_SCHEMES = ("javascript:", "data:", "vbscript:")


class PageScan(HTMLParser):
    """Elements and attributes of a page that could run script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag in ("svg", "iframe", "object", "embed"):
            self.problems.append(f"<{tag}> element")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.problems.append("injected <img>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            # (<link rel=icon href="data:,"> is the layout's own empty favicon.)
            if name in ("href", "src", "action", "formaction") and value and tag != "link":
                if value.strip().lower().startswith(UNSAFE_SCHEMES):
                    self.problems.append(f"<{tag} {name}={value!r}>")
            if name in ("x",):
                self.problems.append(f"attribute {name!r} injected into <{tag}>")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def scan(html: str) -> PageScan:
    parser = PageScan()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture
def hostile_source(settings: Settings) -> NewSource:
    """A source whose very name is hostile (the admin pages list it)."""
    with session_scope(settings) as session:
        return create_source(session, f"CMS {SCRIPT}", callback_url="https://cms.example.org/h")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestXss:
    def test_xss_hostile_fields_render_inert_on_every_page(
        self,
        client: FlaskClient,
        settings: Settings,
        source: NewSource,
        hostile_source: NewSource,
        signed_post: SignedPost,
        broker: redis.Redis,
    ) -> None:
        ids = self._ingest(settings, source, signed_post)
        # Stored by another path than the intake (which refuses these URLs): still not linked.
        for url in UNSAFE_URLS:
            add_comment(settings, source.source.id, thread_url=url, body=f"link {url}")
        admin = make_account(settings, role="admin")
        decided = client.post(
            f"/v1/review/comments/{ids[1]}/decision",
            json={"status": "rejected", "reason_code": "other", "note": f"{SCRIPT}{IMG}"},
            headers=bearer(admin),
        )
        assert decided.status_code == 201, decided.get_data(as_text=True)
        with session_scope(settings) as session:
            event_id = session.scalars(select(Event.id).where(Event.comment_id == ids[0])).first()
        sign_in(client, admin)
        pages = [
            "/moderate?status=flagged",
            "/moderate?status=pending",
            "/moderate?status=rejected",
            f"/moderate?status=flagged&author={IMG}&thread={SCRIPT}",
            f"/moderate/comments/{ids[0]}/author",
            f"/moderate/comments/{ids[1]}/author",
            "/moderate/audit",
            f"/moderate/audit?moderator={SCRIPT}",
            "/admin/sources",
            "/admin/deliveries",
            f"/admin/deliveries/{event_id}",
            "/admin/users",
        ]
        shown = literal = 0
        for path in pages:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            html = response.get_data(as_text=True)
            page = scan(html)
            assert page.problems == [], (path, page.problems)
            text = "".join(page.text)
            shown += SCRIPT in text  # the hostile text is there, as text
            literal += TEMPLATE in text  # shown as typed, never evaluated as a template
        assert shown >= 5, "the hostile values never reached the pages: the probe proves nothing"
        assert literal >= 1

    def test_xss_intake_refuses_script_urls_for_threads(
        self, signed_post: SignedPost, settings: Settings
    ) -> None:
        for url in UNSAFE_URLS:
            payload = comment_payload()
            payload["thread"]["url"] = url
            response = signed_post(payload)
            assert response.status_code == 422, (url, response.status_code)
            assert [e["field"] for e in response.get_json()["errors"]] == ["thread.url"]

    def _ingest(self, settings: Settings, source: NewSource, signed_post: SignedPost) -> list[str]:
        """Two hostile comments through the real intake, flagged by the model."""
        ids = []
        for n, body in enumerate([f"idiot {SCRIPT} {SVG}", f"die {IMG} {ATTR} {TEMPLATE}"]):
            payload = comment_payload(body=body)
            payload["author"].update({"name": f"{IMG}{n}", "id": f"u{ATTR}"})
            payload["thread"].update({"id": f"t{SCRIPT}", "title": SCRIPT, "url": HOSTILE_URL})
            response = signed_post(payload)
            assert response.status_code == 202, response.get_data(as_text=True)
            ids.append(response.get_json()["id"])
        with session_scope(settings) as session:
            for comment_id in ids:
                assert moderate_comment(session, comment_id, WordListScorer()) is not None
        return ids
