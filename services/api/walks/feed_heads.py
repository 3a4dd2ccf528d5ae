"""Feed heads: for each viewer, a bound in Redis on the newest walk of their feed, so that the
30-second poll that finds nothing new (nearly all of them) is answered without PostgreSQL.

A poll with nothing newer than `since` has a body fixed by `since` alone (no items, a count of
0, `since` echoed), so it needs the database only to learn that nothing is newer. The head
`feed:head:{viewer}` says so: every walk in the viewer's feed sorts at or below it, by the
feed's order (created_at, id). A head may be too high (that only costs the poll a query), never
too low. How it stays so:

- A new walk raises its author's head and, unless private, its author's followers' heads, inside
  the walk's transaction (before the commit, so no poll can see the walk before its head moves).
- A new follow raises the follower's head to the followee's newest walk that is not private.
- Deleting a walk or unfollowing only takes walks out of feeds: the bound stays true.
- A head is trusted only once "settled": a missing head (a new viewer, an expired key, a Redis
  that lost its data) is first created unsettled, raised by walks like any other, and settled
  by the next poll, which reads the feed from a snapshot taken after the head existed.
- Every head expires HEAD_TTL_S after it was created, so a head left too low by a failed raise
  (Redis unreachable while a walk was recorded) mends itself within that time.

Walks and follows must therefore be written through the API, which owns the schema; a direct
write to the tables (a seeder, a test helper) is not seen until the heads expire.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import uuid
from collections.abc import Iterable

import asyncpg
from aiohttp import web
from redis.exceptions import RedisError

from services.api.web.pagination import BEGINNING, Cursor
from shared.cluster import PipelinedConnection
from shared.redis_client import RedisClient, slot_groups

# The feed poll's reads of its viewer's head: one pipelined connection, or one per primary on a
# Redis Cluster.
feed_head_reads_key: web.AppKey[PipelinedConnection] = web.AppKey("feed_head_reads")

log = logging.getLogger(__name__)

HEAD_TTL_S = 600
# A poll waits this long for its head before it reads the database instead.
READ_TIMEOUT_S = 1.0
# Heads raised per script call: a walk by someone with many followers must not hold Redis long.
RAISE_BATCH = 500

# How a head's value starts (the scripts below write the same letters).
_SETTLED, _UNSETTLED = b"s", "u"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)

# KEYS: heads; ARGV: the bound, the TTL of a head this creates. A missing head is created
# unsettled; an existing one is raised, settled or not, and keeps its expiry.
_RAISE = """
for _, key in ipairs(KEYS) do
    local head = redis.call('GET', key)
    if not head then
        redis.call('SET', key, 'u' .. ARGV[1], 'EX', ARGV[2])
    elseif string.sub(head, 2) < ARGV[1] then
        redis.call('SET', key, string.sub(head, 1, 1) .. ARGV[1], 'KEEPTTL')
    end
end
"""
# KEYS[1]: a head; ARGV[1]: the newest feed walk in a snapshot taken after the head existed.
# Settles the head if it is still there and unsettled (one lost since was never raised).
_SETTLE = """
local head = redis.call('GET', KEYS[1])
if head and string.sub(head, 1, 1) == 'u' then
    local bound = string.sub(head, 2)
    if bound < ARGV[1] then bound = ARGV[1] end
    redis.call('SET', KEYS[1], 's' .. bound, 'KEEPTTL')
end
"""


def head_key(viewer_id: uuid.UUID) -> str:
    return f"feed:head:{viewer_id}"


def sort_key(cursor: Cursor) -> str:
    """The cursor as a fixed-width string that sorts as (created_at, id) sorts in PostgreSQL:
    microseconds since 1970 in 18 digits (year 9999 fits), then the UUID's 32 hex digits."""
    micros = max(0, (cursor.created_at - _EPOCH) // _MICROSECOND)
    return f"{micros:018d}{cursor.id.hex}"


class HeadCheck(enum.Enum):
    """What a poll learns from the viewer's head."""

    NOTHING_NEWER = "nothing newer"  # answer without the database
    QUERY = "query"  # read the database
    QUERY_AND_SETTLE = "query and settle"  # read the database, then `settle` the head


async def check(reads: PipelinedConnection, viewer_id: uuid.UUID, since: Cursor) -> HeadCheck:
    """Whether the viewer's feed certainly has no walk newer than `since`. With Redis down,
    every poll reads the database."""
    key = head_key(viewer_id)
    try:
        [head] = await reads.execute([("GET", key)])
        if head is None:
            # Below every walk: the bound of a head nobody has settled yet.
            placeholder = _UNSETTLED + sort_key(BEGINNING)
            await reads.execute([("SET", key, placeholder, "EX", HEAD_TTL_S, "NX")])
            return HeadCheck.QUERY_AND_SETTLE
    except RedisError as exc:
        log.debug("feed head not read (%s)", type(exc).__name__)
        return HeadCheck.QUERY
    if not isinstance(head, bytes) or not head.startswith(_SETTLED):
        return HeadCheck.QUERY_AND_SETTLE
    return HeadCheck.NOTHING_NEWER if head[1:].decode() <= sort_key(since) else HeadCheck.QUERY


async def settle(redis: RedisClient, viewer_id: uuid.UUID, newest: Cursor) -> None:
    """Settle the viewer's head with `newest`: a bound on their feed in a snapshot read after
    `check` answered QUERY_AND_SETTLE."""
    try:
        await redis.register_script(_SETTLE)(keys=[head_key(viewer_id)], args=[sort_key(newest)])
    except RedisError as exc:
        log.debug("feed head not settled (%s)", type(exc).__name__)


async def raise_heads(redis: RedisClient, viewer_ids: Iterable[uuid.UUID], newest: Cursor) -> None:
    """Raise these viewers' heads to at least `newest`. A failure is logged and swallowed: the
    write that called this must not fail with Redis, and expiry mends a head left too low."""
    bound = sort_key(newest)
    try:
        async with redis.pipeline(transaction=False) as pipe:
            # On a cluster each script call keeps to one hash slot (and the pipeline goes to
            # every shard at once); on one Redis, all heads are one group.
            for group in slot_groups(redis, (head_key(v) for v in viewer_ids)):
                for start in range(0, len(group), RAISE_BATCH):
                    chunk = group[start : start + RAISE_BATCH]
                    pipe.eval(_RAISE, len(chunk), *chunk, bound, HEAD_TTL_S)
            await pipe.execute()
    except RedisError as exc:
        log.warning("feed heads not raised (%s); they mend when they expire", type(exc).__name__)


async def forget_viewer(redis: RedisClient, viewer_id: uuid.UUID) -> None:
    """Drop a deleted account's own head (the heads of others stay true bounds: its walks
    only leave their feeds)."""
    await redis.delete(head_key(viewer_id))


async def raise_for_walk(
    redis: RedisClient,
    conn: asyncpg.Connection,
    author_id: uuid.UUID,
    visibility: str,
    walk: Cursor,
) -> None:
    """In the walk's transaction: raise the heads of everyone whose feed the walk enters."""
    viewers = [author_id]
    if visibility != "private":
        viewers += (
            await conn.fetchval(
                "SELECT array_agg(follower_id) FROM follows WHERE followee_id = $1", author_id
            )
            or []
        )
    await raise_heads(redis, viewers, walk)


async def raise_for_follow(
    redis: RedisClient,
    conn: asyncpg.Connection,
    follower_ids: list[uuid.UUID],
    followee_id: uuid.UUID,
) -> None:
    """In the follows' transaction: the followee's walks enter each new follower's feed."""
    newest = await conn.fetchrow(
        """SELECT created_at, id FROM walks
           WHERE user_id = $1 AND visibility <> 'private'
           ORDER BY created_at DESC, id DESC LIMIT 1""",
        followee_id,
    )
    if newest is not None and follower_ids:
        await raise_heads(redis, follower_ids, Cursor.of(newest))
