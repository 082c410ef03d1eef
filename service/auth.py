"""Who is asking: moderator sessions (Flask-Login, CSRF), review API tokens, roles, and headers.

The sign-in and sign-out pages themselves are in service.login.

Pages use `login_required` / `admin_required`; the JSON review API uses
`moderator_token_or_session_required`, which accepts a bearer token (no CSRF: no cookie is
involved) or the page's session (then the X-CSRFToken header is checked like a form).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    g,
    render_template,
    request,
)
from flask_login import LoginManager, current_user
from flask_login import login_required as _flask_login_required
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from core.accounts import user_by_token, user_for_session
from core.db import session_scope
from core.domain import Role
from core.settings import Settings
from core.tables import User
from service import web
from service.errors import ApiError, Forbidden, Unauthorized, problem_response

login_manager = LoginManager()
csrf = CSRFProtect()

F = TypeVar("F", bound=Callable[..., Any])

# No inline scripts or styles anywhere: the JS and CSS are static files.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Moderator:
    """The signed-in person, detached from any database session."""

    id: int
    email: str
    role: str
    active: bool = True
    session_generation: int = 0

    @classmethod
    def from_user(cls, user: User) -> Moderator:
        return cls(
            id=user.id,
            email=user.email,
            role=user.role,
            active=user.active,
            session_generation=user.session_generation,
        )

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    # Flask-Login's user protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The session id: with the generation in it, the server can end sessions it issued."""
        return f"{self.id}:{self.session_generation}"


class LoginForm(FlaskForm):  # type: ignore[misc]
    """The sign-in form (service.login shows it; service.limits re-renders it when throttled)."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])


def load_user(session_id: str) -> Moderator | None:
    """Checked on every request: a session whose account moved on a generation is refused."""
    with session_scope(web.settings()) as session:
        user = user_for_session(session, session_id)
        return Moderator.from_user(user) if user is not None else None


login_manager.user_loader(load_user)


def login_required(view: F) -> F:
    """Pages: anonymous visitors are sent to the login page."""
    return _flask_login_required(view)  # type: ignore[no-any-return]


def admin_required(view: F) -> F:
    """Admin-only pages and API routes: moderators get 403, anonymous visitors 401 / login."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        api = request.path.startswith("/v1/")
        moderator = _api_moderator() if api else session_moderator()
        if moderator is None:
            if api:
                raise Unauthorized(
                    "sign in or send a moderator token",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return login_manager.unauthorized()
        if not moderator.is_admin:
            if api:
                raise Forbidden("this needs an admin account")
            return render_template("error.html", message="This page is for admins."), 403
        g.moderator = moderator
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def session_moderator() -> Moderator | None:
    user = current_user
    if user and user.is_authenticated:
        return user._get_current_object()  # type: ignore[no-any-return]
    return None


def _api_moderator() -> Moderator | None:
    """Bearer token first; else the page's session, with its CSRF token checked on writes."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        with session_scope(web.settings()) as session:
            user = user_by_token(session, token.strip())
            return Moderator.from_user(user) if user is not None else None
    moderator = session_moderator()
    if moderator is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    return moderator


def moderator_token_or_session_required(view: F) -> F:
    """Review API: a moderator's bearer token or signed-in session, else 401 problem+json."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        moderator = _api_moderator()
        if moderator is None:
            raise Unauthorized(
                "sign in or send a moderator token", headers={"WWW-Authenticate": "Bearer"}
            )
        if moderator.role not in (Role.MODERATOR.value, Role.ADMIN.value):
            raise Forbidden("this needs a moderator account")
        g.moderator = moderator
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def current_moderator() -> Moderator:
    """The moderator the current request was authenticated as (set by the decorators)."""
    moderator = getattr(g, "moderator", None)
    if moderator is None:
        moderator = session_moderator()
    if moderator is None:
        raise Unauthorized("sign in or send a moderator token")
    return moderator


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith(("/moderate", "/login", "/logout", "/admin")):
        # Moderator pages show comments and e-mails: never cached by shared caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _protect_forms() -> None:
    """CSRF on every browser form; /v1/ APIs check it themselves when a session cookie is used."""
    if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and not request.path.startswith(
        "/v1/"
    ):
        csrf.protect()


# Browsers keep Secure cookies of these hosts over plain http too (potentially trustworthy).
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def plain_http_problem() -> str | None:
    """What to set when this browser cannot keep a session: a Secure cookie sent over http.

    The browser drops the cookie, so the sign-in form ends in "CSRF session token is missing";
    the page says why instead, and what would fix it.
    """
    if not current_app.config.get("SESSION_COOKIE_SECURE") or request.is_secure:
        return None
    host = urlsplit("//" + request.host).hostname or ""
    if host in _LOOPBACK_HOSTS or host.endswith(".localhost"):
        return None
    return (
        f"This page came over plain HTTP, but session cookies are sent only over HTTPS, "
        f"so signing in cannot work. Serve it over HTTPS (behind a TLS proxy, set "
        f"TRUSTED_PROXIES=1 so its X-Forwarded-Proto header is believed), or, on a private "
        f"network only, set PUBLIC_URL=http://{request.host} to allow cookies over plain HTTP."
    )


def _csrf_error(error: CSRFError) -> Any:
    if request.path.startswith("/v1/"):
        return problem_response(
            ApiError(error.description, status=400, title="CSRF token missing or invalid")
        )
    message = plain_http_problem() or error.description
    return render_template("error.html", message=message), 400


def init_auth(app: Flask) -> None:
    """Sessions, CSRF on every form, secure cookies and the security headers."""
    settings: Settings = app.config["MODERATION_SETTINGS"]
    # Secure cookies except in debug/test runs or when served over plain http on purpose.
    secure = not (app.debug or app.testing or settings.public_url.startswith("http://"))
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        # Checked in _protect_forms instead, so JSON APIs with bearer or signature auth are exempt.
        WTF_CSRF_CHECK_DEFAULT=False,
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to review comments."
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    app.before_request(_protect_forms)
    app.register_error_handler(CSRFError, _csrf_error)
    app.after_request(_security_headers)
