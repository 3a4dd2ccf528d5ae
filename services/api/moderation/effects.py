"""What a moderation decision does to its target, in the decision's transaction, and what it
sets off once that transaction has committed.

- hide / restore: a walk or comment's `hidden_reason`; who sees what from then on is the
  visibility rule's business (services/api/visibility.py). A hidden walk leaves the weekly
  rankings (Redis) after commit, and returns on restore.
- suspend / ban / unsuspend: `users.suspended_until` ('infinity' for a ban). A suspension ends
  every session through the same path as sign-out (`end_user_sessions`, then `announce_ended`:
  the gateways close the person's sockets with 4001) and cancels their open invitations as
  `/cancel` does (a live walk's partner gets `walk_ended` and 4004). A ban also keeps a hash of
  the email (accounts/standing.py) for `BAN_RETENTION_DAYS`.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field
from typing import Literal

import asyncpg
from aiohttp import web

from services.api.accounts.sessions import announce_ended, end_user_sessions
from services.api.accounts.standing import email_hash
from services.api.notifications.notify import notify
from services.api.notifications.push_jobs import push_jobs_key
from services.api.rankings.walk_facts import WalkFacts
from services.api.rankings.weekly import count_walk, forget_week, uncount_walk
from services.api.together.endings import announce_walk_endings
from services.api.together.queries import StatusChange, withdraw_user
from services.api.visibility import COUNTED_VISIBILITIES
from services.api.walks import feed_heads
from services.api.web.pagination import Cursor
from shared.keys import db_pool_key, redis_key, settings_key
from shared.redis_client import RedisClient
from shared.settings import Settings

log = logging.getLogger(__name__)

ContentType = Literal["walk", "comment"]
_TABLES = {"walk": "walks", "comment": "comments"}


@dataclass
class AfterCommit:
    """What to do once the decision's transaction has committed."""

    sessions: list[uuid.UUID] = field(default_factory=list)
    endings: list[StatusChange] = field(default_factory=list)
    # Whose sessions ended with their walks (a suspension): their sockets close with 4001.
    signed_out: uuid.UUID | None = None
    notifications: list[uuid.UUID] = field(default_factory=list)
    uncount: list[WalkFacts] = field(default_factory=list)
    count: list[WalkFacts] = field(default_factory=list)

    async def run(self, app: web.Application) -> None:
        # The person's own sockets hear first that their sessions ended (4001), then the
        # partners that the walks ended (walk_ended, 4004).
        await announce_ended(app, self.sessions)
        await announce_walk_endings(app[redis_key], self.endings, self.signed_out)
        app[push_jobs_key].emit([n for n in self.notifications if n is not None])
        redis, pool = app[redis_key], app[db_pool_key]
        for walk in self.uncount:
            try:
                await uncount_walk(redis, pool, walk)
            except Exception:
                log.exception("weekly ranking not updated for hidden walk %s", walk.id)
                await _forget_week(app, walk)
        for walk in self.count:
            try:
                await count_walk(redis, pool, walk)
            except Exception:
                log.exception("weekly ranking not updated for restored walk %s", walk.id)
                await _forget_week(app, walk)


async def _forget_week(app: web.Application, walk: WalkFacts) -> None:
    try:
        await forget_week(app[redis_key], walk.started_at)
    except Exception as exc:
        log.warning("could not mark the weekly ranking for rebuild (%s)", type(exc).__name__)


def _facts(row: asyncpg.Record) -> WalkFacts:
    return WalkFacts(
        id=row["id"],
        user_id=row["user_id"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        distance_m=row["distance_m"],
        invitation_id=row["invitation_id"],
        created_at=row["created_at"],
        visibility=row["visibility"],
    )


_WALK_FACTS = "id, user_id, started_at, ended_at, distance_m, invitation_id, created_at, visibility"


async def hide_content(
    conn: asyncpg.Connection,
    kind: ContentType,
    content_id: uuid.UUID,
    reason: str,
    after: AfterCommit,
) -> bool:
    """Hide a walk or comment (if it exists and is not hidden yet) and tell its author with a
    `content_hidden` notification; whether it was hidden now."""
    if kind == "walk":
        row = await conn.fetchrow(
            f"""UPDATE walks SET hidden_reason = $2, updated_at = clock_timestamp()
                WHERE id = $1 AND hidden_reason IS NULL RETURNING {_WALK_FACTS}""",
            content_id,
            reason,
        )
        if row is not None and row["visibility"] in COUNTED_VISIBILITIES:
            after.uncount.append(_facts(row))
    else:
        row = await conn.fetchrow(
            """UPDATE comments SET hidden_reason = $2 WHERE id = $1 AND hidden_reason IS NULL
               RETURNING user_id, walk_id""",
            content_id,
            reason,
        )
        if row is not None:  # the interactions poll's clock moves: the comment left the list
            await conn.execute(
                "UPDATE walks SET updated_at = clock_timestamp() WHERE id = $1", row["walk_id"]
            )
    if row is None:
        return False
    notification = await notify(
        conn,
        recipient_id=row["user_id"],
        type="content_hidden",
        actor_id=None,
        data={"target": {"type": kind, "id": str(content_id)}, "reason": reason},
    )
    if notification is not None:
        after.notifications.append(notification)
    return True


async def restore_content(
    conn: asyncpg.Connection,
    redis: RedisClient,
    kind: ContentType,
    content_id: uuid.UUID,
    after: AfterCommit,
) -> bool | None:
    """Undo a hide; None if there is no such walk or comment, else whether it was hidden. A
    walk enters feeds again as a new one does: the feed heads are raised before the commit."""
    exists = await conn.fetchval(
        f"SELECT hidden_reason IS NOT NULL FROM {_TABLES[kind]} WHERE id = $1 FOR UPDATE",
        content_id,
    )
    if exists is None:
        return None
    if not exists:
        return False
    if kind == "walk":
        row = await conn.fetchrow(
            f"""UPDATE walks SET hidden_reason = NULL, updated_at = clock_timestamp()
                WHERE id = $1 RETURNING {_WALK_FACTS}""",
            content_id,
        )
        if row["visibility"] in COUNTED_VISIBILITIES:
            after.count.append(_facts(row))
        await feed_heads.raise_for_walk(
            redis, conn, row["user_id"], row["visibility"], Cursor.of(row)
        )
    else:
        walk_id = await conn.fetchval(
            "UPDATE comments SET hidden_reason = NULL WHERE id = $1 RETURNING walk_id", content_id
        )
        await conn.execute("UPDATE walks SET updated_at = clock_timestamp() WHERE id = $1", walk_id)
    return True


async def suspend_user(
    conn: asyncpg.Connection,
    settings: Settings,
    user_id: uuid.UUID,
    until: dt.datetime | None,
    after: AfterCommit,
) -> bool:
    """Suspend the user until `until` (None: ban); whether the account exists. Ends every
    session and open invitation of theirs (announced after commit)."""
    email = await conn.fetchval(
        """UPDATE users SET suspended_until = COALESCE($2, 'infinity'::timestamptz)
           WHERE id = $1 RETURNING email""",
        user_id,
        until,
    )
    if email is None:
        return False
    max_walk = dt.timedelta(seconds=settings.max_walk_duration_s)
    after.endings.extend(await withdraw_user(conn, max_walk, user_id))
    after.signed_out = user_id
    after.sessions.extend(await end_user_sessions(conn, user_id))
    if until is None:
        await conn.execute(
            """INSERT INTO banned_emails (email_hash, expires_at)
               VALUES ($1, now() + make_interval(days => $2))
               ON CONFLICT (email_hash) DO UPDATE SET banned_at = now(),
                   expires_at = EXCLUDED.expires_at""",
            email_hash(settings, email),
            settings.ban_retention_days,
        )
    return True


async def unsuspend_user(
    conn: asyncpg.Connection, redis: RedisClient, settings: Settings, user_id: uuid.UUID
) -> bool:
    """Lift a suspension or ban; whether the account exists. Their walks enter their
    followers' feeds again as after a new follow: the feed heads are raised before commit."""
    email = await conn.fetchval(
        "UPDATE users SET suspended_until = NULL WHERE id = $1 RETURNING email", user_id
    )
    if email is None:
        return False
    await conn.execute(
        "DELETE FROM banned_emails WHERE email_hash = $1", email_hash(settings, email)
    )
    followers = await conn.fetchval(
        "SELECT array_agg(follower_id) FROM follows WHERE followee_id = $1", user_id
    )
    await feed_heads.raise_for_follow(redis, conn, list(followers or []), user_id)
    return True


async def run_after(request: web.Request, after: AfterCommit) -> None:
    await after.run(request.app)


def settings_of(request: web.Request) -> Settings:
    return request.app[settings_key]
