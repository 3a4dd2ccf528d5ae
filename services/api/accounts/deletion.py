"""Erasing an account and its personal data at once (CONTRACT section 3, Account deletion; App
Store guideline 5.1.1(v)), for `DELETE /me {password}` (deletion_handlers.py) and the emailed
deletion link (email_links.py).

PostgreSQL holds the truth, erased in one transaction, mostly by ON DELETE: the user's row takes
with it dogs, devices, badges, sessions and every other table that names a user with ON DELETE
CASCADE; invitations keep the partner's side, with the deleted person as null. The rest is done
here, in an order that keeps what others wait on short (notifications to the user go early, and
with them their pending pushes: the worker drops a job whose row is gone, and one it had already
claimed is refused by the check each send makes once it has its slot, docs/push.md):

1. lock the user's row (nobody can follow, invite or act as them meanwhile) and cancel their
   open invitations as `/cancel` does;
2. delete the user's own walks (with the likes and comments they received): the long part,
   holding only rows of theirs;
3. then what others share: the notifications their actions caused, their sessions and follows;
4. last, shortly before the commit, what others wait on: the counters of the walks they liked
   or commented on (locked in id order, changed in one statement), and the user row.

After the commit: gateways hear of the ended walks (`walk_ended`, then 4004) and every process
of the ended sessions (their tokens are refused, their sockets closed 4001), and the derived
copies in Redis go: ranking entries, the feed head, last locations in walks together.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

import asyncpg
from aiohttp import web
from redis.exceptions import RedisError

from services.api.accounts.sessions import announce_ended, end_user_sessions
from services.api.consents.retention import keep_after_deletion
from services.api.notifications.notify import forget_partner_in_notices
from services.api.rankings.weekly import forget_user
from services.api.together.endings import announce_walk_endings
from services.api.together.queries import StatusChange, withdraw_user
from services.api.walks.feed_heads import forget_viewer
from shared.keys import redis_key
from shared.walk_events import walker_keys

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Erased:
    """What the transaction erased that has copies outside PostgreSQL."""

    user_id: uuid.UUID
    sessions: list[uuid.UUID]  # every process must refuse their tokens
    walks: list[tuple[uuid.UUID, dt.datetime]]  # (id, started_at): the ranking entries
    walked_together: list[uuid.UUID]  # invitations that were accepted: last locations
    endings: list[StatusChange]


async def erase_account(
    conn: asyncpg.Connection, user_id: uuid.UUID, max_walk: dt.timedelta
) -> Erased:
    """Erase the account; call it inside a transaction, which it leaves to the caller to
    commit."""
    endings = await withdraw_user(conn, max_walk, user_id)
    walked_together = [
        row["id"]
        for row in await conn.fetch(
            """SELECT id FROM invitations
               WHERE (inviter_id = $1 OR invitee_id = $1) AND responded_at IS NOT NULL
                 AND status <> 'declined'""",
            user_id,
        )
    ]
    # Their words in the partner's kept invitation go with them.
    await conn.execute("UPDATE invitations SET message = NULL WHERE inviter_id = $1", user_id)
    await conn.execute("DELETE FROM notifications WHERE user_id = $1", user_id)
    walks = await conn.fetch(
        "DELETE FROM walks WHERE user_id = $1 RETURNING id, started_at", user_id
    )
    # Rows others share, but that nobody waits on for long: the notifications the user's
    # actions caused, their sessions, their follows both ways.
    await conn.execute("DELETE FROM notifications WHERE actor_id = $1", user_id)
    await forget_partner_in_notices(conn, user_id)
    sessions = await end_user_sessions(conn, user_id)
    await conn.execute("DELETE FROM follows WHERE follower_id = $1 OR followee_id = $1", user_id)
    # Last, what others do wait on (a like or comment on those walks locks the walk's row):
    # the counters of the walks they liked or commented on, locked in id order (two deletions
    # never deadlock) and changed in one statement, then the user row (little is left for its
    # ON DELETE to do), then the commit.
    await conn.execute(
        """SELECT id FROM walks
           WHERE id IN (SELECT walk_id FROM likes WHERE user_id = $1
                        UNION SELECT walk_id FROM comments WHERE user_id = $1)
           ORDER BY id FOR UPDATE""",
        user_id,
    )
    await conn.execute(
        """WITH liked AS (DELETE FROM likes WHERE user_id = $1 RETURNING walk_id),
                commented AS (DELETE FROM comments WHERE user_id = $1 RETURNING walk_id),
                gone AS (SELECT walk_id, 1 AS likes, 0 AS comments FROM liked
                         UNION ALL SELECT walk_id, 0, 1 FROM commented),
                per_walk AS (SELECT walk_id, sum(likes) AS likes, sum(comments) AS comments
                             FROM gone GROUP BY walk_id)
           UPDATE walks w SET like_count = w.like_count - per_walk.likes,
                              comment_count = w.comment_count - per_walk.comments,
                              updated_at = clock_timestamp()
           FROM per_walk WHERE w.id = per_walk.walk_id""",
        user_id,
    )
    await conn.execute("DELETE FROM users WHERE id = $1", user_id)
    await keep_after_deletion(conn, user_id)
    return Erased(
        user_id,
        sessions,
        [(row["id"], row["started_at"]) for row in walks],
        walked_together,
        endings,
    )


async def lock_and_erase(
    conn: asyncpg.Connection, user_id: uuid.UUID, max_walk: dt.timedelta
) -> Erased | None:
    """Lock the account's row and erase it, in the caller's transaction; None when it is gone
    already (a concurrent deletion). `DELETE /me` and the web's deletion link
    (`POST /auth/delete-confirm`) both erase through here; `forget_copies` after the commit."""
    locked = await conn.fetchval("SELECT true FROM users WHERE id = $1 FOR UPDATE", user_id)
    if locked is None:
        return None
    return await erase_account(conn, user_id, max_walk)


async def forget_copies(app: web.Application, erased: Erased) -> None:
    """After the commit: the sessions' and walks' endings, then the account's derived copies in
    Redis. A Redis failure is logged; each copy also expires or is filtered by its reader.

    The sessions end first, so the leaver's own socket closes with 4001 (its session ended)
    before the walk's end closes the partner's with 4004, as a suspension does."""
    redis = app[redis_key]
    await announce_ended(app, erased.sessions)
    await announce_walk_endings(redis, erased.endings, signed_out=erased.user_id)
    try:
        await forget_viewer(redis, erased.user_id)
        # One key a command: the keys of different walks may live on different cluster shards.
        async with redis.pipeline(transaction=False) as pipe:
            for invitation_id in erased.walked_together:
                pipe.delete(*walker_keys(invitation_id, erased.user_id))
            await pipe.execute()
        await forget_user(redis, erased.user_id, erased.walks)
    except RedisError as exc:
        log.warning(
            "a deleted account's copies in Redis were not all erased (%s); they expire",
            type(exc).__name__,
        )
