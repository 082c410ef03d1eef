"""Policy versions: every change kept with who and why, decisions name theirs, rollback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.db import dispose_engines, session_scope
from core.migrate import upgrade
from core.moderation import moderate_comment
from core.policies import PolicyInForce, PolicyVersionNotFound, policy_history, policy_versions
from core.settings import Settings
from core.sources import (
    SourceChanges,
    get_source,
    restore_policy,
    update_source,
)
from core.store import create_source
from core.tables import Decision, PolicyVersion
from tests.comments import incoming, receive
from tests.conftest import _pg_admin_url
from tests.wordlist_scorer import WordListScorer

TOXIC = "You are a pathetic idiot"
STRICT = SourceChanges(thresholds={"toxic": {"flag": 0.3, "reject": 0.9}})


def new_source(settings: Settings) -> str:
    with session_scope(settings) as session:
        return create_source(session, "Daily Planet", changed_by="admin@example.org").source.id


def change(settings: Settings, source_id: str, changes: SourceChanges, reason: str) -> int:
    with session_scope(settings) as session:
        source = update_source(session, source_id, changes, changed_by="ed@x.org", reason=reason)
        return source.policy_version


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
class TestPolicyVersions:
    def test_create_source_keeps_its_policy_as_version_1(self, settings: Settings) -> None:
        source_id = new_source(settings)
        with session_scope(settings) as session:
            [first] = policy_versions(session, source_id)
            assert get_source(session, source_id).policy_version == 1
            assert (first.version, first.changed_by) == (1, "admin@example.org")
            assert first.policy == {"thresholds": {}, "blocklist": [], "max_links": 2}

    def test_update_source_records_a_version_with_who_and_why(self, settings: Settings) -> None:
        source_id = new_source(settings)
        assert change(settings, source_id, STRICT, "too many insults got through") == 2
        with session_scope(settings) as session:
            source = get_source(session, source_id)
            history = policy_history(session, source)
        assert [v.version for v in history] == [1, 2]
        latest = history[-1]
        assert (latest.changed_by, latest.reason, latest.current) == (
            "ed@x.org",
            "too many insults got through",
            True,
        )
        assert latest.policy["thresholds"] == {"toxic": {"flag": 0.3, "reject": 0.9}}
        assert latest.changes == ["toxic flag/reject: model -> 0.3/0.9"]

    def test_update_source_without_policy_change_adds_no_version(self, settings: Settings) -> None:
        source_id = new_source(settings)
        changes = SourceChanges(callback_url="https://cms.example/hook", max_body_chars=900)
        assert change(settings, source_id, changes, "new endpoint") == 1
        with session_scope(settings) as session:
            assert len(policy_versions(session, source_id)) == 1

    def test_decision_records_the_policy_version_that_made_it(self, settings: Settings) -> None:
        source_id = new_source(settings)
        change(settings, source_id, STRICT, "stricter")
        with session_scope(settings) as session:
            comment_id = receive(session, source_id, incoming(TOXIC)).id
        with session_scope(settings) as session:
            moderate_comment(session, comment_id, WordListScorer())
        with session_scope(settings) as session:
            # PostgreSQL's database is shared by the run's tests: this comment's decision only.
            query = sa.select(Decision).where(Decision.comment_id == comment_id)
            decision = session.scalars(query).one()
            assert decision.policy is not None and decision.policy["version"] == 2
            assert decision.status == "rejected"

    def test_restore_makes_a_new_version_copying_the_earlier_one(self, settings: Settings) -> None:
        source_id = new_source(settings)
        blocked = SourceChanges(blocklist_add=[{"term": "casino", "action": "reject"}])
        change(settings, source_id, blocked, "casino spam")
        change(settings, source_id, STRICT, "stricter")
        with session_scope(settings) as session:
            restored = restore_policy(
                session, source_id, 1, changed_by="ed@x.org", reason="back to the start"
            )
            assert (restored.version, restored.restored_from) == (4, 1)
        with session_scope(settings) as session:
            source = get_source(session, source_id)
            assert (source.thresholds, source.blocklist, source.policy_version) == ({}, [], 4)
            versions = policy_versions(session, source_id)
            assert versions[3].policy == versions[0].policy
            assert policy_history(session, source)[3].changes == [
                "toxic: back to the model's threshold",
                "blocklist - casino:reject",
            ]

    def test_restore_refuses_the_policy_in_force(self, settings: Settings) -> None:
        source_id = new_source(settings)
        with (
            session_scope(settings) as session,
            pytest.raises(PolicyInForce, match="in force already"),
        ):
            restore_policy(session, source_id, 1, changed_by="ed", reason="again")

    def test_restore_refuses_an_unknown_version(self, settings: Settings) -> None:
        source_id = new_source(settings)
        with session_scope(settings) as session, pytest.raises(PolicyVersionNotFound):
            restore_policy(session, source_id, 7, changed_by="ed", reason="typo")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """A database of its own, not migrated (the migration test walks it from 0005)."""
    if request.param == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / 'm.sqlite'}")
        dispose_engines()
        return
    admin = make_url(_pg_admin_url().replace("postgresql+psycopg://", "postgresql://"))
    name = f"moderation_mig_{uuid.uuid4().hex[:10]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield Settings(database_url=admin.set(database=name).render_as_string(hide_password=False))
    dispose_engines()
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class TestPolicyVersionsMigration:
    def test_migration_gives_each_existing_source_version_1(self, empty_database: Settings) -> None:
        upgrade(empty_database, "0005")
        engine = sa.create_engine(empty_database.sqlalchemy_url)
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO sources (id, name, secret, token_sha256, thresholds, blocklist,"
                    " max_links, max_body_chars, consecutive_failures, created_at, updated_at)"
                    " VALUES ('src_old', 'Old CMS', 'whsec_x', 'abc', :t, :b, 3, 1500, 0,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"t": '{"toxic": {"flag": 0.7, "reject": null}}', "b": "[]"},
            )
        upgrade(empty_database)
        # Read back raw: the ORM would want the secret encrypted under a key this test lacks.
        with engine.connect() as connection:
            number = connection.scalar(sa.text("SELECT policy_version FROM sources"))
            [version] = connection.execute(sa.select(PolicyVersion.__table__)).mappings().all()
        engine.dispose()
        assert number == 1
        assert (version["source_id"], version["version"]) == ("src_old", 1)
        assert version["policy"] == {
            "thresholds": {"toxic": {"flag": 0.7, "reject": None}},
            "blocklist": [],
            "max_links": 3,
        }
