"""`moderation users add|password|disable|enable|token`: accounts and review API tokens.

Passwords and tokens are shown once; a new password or disabling ends the account's sessions.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from sqlalchemy.orm import Session

from cli.database import cli_session
from core.accounts import (
    MIN_PASSWORD_CHARS,
    AccountError,
    create_user,
    generate_password,
    mint_token,
    set_active,
    set_password,
    user_by_email,
)
from core.domain import Role
from core.tables import User


@click.group()
def users() -> None:
    """Moderator and admin accounts."""


def _interactive() -> bool:
    """A person at a terminal, who can be prompted (scripts get a generated password)."""
    return sys.stdin.isatty()


def _read_password(password_stdin: bool, generate: bool) -> tuple[str, bool]:
    """(password, generated): from stdin, generated, or prompted twice on a terminal."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
        return password, False
    if generate or not _interactive():
        return generate_password(), True
    password = click.prompt(
        f"Password (at least {MIN_PASSWORD_CHARS} characters, empty to generate one)",
        hide_input=True,
        default="",
        show_default=False,
    )
    if not password:
        return generate_password(), True
    again = click.prompt("Repeat the password", hide_input=True)
    if again != password:
        raise click.ClickException("the passwords differ")
    return password, False


@users.command()
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.MODERATOR.value,
    show_default=True,
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
def add(email: str, role: str, password_stdin: bool, generate: bool) -> None:
    """Create an account that can sign in to the moderator pages."""
    password, generated = _read_password(password_stdin, generate)
    with cli_session(AccountError) as session:
        user = create_user(session, email, role, password)
        address, user_role = user.email, user.role
    click.echo(f"Created {user_role} account {address}.")
    if generated:
        click.echo(f"Password (shown once): {password}")


@users.command()
@click.argument("email")
@click.option("--name", default="", help="What the token is for, e.g. the script using it.")
def token(email: str, name: str) -> None:
    """Mint an API token for the review API (Authorization: Bearer ...); printed once."""
    with cli_session(AccountError) as session:
        minted = mint_token(session, _account(session, email), name)
    click.echo(minted.token)


def _account(session: Session, email: str) -> User:
    user = user_by_email(session, email)
    if user is None:
        raise click.ClickException(f"no account for {email}")
    return user


def _change_account(email: str, change: Callable[[Session, User], None]) -> str:
    """Apply a change to the account for ``email``; returns its normalised address."""
    with cli_session(AccountError) as session:
        user = _account(session, email)
        change(session, user)
        return user.email


@users.command()
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
def password(email: str, password_stdin: bool, generate: bool) -> None:
    """Set a new password; every signed-in session of the account ends."""
    new_password, generated = _read_password(password_stdin, generate)
    address = _change_account(email, lambda s, user: set_password(s, user, new_password))
    click.echo(f"New password set for {address}; its sessions have ended.")
    if generated:
        click.echo(f"Password (shown once): {new_password}")


@users.command()
@click.argument("email")
def disable(email: str) -> None:
    """Disable an account: it cannot sign in, its sessions end and its API tokens stop working."""
    address = _change_account(email, lambda s, user: set_active(s, user, False))
    click.echo(f"Disabled {address}; its sessions have ended.")


@users.command()
@click.argument("email")
def enable(email: str) -> None:
    """Enable a disabled account again (it signs in anew)."""
    address = _change_account(email, lambda s, user: set_active(s, user, True))
    click.echo(f"Enabled {address}.")
