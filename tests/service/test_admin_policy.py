"""Admin API: the what-if of proposed thresholds, the policy history and its rollback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bench._history import seed_history
from core.db import session_scope
from core.policies import policy_versions
from core.settings import Settings
from core.sources import SourceChanges, get_source, update_source
from core.store import NewSource
from core.thresholds import live_model_thresholds
from core.whatif import load_history, proposed_policy, what_if
from tests.service.review_support import Account, csrf_token, make_account, sign_in
from tests.service.test_openapi_agreement import operation

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def admin(settings: Settings) -> Account:
    return make_account(settings, "admin")


def bearer(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def seeded(settings: Settings, source: NewSource) -> None:
    with session_scope(settings) as session:
        stored = get_source(session, source.source.id)
        policy = proposed_policy(stored, live_model_thresholds(settings))
        seed_history(session, stored.id, policy, 800, now=datetime.now(UTC), seed=11)


class TestWhatIfApi:
    def test_what_if_answers_what_core_computes(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        seeded(settings, source)
        response = client.get(
            f"/v1/admin/sources/{source.source.id}/what-if?days=30&toxic.flag=0.2&toxic.reject=0.7",
            headers=bearer(admin),
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        with session_scope(settings) as session:
            stored = get_source(session, source.source.id)
            policy = proposed_policy(
                stored,
                live_model_thresholds(settings),
                {"toxic": {"flag": 0.2, "reject": 0.7}},
            )
            expected = what_if(load_history(session, stored.id, 30), policy).as_json()
        assert response.get_json() == expected
        assert expected["proposed"] != expected["current"]

    @pytest.mark.parametrize(
        "query",
        [
            "toxic.flag=1.5",
            "toxic.flag=high",
            "rude.flag=0.3",
            "days=0",
            "toxic.flag=",
            "spam.reject=",
        ],
    )
    def test_what_if_refuses_a_bad_query(
        self, client: FlaskClient, source: NewSource, admin: Account, query: str
    ) -> None:
        response = client.get(
            f"/v1/admin/sources/{source.source.id}/what-if?{query}", headers=bearer(admin)
        )
        assert response.status_code == 422, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"

    def test_what_if_is_for_admins_only(
        self, settings: Settings, client: FlaskClient, source: NewSource
    ) -> None:
        moderator = make_account(settings, "moderator")
        response = client.get(
            f"/v1/admin/sources/{source.source.id}/what-if", headers=bearer(moderator)
        )
        assert response.status_code == 403

    def test_what_if_is_documented_with_its_threshold_parameters(self, app: Flask) -> None:
        documented = operation(app, "get", "/v1/admin/sources/{source_id}/what-if")
        names = {p["name"] for p in documented["parameters"]}
        assert {"days", "toxic.flag", "toxic.reject", "spam.reject"} <= names
        assert set(documented["responses"]) >= {"200", "404", "422"}


class TestPolicyHistoryApi:
    def test_patch_with_reason_then_history_then_restore(
        self, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        base = f"/v1/admin/sources/{source.source.id}"
        changed = client.patch(
            base,
            headers=bearer(admin),
            json={"thresholds": {"toxic": {"flag": 0.6, "reject": 0.9}}, "reason": "too lax"},
        )
        assert changed.status_code == 200, changed.get_data(as_text=True)
        history = client.get(f"{base}/policies", headers=bearer(admin)).get_json()["versions"]
        assert [(v["version"], v["current"]) for v in history] == [(1, False), (2, True)]
        assert (history[1]["changed_by"], history[1]["reason"]) == (admin.email, "too lax")
        assert history[1]["changes"] == ["toxic flag/reject: model -> 0.6/0.9"]

        restored = client.post(
            f"{base}/policies/1/restore", headers=bearer(admin), json={"reason": "undo"}
        )
        assert restored.status_code == 200, restored.get_data(as_text=True)
        body = restored.get_json()
        assert (body["version"], body["restored_from"], body["current"]) == (3, 1, True)
        assert body["policy"] == history[0]["policy"]
        view = client.get(base, headers=bearer(admin)).get_json()
        assert view["thresholds_source"] == "model"

    @pytest.mark.parametrize("version", [9, 2**31])
    def test_restore_of_an_unknown_version_is_404(
        self, client: FlaskClient, source: NewSource, admin: Account, version: int
    ) -> None:
        response = client.post(
            f"/v1/admin/sources/{source.source.id}/policies/{version}/restore",
            headers=bearer(admin),
            json={"reason": "typo"},
        )
        assert response.status_code == 404
        assert f"no policy version {version}" in response.get_json()["detail"]

    def test_restore_of_the_version_in_force_is_409(
        self, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        response = client.post(
            f"/v1/admin/sources/{source.source.id}/policies/1/restore",
            headers=bearer(admin),
            json={"reason": "again"},
        )
        assert response.status_code == 409

    def test_what_if_may_try_a_reject_below_the_flag(
        self, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        response = client.get(
            f"/v1/admin/sources/{source.source.id}/what-if?toxic.flag=0.9&toxic.reject=0.1",
            headers=bearer(admin),
        )
        assert response.status_code == 200, response.get_data(as_text=True)

    @pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "  "}])
    def test_restore_needs_a_reason(
        self, client: FlaskClient, source: NewSource, admin: Account, body: dict[str, str]
    ) -> None:
        response = client.post(
            f"/v1/admin/sources/{source.source.id}/policies/1/restore",
            headers=bearer(admin),
            json=body,
        )
        assert response.status_code == 422


class TestSourcesPagePolicy:
    def test_sources_form_records_who_and_why(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        sign_in(client, admin)
        response = client.post(
            f"/admin/sources/{source.source.id}",
            data={
                "csrf_token": csrf_token(client, "/admin/sources"),
                "callback_url": "https://cms.example.org/hook",
                "toxic_flag": "0.7",
                "max_links": "2",
                "max_body_chars": "1500",
                "reason": "readers complained",
            },
        )
        assert response.status_code == 302
        with session_scope(settings) as session:
            latest = policy_versions(session, source.source.id)[-1]
        assert (latest.version, latest.changed_by, latest.reason) == (
            2,
            admin.email,
            "readers complained",
        )


class TestPolicyPage:
    def test_policy_page_shows_history_what_if_and_restores(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        seeded(settings, source)
        with session_scope(settings) as session:
            changes = SourceChanges(thresholds={"toxic": {"flag": 0.6, "reject": None}})
            update_source(session, source.source.id, changes, changed_by="ed", reason="lax")
        sign_in(client, admin)
        base = f"/admin/sources/{source.source.id}/policy"
        page = client.get(f"{base}?what_if=1&toxic_flag=0.2&days=30").get_data(as_text=True)
        assert "v2" in page and "lax" in page and 'id="what-if"' in page
        response = client.post(
            f"{base}/1/restore",
            data={"csrf_token": csrf_token(client, base), "reason": "back"},
        )
        assert response.status_code == 302
        with session_scope(settings) as session:
            latest = policy_versions(session, source.source.id)[-1]
        assert (latest.version, latest.restored_from, latest.changed_by) == (3, 1, admin.email)


class TestSuggestApi:
    def test_capacity_gives_thresholds_whose_what_if_meets_it(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        seeded(settings, source)
        response = client.post(
            f"/v1/admin/sources/{source.source.id}/suggest",
            headers=bearer(admin),
            json={"label": "toxic", "flag_capacity": 2, "days": 30},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert set(body["thresholds"]) == {"toxic"}
        assert body["what_if"]["proposed"]["flagged"] <= 2 * 30
        assert body["target"]["flag_capacity"] == 2
        assert body["saved_version"] is None
        with session_scope(settings) as session:
            assert len(policy_versions(session, source.source.id)) == 1

    def test_save_applies_them_as_a_new_policy_version(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        seeded(settings, source)
        response = client.post(
            f"/v1/admin/sources/{source.source.id}/suggest",
            headers=bearer(admin),
            json={"label": "toxic", "flag_capacity": 2, "save": True},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert body["saved_version"] == 2
        with session_scope(settings) as session:
            latest = policy_versions(session, source.source.id)[-1]
            stored = get_source(session, source.source.id)
            assert stored.thresholds["toxic"]["flag"] == body["thresholds"]["toxic"]["flag"]
        assert (latest.version, latest.changed_by) == (2, admin.email)
        assert latest.reason == "policy suggest: toxic for a capacity of 2 flagged a day"

    def test_too_few_labels_is_refused_with_how_many_more(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        seeded(settings, source)
        response = client.post(
            f"/v1/admin/sources/{source.source.id}/suggest",
            headers=bearer(admin),
            json={"label": "threat", "reject_precision": 0.95, "days": 2},
        )
        # The request is well formed: the source's history is what falls short.
        assert response.status_code == 409, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"
        problem = response.get_json()
        assert problem["needed"] == 100 - problem["labels"] > 0
        assert f"{problem['needed']} more are needed" in problem["detail"]

    @pytest.mark.parametrize(
        "body",
        [
            {"label": "toxic"},
            {"label": "toxic", "flag_capacity": 5, "reject_precision": 0.9},
            {"label": "rude", "flag_capacity": 5},
            {"label": "toxic", "reject_precision": 1.5},
            {"label": "toxic", "flag_capacity": 0},
            {"label": "toxic", "flag_capacity": True},
            {"label": "toxic", "flag_capacity": 5, "days": 0},
        ],
    )
    def test_a_bad_target_is_422(
        self, client: FlaskClient, source: NewSource, admin: Account, body: dict[str, object]
    ) -> None:
        response = client.post(
            f"/v1/admin/sources/{source.source.id}/suggest", headers=bearer(admin), json=body
        )
        assert response.status_code == 422, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"

    def test_suggest_is_for_admins_and_documented(
        self, settings: Settings, app: Flask, client: FlaskClient, source: NewSource
    ) -> None:
        moderator = make_account(settings, "moderator")
        response = client.post(
            f"/v1/admin/sources/{source.source.id}/suggest",
            headers=bearer(moderator),
            json={"label": "toxic", "flag_capacity": 5},
        )
        assert response.status_code == 403
        documented = operation(app, "post", "/v1/admin/sources/{source_id}/suggest")
        assert set(documented["responses"]) >= {"200", "404", "409", "422"}


class TestSuggestOnThePage:
    def test_the_page_shows_a_suggestion_and_its_save_form(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        seeded(settings, source)
        sign_in(client, admin)
        base = f"/admin/sources/{source.source.id}/policy"
        page = client.get(
            f"{base}?suggest=1&label=toxic&target=flag_capacity&value=2&days=30"
        ).get_data(as_text=True)
        assert 'id="suggestion"' in page and 'id="suggest-what-if"' in page
        assert f'action="{base}/suggest"' in page

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("label=rude&target=flag_capacity&value=2", "unknown label"),
            ("label=toxic&target=guess&value=2", "unknown target"),
            ("label=toxic&target=flag_capacity&value=", "give the target"),
            ("label=toxic&target=flag_capacity&value=many", "value: not a number"),
            ("label=toxic&target=reject_precision&value=1.5", "precision must be in (0, 1]"),
        ],
    )
    def test_a_bad_target_is_shown_not_computed(
        self, client: FlaskClient, source: NewSource, admin: Account, query: str, message: str
    ) -> None:
        sign_in(client, admin)
        page = client.get(f"/admin/sources/{source.source.id}/policy?suggest=1&{query}").get_data(
            as_text=True
        )
        assert 'id="suggest-refused"' in page and message in page
        assert 'id="suggestion"' not in page

    def test_save_refuses_thresholds_update_source_refuses(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        sign_in(client, admin)
        base = f"/admin/sources/{source.source.id}/policy"
        fields = {"label": "toxic", "target": "flag_capacity", "value": "2"}
        response = client.post(
            f"{base}/suggest",
            data={"csrf_token": csrf_token(client, base), **fields, "flag": "0.9", "reject": "0.2"},
            follow_redirects=True,
        )
        assert "Not saved" in response.get_data(as_text=True)
        with session_scope(settings) as session:
            assert len(policy_versions(session, source.source.id)) == 1
        saved = client.post(
            f"{base}/suggest",
            data={"csrf_token": csrf_token(client, base), **fields, "flag": "0.3", "reject": ""},
        )
        assert saved.status_code == 302
        with session_scope(settings) as session:
            latest = policy_versions(session, source.source.id)[-1]
            assert latest.policy["thresholds"]["toxic"] == {"flag": 0.3, "reject": None}
            assert latest.reason == "policy suggest: toxic for a capacity of 2 flagged a day"

    def test_save_needs_the_csrf_token(
        self, settings: Settings, client: FlaskClient, source: NewSource, admin: Account
    ) -> None:
        sign_in(client, admin)
        response = client.post(
            f"/admin/sources/{source.source.id}/policy/suggest",
            data={"label": "toxic", "target": "flag_capacity", "value": "2", "flag": "0.3"},
        )
        assert response.status_code == 400
        with session_scope(settings) as session:
            assert len(policy_versions(session, source.source.id)) == 1
