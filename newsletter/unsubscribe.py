"""Per-recipient unsubscribe tokens (HMAC of the address) and the secret they are signed with.

The secret is the environment variable NEWSLETTER_UNSUBSCRIBE_SECRET when set (share it with
the web endpoint that handles the one-click URL), else a random secret created once and kept in
the state database, so tokens stay valid across runs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets

from newsletter.state import State

SECRET_ENV = "NEWSLETTER_UNSUBSCRIBE_SECRET"
_META_KEY = "unsubscribe_secret"


def load_secret(state: State | None, *, create: bool = True) -> bytes:
    """The signing secret: the environment variable, else the database's (made when `create`).

    Without either (a --dry-run before the first real send), a throwaway secret: such tokens
    are only for looking at.
    """
    value = os.environ.get(SECRET_ENV)
    if value:
        return value.encode("utf-8")
    stored = state.get_meta(_META_KEY) if state is not None else None
    if stored is None and state is not None and create:
        stored = state.ensure_meta(_META_KEY, secrets.token_hex(32))
    return stored.encode("ascii") if stored else secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_token(secret: bytes, address: str) -> str:
    """`<base64url(address)>.<base64url(HMAC-SHA256(secret, address)[:16])>`, URL-safe."""
    normalized = address.strip().lower().encode("utf-8")
    mac = hmac.new(secret, normalized, hashlib.sha256).digest()[:16]
    return f"{_b64(normalized)}.{_b64(mac)}"


def read_token(secret: bytes, token: str) -> str | None:
    """The address a token was made for, or None when it is malformed or not signed by us."""
    encoded, _, _mac = token.partition(".")
    try:
        address = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return address if hmac.compare_digest(make_token(secret, address), token) else None


def unsubscribe_link(base_url: str, token: str) -> str:
    """`base_url` with `token=...` appended as a query parameter."""
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}token={token}"
