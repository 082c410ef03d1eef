"""Liveness and readiness probes: /healthz says the process runs, /readyz that it can work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import redis
from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.db import get_engine, session_scope
from core.registry import live_model
from core.settings import Settings
from service import web
from service.workers import worker_heartbeats

bp = Blueprint("health", __name__)


def check_database(settings: Settings) -> str:
    try:
        with get_engine(settings).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"error: {type(exc).__name__}"
    return "ok"


def model_errors(beats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Live models that worker processes could not load: version, why, how many processes."""
    found: dict[tuple[str, str], int] = {}
    for beat in beats:
        error = beat.get("model_error")
        if isinstance(error, dict) and error.get("version"):
            key = (str(error["version"]), str(error.get("error", "")))
            found[key] = found.get(key, 0) + 1
    return [
        {"version": version, "error": error, "workers": workers}
        for (version, error), workers in sorted(found.items())
    ]


def check_redis_and_model(
    settings: Settings,
) -> tuple[str, str, list[str], list[dict[str, Any]]]:
    """Redis answers a ping; at least one worker heartbeat names its loaded model version.
    Also the models workers refused to swap to (they keep the old one, so still ready)."""
    client = web.redis_client(settings)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"error: {type(exc).__name__}", "unknown: redis unavailable", [], []
    try:
        beats = worker_heartbeats(client)
    except redis.RedisError as exc:
        return "ok", f"error: {type(exc).__name__}", [], []
    versions = sorted({str(beat["model_version"]) for beat in beats})
    if not versions:
        return "ok", "error: no worker with a model loaded", [], []
    return "ok", "ok", versions, model_errors(beats)


def live_model_version(settings: Settings) -> str | None:
    """The registry's live model (None before it is seeded or when the database is down)."""
    try:
        with session_scope(settings) as session:
            live = live_model(session)
            return live.version if live is not None else None
    except SQLAlchemyError:
        return None


def check_up_children(settings: Settings) -> dict[str, str]:
    """Under `moderation up`: its worker and Redis, "ok" while they run, else what `up` does."""
    if not settings.up_status_file:
        return {}
    try:
        children = json.loads(Path(settings.up_status_file).read_text())["children"]
        return {
            name: "ok" if child["state"] == "running" else f"{child['state']}: {child['detail']}"
            for name, child in children.items()
            if name != "api"  # this answer comes from the API
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return {"worker": f"unknown: no status from moderation up ({type(exc).__name__})"}


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Any:
    """Database, Redis and a worker with the model loaded (reported by the worker in Redis);
    under `moderation up` also its worker and private Redis, down while it restarts them.
    model_errors lists live models workers refused to load: they score with the old one, so
    this does not make the service unready, but it needs a person."""
    settings = web.settings()
    checks: dict[str, str] = {"database": check_database(settings)}
    checks["redis"], checks["model"], versions, errors = check_redis_and_model(settings)
    # What `up` knows (a child restarting) says more than a failed ping; "ok" hides no error.
    for name, value in check_up_children(settings).items():
        if value != "ok" or name not in checks:
            checks[name] = value
    failed = sorted(name for name, value in checks.items() if value != "ok")
    ready = not failed
    return (
        jsonify(
            status="ready" if ready else "not ready",
            checks=checks,
            failed=failed,
            model_versions=versions,
            live_model_version=live_model_version(settings) if checks["database"] == "ok" else None,
            model_errors=errors,
        ),
        200 if ready else 503,
    )
