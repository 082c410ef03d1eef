"""The moderator pages and their forms: queue, decide, bulk, undo, author view, audit, CSV."""

from __future__ import annotations

import csv
import io

import pytest
import redis
from flask.testing import FlaskClient

from core.db import session_scope
from core.domain import Status
from core.settings import Settings
from core.store import NewSource
from core.tables import Comment
from tests.service.conftest import queued_tasks
from tests.service.review_support import (
    XSS_BODY,
    Account,
    add_comment,
    csrf_token,
    make_account,
    sign_in,
)

PAGES = [
    ("GET", "/moderate"),
    ("GET", "/moderate/comments/cmt_x/author"),
    ("GET", "/moderate/audit"),
    ("GET", "/moderate/audit.csv"),
    ("POST", "/moderate/comments/cmt_x/decide"),
    ("POST", "/moderate/bulk"),
    ("POST", "/moderate/undo"),
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
]


@pytest.fixture
def moderator(settings: Settings) -> Account:
    return make_account(settings, "moderator")


@pytest.fixture
def signed_in(client: FlaskClient, moderator: Account) -> FlaskClient:
    sign_in(client, moderator)
    return client


def status_of(settings: Settings, comment_id: str) -> str:
    with session_scope(settings) as session:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        return comment.status


class TestPagesAuth:
    @pytest.mark.parametrize(("method", "path"), PAGES)
    def test_pages_send_anonymous_visitors_to_login(
        self, client: FlaskClient, method: str, path: str
    ) -> None:
        token = csrf_token(client)
        response = client.open(path, method=method, data={"csrf_token": token})
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")

    @pytest.mark.parametrize(
        "path", ["/moderate/comments/cmt_x/decide", "/moderate/bulk", "/moderate/undo"]
    )
    def test_pages_forms_enforce_csrf(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource, path: str
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        response = signed_in.post(
            path.replace("cmt_x", comment_id),
            data={"status": "approved", "ids": comment_id},
        )
        assert response.status_code == 400
        assert status_of(settings, comment_id) == "flagged"


class TestQueuePage:
    def test_queue_page_escapes_hostile_comments(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        add_comment(settings, source.source.id, body=XSS_BODY, author="<b>Mallory</b>")
        page = signed_in.get("/moderate").get_data(as_text=True)
        assert "<script>window.__xss" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
        assert "&lt;b&gt;Mallory&lt;/b&gt;" in page

    def test_queue_page_marks_highlights_and_escapes_each_piece(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        add_comment(settings, source.source.id, body="you <b>idiot</b> ok", highlights=[[4, 16]])
        page = signed_in.get("/moderate").get_data(as_text=True)
        assert '<p class="body">you <mark>&lt;b&gt;idiot&lt;/b&gt;</mark> ok</p>' in page

    def test_queue_page_shows_scores_reasons_parent_and_thread(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        add_comment(settings, source.source.id, external_id="p-1", body="Context please")
        add_comment(
            settings,
            source.source.id,
            parent="p-1",
            scores={"toxic": 0.91, "spam": 0.05},
            thread_url="https://news.example.org/a/7",
        )
        page = signed_in.get("/moderate").get_data(as_text=True)
        assert 'value="0.910"' in page
        assert "toxic scored 0.91 (threshold 0.5)" in page
        assert "Context please" in page
        assert 'href="https://news.example.org/a/7"' in page

    @pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "//evil.example"])
    def test_queue_page_links_only_http_threads(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource, url: str
    ) -> None:
        add_comment(settings, source.source.id, thread_url=url)
        page = signed_in.get("/moderate").get_data(as_text=True)
        assert url not in page
        assert "Title of article-7" in page

    def test_queue_page_tabs_show_counts(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        add_comment(settings, source.source.id)
        add_comment(settings, source.source.id, status=Status.REJECTED)
        add_comment(settings, source.source.id, status=Status.PENDING)
        page = signed_in.get("/moderate").get_data(as_text=True)
        assert '<span class="count" data-count="flagged">1</span>' in page
        assert '<span class="count" data-count="rejected">1</span>' in page
        assert '<span class="count" data-count="pending">1</span>' in page
        assert '<span class="count" data-count="approved">0</span>' in page

    def test_queue_page_filters_and_paginates(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        for n in range(3):
            add_comment(settings, source.source.id, author=f"Author{n}")
        page = signed_in.get("/moderate?sort=age&per_page=2&page=2").get_data(as_text=True)
        assert "Author2" in page and "Author0" not in page
        assert "Page 2 of 2" in page
        filtered = signed_in.get("/moderate?author=Author1").get_data(as_text=True)
        assert "Author1" in filtered and "Author2" not in filtered

    def test_queue_page_bad_filter_goes_back_with_a_message(self, signed_in: FlaskClient) -> None:
        response = signed_in.get("/moderate?status=nope", follow_redirects=True)
        assert response.status_code == 200
        assert "status must be one of" in response.get_data(as_text=True)

    def test_queue_page_empty_queue_says_so(self, signed_in: FlaskClient) -> None:
        assert "The queue is clear." in signed_in.get("/moderate").get_data(as_text=True)


class TestDecideForm:
    def test_decide_form_rejects_and_queues_delivery(
        self,
        signed_in: FlaskClient,
        settings: Settings,
        source: NewSource,
        broker: redis.Redis,
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        token = csrf_token(signed_in, "/moderate")
        response = signed_in.post(
            f"/moderate/comments/{comment_id}/decide",
            data={
                "csrf_token": token,
                "status": "rejected",
                "reason_code": "toxic",
                "return_to": "/moderate?sort=age",
            },
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "/moderate?sort=age"
        assert status_of(settings, comment_id) == "rejected"
        assert [name for name, _, _ in queued_tasks(broker, settings.delivery_queue_name)] == [
            "worker.deliver_event"
        ]

    def test_decide_form_approve_ignores_the_reject_reason(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        token = csrf_token(signed_in, "/moderate")
        signed_in.post(
            f"/moderate/comments/{comment_id}/decide",
            data={"csrf_token": token, "status": "approved", "reason_code": "toxic"},
        )
        assert status_of(settings, comment_id) == "approved"

    def test_decide_form_never_redirects_off_site(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        token = csrf_token(signed_in, "/moderate")
        response = signed_in.post(
            f"/moderate/comments/{comment_id}/decide",
            data={"csrf_token": token, "status": "approved", "return_to": "//evil.example/"},
        )
        assert response.headers["Location"] == "/moderate"

    def test_decide_form_refuses_an_unknown_status(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        token = csrf_token(signed_in, "/moderate")
        response = signed_in.post(
            f"/moderate/comments/{comment_id}/decide",
            data={"csrf_token": token, "status": "pending"},
        )
        assert response.status_code == 400
        assert status_of(settings, comment_id) == "flagged"

    def test_decide_form_claimed_by_another_shows_why(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        other = make_account(settings)
        signed_in.application.test_client().post(
            f"/v1/review/comments/{comment_id}/claim",
            headers={"Authorization": f"Bearer {other.token}"},
        )
        token = csrf_token(signed_in, "/moderate")
        response = signed_in.post(
            f"/moderate/comments/{comment_id}/decide",
            data={"csrf_token": token, "status": "approved"},
            follow_redirects=True,
        )
        assert "another moderator is reviewing this comment" in response.get_data(as_text=True)
        assert status_of(settings, comment_id) == "flagged"


class TestBulkForm:
    def test_bulk_form_rejects_the_selected(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        ids = [add_comment(settings, source.source.id) for _ in range(3)]
        token = csrf_token(signed_in, "/moderate")
        response = signed_in.post(
            "/moderate/bulk",
            data={
                "csrf_token": token,
                "status": "rejected",
                "reason_code": "spam",
                "ids": ids[:2],
                "page_ids": ids,
            },
            follow_redirects=True,
        )
        assert "Rejected 2 comments." in response.get_data(as_text=True)
        assert [status_of(settings, i) for i in ids] == ["rejected", "rejected", "flagged"]

    def test_bulk_form_approves_the_whole_page(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        ids = [add_comment(settings, source.source.id) for _ in range(3)]
        token = csrf_token(signed_in, "/moderate")
        signed_in.post(
            "/moderate/bulk?scope=page",
            data={"csrf_token": token, "status": "approved", "page_ids": ids},
        )
        assert [status_of(settings, i) for i in ids] == ["approved"] * 3

    def test_bulk_form_with_nothing_selected_says_so(self, signed_in: FlaskClient) -> None:
        token = csrf_token(signed_in, "/moderate")
        response = signed_in.post(
            "/moderate/bulk",
            data={"csrf_token": token, "status": "approved"},
            follow_redirects=True,
        )
        assert "Select at least one comment." in response.get_data(as_text=True)


class TestUndoForm:
    def test_undo_form_takes_back_the_last_action(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        token = csrf_token(signed_in, "/moderate")
        page = signed_in.post(
            f"/moderate/comments/{comment_id}/decide",
            data={"csrf_token": token, "status": "rejected", "reason_code": "toxic"},
            follow_redirects=True,
        ).get_data(as_text=True)
        assert 'action="/moderate/undo"' in page
        decision_ids = page.split('name="decision_ids" value="')[1].split('"')[0]
        response = signed_in.post(
            "/moderate/undo",
            data={"csrf_token": token, "decision_ids": decision_ids},
            follow_redirects=True,
        )
        assert "Undid 1 decision." in response.get_data(as_text=True)
        assert status_of(settings, comment_id) == "flagged"

    def test_undo_form_refuses_garbage_ids(self, signed_in: FlaskClient) -> None:
        token = csrf_token(signed_in, "/moderate")
        response = signed_in.post(
            "/moderate/undo", data={"csrf_token": token, "decision_ids": "1,drop"}
        )
        assert response.status_code == 400

    def test_undo_form_with_nothing_to_undo_says_so(self, signed_in: FlaskClient) -> None:
        token = csrf_token(signed_in, "/moderate")
        response = signed_in.post(
            "/moderate/undo", data={"csrf_token": token}, follow_redirects=True
        )
        assert "nothing to undo" in response.get_data(as_text=True)


class TestAuthorPage:
    def test_author_page_lists_their_comments_and_outcomes(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        first = add_comment(settings, source.source.id, author="Troll", body="first <i>one</i>")
        add_comment(
            settings, source.source.id, author="Troll", body="second", status=Status.REJECTED
        )
        add_comment(settings, source.source.id, author="Nice", author_id="u-5", body="third")
        page = signed_in.get(f"/moderate/comments/{first}/author").get_data(as_text=True)
        assert "first &lt;i&gt;one&lt;/i&gt;" in page and "second" in page
        assert "third" not in page
        assert "rejected: 1" in page and "flagged: 1" in page

    def test_author_page_unknown_comment_is_404(self, signed_in: FlaskClient) -> None:
        assert signed_in.get("/moderate/comments/cmt_missing/author").status_code == 404


class TestAuditPage:
    def test_audit_page_shows_who_when_and_why(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource, moderator: Account
    ) -> None:
        comment_id = add_comment(settings, source.source.id)
        token = csrf_token(signed_in, "/moderate")
        signed_in.post(
            f"/moderate/comments/{comment_id}/decide",
            data={
                "csrf_token": token,
                "status": "rejected",
                "reason_code": "harassment",
                "note": "<b>targets</b> a reader",
            },
        )
        page = signed_in.get("/moderate/audit").get_data(as_text=True)
        assert "model test-model-1" in page
        assert moderator.email in page
        assert "Harassment of a person" in page
        assert "&lt;b&gt;targets&lt;/b&gt; a reader" in page
        assert "<span data-audit-total>2</span>" in page

    def test_audit_page_filters(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        add_comment(settings, source.source.id)
        page = signed_in.get("/moderate/audit?actor=moderator").get_data(as_text=True)
        assert "<span data-audit-total>0</span>" in page

    def test_audit_page_csv_export(
        self, signed_in: FlaskClient, settings: Settings, source: NewSource
    ) -> None:
        add_comment(settings, source.source.id)
        add_comment(settings, source.source.id, status=Status.APPROVED)
        response = signed_in.get("/moderate/audit.csv?status=approved")
        assert response.mimetype == "text/csv"
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        assert [(r["actor"], r["status"]) for r in rows] == [("model", "approved")]

    def test_audit_page_bad_filter_goes_back_with_a_message(self, signed_in: FlaskClient) -> None:
        response = signed_in.get("/moderate/audit?until=soon", follow_redirects=True)
        assert "until must be an ISO 8601 date" in response.get_data(as_text=True)
