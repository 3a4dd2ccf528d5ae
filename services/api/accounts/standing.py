"""An account's standing (CONTRACT section 6): suspended until a time, banned (suspended without
end, `users.suspended_until = 'infinity'`), and the emails a ban keeps from signing up again.

Moderation (above accounts) writes these; sign-up and login read them here, so that neither
needs to import the moderation domain. A ban keeps only a keyed hash of the lowercased email
(HMAC-SHA256 under a key derived from `JWT_SECRET`), never the email, for `BAN_RETENTION_DAYS`,
so deleting the account and signing up again does not undo it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from dataclasses import dataclass

import asyncpg

from shared.errors import ApiError
from shared.settings import Settings


@dataclass(frozen=True, slots=True)
class Suspension:
    until: dt.datetime | None  # None: a ban

    @property
    def banned(self) -> bool:
        return self.until is None


def suspended_error(until: dt.datetime | None) -> ApiError:
    """403 `account_suspended` with `details: [{"until": <time> | null}]` (null for a ban)."""
    return ApiError(403, "account_suspended", "this account is suspended", [{"until": until}])


async def current_suspension(conn: asyncpg.Connection, user_id: uuid.UUID) -> Suspension | None:
    """The user's suspension in force now, or None."""
    row = await conn.fetchrow(
        """SELECT suspended_until = 'infinity' AS banned, suspended_until FROM users
           WHERE id = $1 AND suspended_until > now()""",
        user_id,
    )
    if row is None:
        return None
    return Suspension(None if row["banned"] else row["suspended_until"])


def email_hash(settings: Settings, email: str) -> str:
    key = hashlib.sha256(b"withbowwow banned email|" + settings.jwt_key.encode()).digest()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


async def email_banned(conn: asyncpg.Connection, settings: Settings, email: str) -> bool:
    banned: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM banned_emails WHERE email_hash = $1 AND expires_at > now())",
        email_hash(settings, email),
    )
    return banned
