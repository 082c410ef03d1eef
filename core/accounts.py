"""Moderator accounts and API tokens: argon2 password hashes, tokens stored only as sha256."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.domain import Role
from core.store import sha256_hex
from core.tables import ApiToken, User

MIN_PASSWORD_CHARS = 12
TOKEN_PREFIX = "modr_"

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


class AccountError(ValueError):
    """A refused account operation, with a message fit for the person who asked."""


@dataclass(frozen=True)
class NewToken:
    """A freshly minted API token: shown once, then only its sha256 remains."""

    token: str
    token_id: int


def normalise_email(email: str) -> str:
    """One spelling per address, so the same person cannot hold two accounts."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(f"not a valid e-mail address: {exc}") from exc


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(session: Session, email: str, role: str, password: str) -> User:
    """Add an account; the e-mail is unique and the password long enough."""
    address = normalise_email(email)
    try:
        role = Role(role).value
    except ValueError as exc:
        raise AccountError(f"role must be one of {', '.join(r.value for r in Role)}") from exc
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if user_by_email(session, address) is not None:
        raise AccountError(f"an account for {address} already exists")
    user = User(email=address, role=role, password_hash=_hasher.hash(password), active=True)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active account matching the credentials, or None; upgrades outdated hashes."""
    user = user_by_email(session, email)
    if user is None or not user.active:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def end_sessions(user: User) -> None:
    """Every signed-in browser of this account must sign in again (the session id carries the
    generation, so cookies issued before are refused by the server, wherever they were copied)."""
    user.session_generation = (user.session_generation or 0) + 1


def set_password(session: Session, user: User, password: str) -> None:
    """A new password; the account's sessions end, so whoever knew the old one is signed out."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    user.password_hash = _hasher.hash(password)
    end_sessions(user)
    session.flush()


def set_active(session: Session, user: User, active: bool) -> None:
    """Enable or disable an account; disabling ends its sessions (its tokens stop working too)."""
    if not active:
        end_sessions(user)
    user.active = active
    session.flush()


def user_for_session(session: Session, session_id: str) -> User | None:
    """The active account a session id ("<user id>:<generation>") still stands for, or None."""
    user_id, _, generation = session_id.partition(":")
    if not (user_id.isdigit() and generation.isdigit()):
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.active or user.session_generation != int(generation):
        return None
    return user


def mint_token(session: Session, user: User, name: str = "") -> NewToken:
    """A new bearer token for the review API; the caller shows it once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name[:100], token_sha256=sha256_hex(token))
    session.add(row)
    session.flush()
    return NewToken(token=token, token_id=row.id)


def user_by_token(session: Session, token: str) -> User | None:
    """The active account owning this bearer token, or None; records when it was last used."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == sha256_hex(token)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.last_used_at = datetime.now(UTC)
    return user
