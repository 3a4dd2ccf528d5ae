"""The tokens of the emails' links (CONTRACT section 3, Email).

A token is 32 random bytes (URL-safe text); only its SHA-256 is stored, in `account_tokens`,
one live token of each kind per account: issuing a new one replaces the row (the older link is
void), using one deletes it (it works once), a password change deletes every one of the
account's (`void_tokens`), and so does the account's deletion (ON DELETE CASCADE). A token past
its `expires_at` is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from typing import Literal

import asyncpg

Kind = Literal["verify", "reset", "delete"]
LIFETIMES: dict[Kind, dt.timedelta] = {
    "verify": dt.timedelta(days=7),
    "reset": dt.timedelta(minutes=30),
    "delete": dt.timedelta(minutes=30),
}
# Longer than any token we issue: anything longer is not one of ours (no hash needed to know).
MAX_TOKEN_CHARS = 128


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def issue_token(
    conn: asyncpg.Connection, user_id: uuid.UUID, kind: Kind
) -> tuple[str, dt.datetime]:
    """A new token of this kind for the account, voiding the one before; (token, expiry)."""
    token = secrets.token_urlsafe(32)
    expires_at: dt.datetime = await conn.fetchval(
        """INSERT INTO account_tokens (user_id, kind, token_hash, expires_at)
           VALUES ($1, $2, $3, clock_timestamp() + $4)
           ON CONFLICT (user_id, kind) DO UPDATE
              SET token_hash = EXCLUDED.token_hash, expires_at = EXCLUDED.expires_at,
                  created_at = EXCLUDED.created_at
           RETURNING expires_at""",
        user_id,
        kind,
        token_hash(token),
        LIFETIMES[kind],
    )
    return token, expires_at


async def peek_token(conn: asyncpg.Connection, kind: Kind, token: str) -> uuid.UUID | None:
    """The account a live token of this kind belongs to, without using it (a page that a
    link opens only shows what its button will do)."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    user_id: uuid.UUID | None = await conn.fetchval(
        """SELECT user_id FROM account_tokens
           WHERE token_hash = $1 AND kind = $2 AND expires_at > clock_timestamp()""",
        token_hash(token),
        kind,
    )
    return user_id


async def use_token(conn: asyncpg.Connection, kind: Kind, token: str) -> uuid.UUID | None:
    """Spend a live token of this kind: the account it belongs to, or None (unknown, used,
    voided or expired). Call it in the transaction that does what the token allows, so that
    it is spent exactly when that is done; of two concurrent uses, one wins."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    user_id: uuid.UUID | None = await conn.fetchval(
        """DELETE FROM account_tokens
           WHERE token_hash = $1 AND kind = $2 AND expires_at > clock_timestamp()
           RETURNING user_id""",
        token_hash(token),
        kind,
    )
    return user_id


async def void_tokens(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """A password change voids every link the account was sent."""
    await conn.execute("DELETE FROM account_tokens WHERE user_id = $1", user_id)
