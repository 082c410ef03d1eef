"""Keys kept by the service: the sources' signing secrets encrypted at rest, and `up`'s local key.

HMAC verification needs each source's secret itself, so it cannot be hashed like a token; it is
stored as a Fernet token (AES-128-CBC + HMAC-SHA256) under a key derived with HKDF from
SECRETS_KEY, else SECRET_KEY, else (SQLite only, one machine) the key file `up` keeps in var/.
SECRETS_KEY may list several keys, comma-separated: the first encrypts, any of them decrypts,
so a key is rotated by putting the new one first.
"""

from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.settings import Settings, get_settings

# Marks a stored value as encrypted (and with what), so plain text is never mistaken for it.
ENCRYPTED_PREFIX = "fernet:"
LOCAL_KEY_FILE = "secret_key"
_HKDF_INFO = b"moderation: source signing secrets at rest"


class SecretsKeyError(RuntimeError):
    """No key to encrypt with, or a stored secret that the configured keys cannot open."""


def local_secret_key(var_dir: Path) -> str:
    """The random key `up` keeps in var/ (created 0600 in a 0700 folder on first use)."""
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = var_dir / LOCAL_KEY_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key)
    return key


def key_material(settings: Settings) -> tuple[str, ...]:
    """The configured keys, the encrypting one first."""
    if settings.secrets_key.strip():
        return tuple(k.strip() for k in settings.secrets_key.split(",") if k.strip())
    if settings.secret_key:
        return (settings.secret_key,)
    if settings.sqlalchemy_url.startswith("sqlite"):
        # A SQLite file lives on one machine: every process there finds the same key file.
        return (local_secret_key(settings.var_dir),)
    raise SecretsKeyError(
        "no key to encrypt the sources' signing secrets: set SECRETS_KEY (or SECRET_KEY)"
    )


def _fernet_key(material: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        material.encode("utf-8")
    )
    return base64.urlsafe_b64encode(derived)


@lru_cache(maxsize=8)
def _cipher(materials: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(m)) for m in materials])


def cipher(settings: Settings | None = None) -> MultiFernet:
    return _cipher(key_material(settings or get_settings()))


def encrypt_secret(plain: str, settings: Settings | None = None) -> str:
    return ENCRYPTED_PREFIX + cipher(settings).encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt_secret(stored: str, settings: Settings | None = None) -> str:
    if not stored.startswith(ENCRYPTED_PREFIX):
        raise SecretsKeyError(
            "a stored signing secret is not encrypted; run `moderation db upgrade`"
        )
    try:
        token = stored[len(ENCRYPTED_PREFIX) :].encode("ascii")
        return cipher(settings).decrypt(token).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise SecretsKeyError(
            "a stored signing secret cannot be decrypted: SECRETS_KEY / SECRET_KEY is not the key "
            "it was stored with (list the old key after the new one in SECRETS_KEY)"
        ) from exc
