"""Sessions (CONTRACT section 3, Sessions): started by sign-up and login, continued by refresh,
ended by sign-out, a replayed refresh token, a password change or an account deletion.

A session is a `sessions` row, and every token issued in it carries its id (`sid`). The row
names the one refresh token that may be used next (`refresh_jti`): refreshing swaps it for a
new one in one conditional UPDATE, and any other refresh token of the session presented again
is a replay (stolen, or copied), which ends the whole session, so that the thief's newer pair
stops working too (OAuth 2.0 Security BCP, refresh token rotation).

Ending sessions is two steps, because other processes must hear of it only once it is true:
in the transaction that ends them, `end_session` / `end_user_sessions` delete their rows (a
trigger records each end in `ended_sessions`) and return their ids; after that transaction has
committed, `announce_ended(app, ids)` refuses them everywhere (shared/ended_sessions.py).

Once an hour each API process forgets sessions whose refresh token has expired, and ends that
no access token can outlive any more.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from services.api.social.users import fetch_me
from shared.ended_sessions import ended_sessions_key, retention_s
from shared.keys import db_pool_key, settings_key
from shared.settings import Settings
from shared.tokens import TokenClaims, issue_token

log = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL_S = 3600.0


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str


@dataclass(frozen=True, slots=True)
class _Issued:
    tokens: Tokens
    refresh_jti: uuid.UUID
    refresh_expires_at: dt.datetime


def _issue(settings: Settings, user_id: uuid.UUID, session_id: uuid.UUID) -> _Issued:
    access, _ = issue_token(
        settings.jwt_key, user_id, "access", settings.access_token_ttl_s, session_id=session_id
    )
    jti = uuid.uuid4()
    refresh, refresh_expires_at = issue_token(
        settings.jwt_key,
        user_id,
        "refresh",
        settings.refresh_token_ttl_s,
        session_id=session_id,
        jti=jti,
    )
    return _Issued(Tokens(access, refresh), jti, refresh_expires_at)


async def start_session(conn: asyncpg.Connection, settings: Settings, user_id: uuid.UUID) -> Tokens:
    session_id = uuid.uuid4()
    issued = _issue(settings, user_id, session_id)
    await conn.execute(
        """INSERT INTO sessions (id, user_id, refresh_jti, refresh_expires_at)
           VALUES ($1, $2, $3, $4)""",
        session_id,
        user_id,
        issued.refresh_jti,
        issued.refresh_expires_at,
    )
    return issued.tokens


async def rotate_session(
    conn: asyncpg.Connection, settings: Settings, refresh: TokenClaims
) -> Tokens | None:
    """A new pair for the session of this refresh token, if it is the session's current one;
    None if it is not (a replay: `end_session` it) or the session has ended."""
    issued = _issue(settings, refresh.user_id, refresh.session_id)
    rotated = await conn.fetchval(
        """UPDATE sessions SET refresh_jti = $4, refresh_expires_at = $5
           WHERE id = $1 AND user_id = $2 AND refresh_jti = $3 AND refresh_expires_at > now()
           RETURNING true""",
        refresh.session_id,
        refresh.user_id,
        refresh.jti,
        issued.refresh_jti,
        issued.refresh_expires_at,
    )
    return issued.tokens if rotated else None


async def session_answer(
    conn: asyncpg.Connection, settings: Settings, user_id: uuid.UUID, tokens: Tokens
) -> dict[str, Any]:
    """What a route that starts a session answers (sign-up, login, refresh, a password change
    or reset): the caller's own user object and the new pair."""
    return {
        "user": await fetch_me(conn, user_id),
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "token_type": "bearer",
        "expires_in": settings.access_token_ttl_s,
    }


async def end_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> list[uuid.UUID]:
    """End one session; its id, or nothing if it had already ended."""
    rows = await conn.fetch("DELETE FROM sessions WHERE id = $1 RETURNING id", session_id)
    return [row["id"] for row in rows]


async def end_user_sessions(
    conn: asyncpg.Connection, user_id: uuid.UUID, *, keep: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """End every session of a user (but `keep`, if given); the ids of those that ended.

    Call it in the transaction that changes the account, before its user row goes, and
    `announce_ended` the ids once that transaction has committed.
    """
    rows = await conn.fetch(
        "DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2 RETURNING id",
        user_id,
        keep,
    )
    return [row["id"] for row in rows]


async def announce_ended(app: web.Application, session_ids: list[uuid.UUID]) -> None:
    """After the commit: these sessions' tokens are refused in every process within a second,
    and the gateways close their sockets with 4001."""
    await app[ended_sessions_key].announce(session_ids)


async def forget_old_sessions(pool: asyncpg.Pool, settings: Settings) -> None:
    """Drop the sessions whose refresh token expired (the last of their access tokens expired
    long before) and the ended sessions no access token can outlive any more."""
    await pool.execute("DELETE FROM sessions WHERE refresh_expires_at < now()")
    await pool.execute(
        "DELETE FROM ended_sessions WHERE ended_at < now() - make_interval(secs => $1)",
        retention_s(settings),
    )


async def _keep_house(app: web.Application) -> None:
    while True:
        try:
            await forget_old_sessions(app[db_pool_key], app[settings_key])
        except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
            log.warning("old sessions not forgotten: %s", type(exc).__name__)
        await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)


@asynccontextmanager
async def session_housekeeping_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_keep_house(app), name="session-housekeeping")
    yield
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
