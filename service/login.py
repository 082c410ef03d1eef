"""The sign-in and sign-out pages (blueprint `auth`, so /login is `auth.login` everywhere).

Failed sign-ins are limited per address and e-mail by service.limits.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import structlog
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm

from core.accounts import authenticate, end_sessions
from core.db import session_scope
from core.tables import User
from service.auth import LoginForm, Moderator, plain_http_problem, session_moderator
from service.web import settings

log = structlog.stdlib.get_logger(__name__)

bp = Blueprint("auth", __name__)


class LogoutForm(FlaskForm):  # type: ignore[misc]
    """Empty: logging out is a POST carrying only the CSRF token."""


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce the moderator elsewhere."""
    if not target:
        return url_for("pages.queue")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.queue")
    if "\\" in target:
        return url_for("pages.queue")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET" and session_moderator() is not None:
        return redirect(_safe_next(request.args.get("next")))
    # Failed sign-ins are limited per address and e-mail by service.limits (a 401 counts).
    form = LoginForm()
    if form.validate_on_submit():
        with session_scope(settings()) as session:
            user = authenticate(session, form.email.data or "", form.password.data or "")
            moderator = Moderator.from_user(user) if user is not None else None
        if moderator is not None:
            login_user(moderator)
            log.info("moderator signed in", moderator_id=moderator.id)
            return redirect(_safe_next(request.args.get("next")))
        log.info("sign-in refused")
        flash("Wrong e-mail or password.", "error")
        return render_template("login.html", form=form, transport=plain_http_problem()), 401
    return render_template("login.html", form=form, transport=plain_http_problem())


@bp.post("/logout")
def logout() -> Any:
    form = LogoutForm()
    if not form.validate_on_submit():
        abort(400)
    moderator = session_moderator()
    if moderator is not None:
        # Ends this account's sessions on the server too: a copy of the cookie is worthless now.
        with session_scope(settings()) as session:
            user = session.get(User, moderator.id)
            if user is not None:
                end_sessions(user)
        log.info("moderator signed out", moderator_id=moderator.id)
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
