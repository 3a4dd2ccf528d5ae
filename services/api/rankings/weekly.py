"""Weekly rankings: Redis keeps each Seoul week's totals; PostgreSQL stays the source of truth.

Per week (keyed by its Monday in Seoul; the braces are literal, a hash tag, so that on a Redis
Cluster a week's keys share one slot and every script below runs on one shard):

- `rank:weekly:{<date>}:distance` ZSET user id -> total distance in whole millimetres (integers,
  so equal distances tie exactly and sums never drift by float rounding),
- `rank:weekly:{<date>}:walks` HASH user id -> walk count,
- `rank:weekly:{<date>}:counted` SET of the ids of the walks those totals include,
- `rank:weekly:{<date>}:built` marker: the keys above hold the whole week.

Only public walks count (`COUNTED_VISIBILITIES`, the visibility rule's, which badges follow too).

A week whose marker is missing (never built, expired, or Redis lost it) is rebuilt from the walks
table, into keys of its own, which one script then moves in place unless a marker appeared
meanwhile. A rebuild may read the database just before or just after a walk commits, and that
walk's hook may run before or after the rebuild lands; the `counted` set makes adding or removing
a walk idempotent, and a rebuild only lands if no other rebuild did in between, so the totals end
up exact in every interleaving.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web
from redis.typing import FieldT

from services.api.notifications.notify import notify
from services.api.rankings.walk_facts import WalkFacts
from services.api.visibility import COUNTED_VISIBILITIES
from services.api.web.seoul_time import week_end, week_start
from shared.redis_client import RedisClient

log = logging.getLogger(__name__)

# "Now", replaceable so tests can stand on either side of Monday 00:00 in Seoul.
clock_key: web.AppKey[Callable[[], dt.datetime]] = web.AppKey("clock")

# Long enough to outlive the week and its first weeks of history; a rebuild restores it anyway.
WEEK_TTL_S = 5 * 7 * 24 * 3600
# Redis holds up to this many walk ids per SADD while rebuilding (bounded command size).
REBUILD_CHUNK = 10_000
REBUILD_TTL_S = 600
# A walk that leaps over a crowd notifies only the nearest ones it passed: the fan-out of one
# request must stay bounded, and those far below care least about being passed by a leader.
MAX_OVERTAKEN_NOTIFIED = 50
NOTICE_INTERVAL = dt.timedelta(hours=1)

# KEYS: built, distance, walks, counted. ARGV: user id, walk id, distance (mm), max overtaken.
# Returns {"missing"} | {"counted"} | {"applied", overtaken id, its new rank, ...}: the users
# who had old <= score < new (ahead of or tied with the walker before, behind now), nearest first.
_ADD_WALK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
if redis.call('SADD', KEYS[4], ARGV[2]) == 0 then return {'counted'} end
local old = redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0'
local new = redis.call('ZINCRBY', KEYS[2], ARGV[3], ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  for i = 2, 4 do
    if redis.call('PTTL', KEYS[i]) == -1 then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
local result = {'applied'}
if tonumber(new) > tonumber(old) then
  local passed = redis.call('ZREVRANGEBYSCORE', KEYS[2], '(' .. new, old,
                            'WITHSCORES', 'LIMIT', 0, ARGV[4])
  for i = 1, #passed, 2 do
    table.insert(result, passed[i])
    table.insert(result, redis.call('ZCOUNT', KEYS[2], '(' .. passed[i + 1], '+inf') + 1)
  end
end
return result
"""

# KEYS: built, distance, walks, counted. ARGV: user id, walk id, distance (mm).
# Returns "missing" | "absent" | "removed". A user left with no walk leaves the ranking.
_REMOVE_WALK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('SREM', KEYS[4], ARGV[2]) == 0 then return 'absent' end
if redis.call('HINCRBY', KEYS[3], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZINCRBY', KEYS[2], '-' .. ARGV[3], ARGV[1])
end
return 'removed'
"""


# KEYS: built, distance, walks, counted. ARGV: user id, then the ids of their walks that week.
# Takes a deleted account out of a week Redis holds. A rebuild in flight, which may have read
# the account's walks before they were deleted, lands only where no marker is (_INSTALL_REBUILD).
_FORGET_USER = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
for i = 2, #ARGV do redis.call('SREM', KEYS[4], ARGV[i]) end
return 1
"""

# KEYS: built, distance, walks, counted, then the rebuild's distance, walks, counted.
# ARGV: TTL. Returns 1 if the rebuild landed, 0 if another one had (its keys are dropped).
_INSTALL_REBUILD = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[5], KEYS[6], KEYS[7])
  return 0
end
for i = 2, 4 do
  if redis.call('EXISTS', KEYS[i + 3]) == 1 then
    redis.call('RENAME', KEYS[i + 3], KEYS[i])
    redis.call('EXPIRE', KEYS[i], ARGV[1])
  else
    redis.call('DEL', KEYS[i])
  end
end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return 1
"""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def app_now(app: web.Application) -> dt.datetime:
    return app.get(clock_key, utc_now)()


def distance_mm(distance_m: float) -> int:
    """A walk's distance as ranked; SQL's `round(distance_m * 1000)` gives the same integer."""
    return round(distance_m * 1000)


@dataclass(frozen=True, slots=True)
class WeekKeys:
    built: str
    distance: str
    walks: str
    counted: str

    @classmethod
    def of(cls, start: dt.datetime) -> WeekKeys:
        prefix = f"rank:weekly:{{{start.date().isoformat()}}}"
        return cls(f"{prefix}:built", f"{prefix}:distance", f"{prefix}:walks", f"{prefix}:counted")

    def rebuild(self) -> WeekKeys:
        """Where one rebuild writes before it lands: the week's slot, a name of its own."""
        token = secrets.token_hex(8)
        return WeekKeys(
            self.built,
            f"{self.distance}:rebuild:{token}",
            f"{self.walks}:rebuild:{token}",
            f"{self.counted}:rebuild:{token}",
        )

    @property
    def all(self) -> list[str]:
        return [self.built, self.distance, self.walks, self.counted]


@dataclass(frozen=True, slots=True)
class Standing:
    user_id: uuid.UUID
    rank: int
    distance_mm: int


async def week_walks(
    conn: asyncpg.Connection, start: dt.datetime, excluding: uuid.UUID | None = None
) -> list[asyncpg.Record]:
    """Every ranked (public) walk started in the Seoul week beginning at `start` (but
    `excluding`), as the ranking counts it."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, user_id, round(distance_m * 1000)::bigint AS distance_mm FROM walks "
        "WHERE started_at >= $1 AND started_at < $2 AND id IS DISTINCT FROM $3 "
        "AND visibility = ANY($4::text[])",
        start,
        week_end(start),
        excluding,
        COUNTED_VISIBILITIES,
    )
    return rows


async def ensure_week(
    redis: RedisClient,
    pool: asyncpg.Pool,
    start: dt.datetime,
    excluding: uuid.UUID | None = None,
) -> None:
    """Rebuild the week from the database unless Redis holds it.

    A walk's own hook leaves that walk out, then adds it like any other: so who it overtook is
    known even when it is the walk that found the week missing.
    """
    keys = WeekKeys.of(start)
    if await redis.exists(keys.built):
        return
    async with pool.acquire() as conn:
        rows = await week_walks(conn, start, excluding)
    distances: Counter[str] = Counter()
    counts: Counter[FieldT] = Counter()  # FieldT: what redis-py's hset accepts
    for row in rows:
        distances[str(row["user_id"])] += row["distance_mm"]
        counts[str(row["user_id"])] += 1
    scratch = keys.rebuild()
    async with redis.pipeline(transaction=False) as pipe:
        if rows:
            pipe.zadd(scratch.distance, dict(distances))
            pipe.hset(scratch.walks, mapping=counts)
            walk_ids = [str(row["id"]) for row in rows]
            for i in range(0, len(walk_ids), REBUILD_CHUNK):
                pipe.sadd(scratch.counted, *walk_ids[i : i + REBUILD_CHUNK])
        # A rebuild that dies before it lands leaves nothing behind for long.
        for key in scratch.all[1:]:
            pipe.expire(key, REBUILD_TTL_S)
        await pipe.execute()
    install = redis.register_script(_INSTALL_REBUILD)
    landed = await install(keys=[*keys.all, *scratch.all[1:]], args=[WEEK_TTL_S])
    if landed:
        log.info("rebuilt weekly ranking %s from %d walks", start.date(), len(rows))
    # Else another process rebuilt it first; the `counted` set keeps both results exact.


async def forget_week(redis: RedisClient, started_at: dt.datetime) -> None:
    """Drop the marker of a walk's week so the next use rebuilds it (after a failed update)."""
    await redis.delete(WeekKeys.of(week_start(started_at)).built)


async def count_walk(
    redis: RedisClient, pool: asyncpg.Pool, walk: WalkFacts
) -> list[tuple[uuid.UUID, int]]:
    """Add a committed walk to its week; return whom it overtook, with their new ranks."""
    start = week_start(walk.started_at)
    keys = WeekKeys.of(start)
    add_walk = redis.register_script(_ADD_WALK)
    args: list[str | int] = [
        str(walk.user_id),
        str(walk.id),
        distance_mm(walk.distance_m),
        MAX_OVERTAKEN_NOTIFIED,
    ]
    result = await add_walk(keys=keys.all, args=args)
    if result[0] == b"missing":
        await ensure_week(redis, pool, start, excluding=walk.id)
        result = await add_walk(keys=keys.all, args=args)
    if result[0] != b"applied":
        return []
    pairs = result[1:]
    return [(uuid.UUID(pairs[i].decode()), int(pairs[i + 1])) for i in range(0, len(pairs), 2)]


async def uncount_walk(redis: RedisClient, pool: asyncpg.Pool, walk: WalkFacts) -> None:
    """Take a deleted walk out of its week."""
    start = week_start(walk.started_at)
    keys = WeekKeys.of(start)
    remove_walk = redis.register_script(_REMOVE_WALK)
    args: list[str | int] = [str(walk.user_id), str(walk.id), distance_mm(walk.distance_m)]
    if await remove_walk(keys=keys.all, args=args) == b"missing":
        await ensure_week(redis, pool, start)
        await remove_walk(keys=keys.all, args=args)


async def forget_user(
    redis: RedisClient, user_id: uuid.UUID, walks: Iterable[tuple[uuid.UUID, dt.datetime]]
) -> None:
    """Take a deleted account out of every week its walks (id, started_at) were counted in."""
    by_week: dict[dt.datetime, list[str]] = {}
    for walk_id, started_at in walks:
        by_week.setdefault(week_start(started_at), []).append(str(walk_id))
    async with redis.pipeline(transaction=False) as pipe:
        # EVAL rather than a registered script: a cluster's pipeline loads no script first.
        for start, walk_ids in by_week.items():
            pipe.eval(_FORGET_USER, 4, *WeekKeys.of(start).all, str(user_id), *walk_ids)
        await pipe.execute()


async def notify_overtaken(
    conn: asyncpg.Connection,
    *,
    walker_id: uuid.UUID,
    overtaken: list[tuple[uuid.UUID, int]],
    week: dt.datetime,
    now: dt.datetime,
) -> list[uuid.UUID]:
    """One `ranking_changed` to each overtaken user not told in the last hour; the ids to push."""
    ranks = dict(overtaken)
    notification_ids: list[uuid.UUID] = []
    async with conn.transaction():
        # Sorted ids: concurrent walkers lock the shared notice rows in one order.
        due = await conn.fetch(
            """INSERT INTO ranking_notices (user_id, last_sent_at)
               SELECT u.id, $2::timestamptz FROM users u WHERE u.id = ANY($1::uuid[])
               ORDER BY u.id
               ON CONFLICT (user_id) DO UPDATE SET last_sent_at = EXCLUDED.last_sent_at
               WHERE ranking_notices.last_sent_at <= EXCLUDED.last_sent_at - $3::interval
               RETURNING user_id""",
            list(ranks),
            now,
            NOTICE_INTERVAL,
        )
        for row in due:
            notification_id = await notify(
                conn,
                recipient_id=row["user_id"],
                type="ranking_changed",
                actor_id=walker_id,
                data={
                    "rank": ranks[row["user_id"]],
                    "week_start": week.isoformat(timespec="microseconds"),
                    "overtaken_by": str(walker_id),
                },
            )
            if notification_id is not None:
                notification_ids.append(notification_id)
    return notification_ids


def ranked(scores: Iterable[tuple[uuid.UUID, int]]) -> list[Standing]:
    """Best first, ties by user id; a rank is 1 + how many have strictly more distance."""
    ordered = sorted(scores, key=lambda s: (-s[1], s[0]))
    standings: list[Standing] = []
    for position, (user_id, score) in enumerate(ordered):
        tied_with_previous = bool(standings) and standings[-1].distance_mm == score
        rank = standings[-1].rank if tied_with_previous else position + 1
        standings.append(Standing(user_id, rank, score))
    return standings


def without(standings: Iterable[Standing], hidden: Collection[uuid.UUID]) -> list[Standing]:
    """`standings` (best first, as `ranked` orders them: the whole ranking or its top) ranked
    again without the `hidden`."""
    return ranked((s.user_id, s.distance_mm) for s in standings if s.user_id not in hidden)


def _scored(entries: Iterable[Any]) -> list[tuple[uuid.UUID, int]]:
    """`(member, score)` pairs from redis-py as `(user id, millimetres)`."""
    return [(uuid.UUID(member.decode()), int(score)) for member, score in entries]


async def global_top(redis: RedisClient, keys: WeekKeys, limit: int) -> list[Standing]:
    """The first `limit` of the week's global ranking."""
    top = _scored(await redis.zrange(keys.distance, 0, limit - 1, desc=True, withscores=True))
    if len(top) == limit:
        # Redis orders a tie by member descending here; take the tie at the cut by id ascending.
        last = top[-1][1]
        above = [entry for entry in top if entry[1] > last]
        tied = await redis.zrangebyscore(
            keys.distance, last, last, start=0, num=limit - len(above), withscores=True
        )
        top = above + _scored(tied)
    return ranked(top)


async def global_standing(
    redis: RedisClient, keys: WeekKeys, user_id: uuid.UUID, hidden: Collection[uuid.UUID] = ()
) -> Standing | None:
    """The user's place in the week's global ranking, counting nobody `hidden` ahead of them."""
    score = await redis.zscore(keys.distance, str(user_id))
    if score is None:
        return None
    ahead = await redis.zcount(keys.distance, f"({int(score)}", "+inf")
    if hidden:
        scores = await redis.zmscore(keys.distance, [str(h) for h in hidden])
        ahead -= sum(1 for s in scores if s is not None and int(s) > int(score))
    return Standing(user_id, ahead + 1, int(score))


async def group_ranking(
    redis: RedisClient, keys: WeekKeys, members: list[uuid.UUID]
) -> list[Standing]:
    """The ranking among `members` only (those with a walk this week)."""
    scores = await redis.zmscore(keys.distance, [str(m) for m in members])
    return ranked((m, int(s)) for m, s in zip(members, scores, strict=True) if s is not None)


async def walk_counts(redis: RedisClient, keys: WeekKeys, user_ids: list[uuid.UUID]) -> list[int]:
    if not user_ids:
        return []
    counts = await redis.hmget(keys.walks, [str(u) for u in user_ids])
    return [int(c) if c is not None else 0 for c in counts]


async def ranking_from_database(
    conn: asyncpg.Connection | asyncpg.Pool, start: dt.datetime, members: list[uuid.UUID] | None
) -> tuple[list[Standing], dict[uuid.UUID, int]]:
    """The week's whole ranking (among `members` when given) and walk counts, summed in SQL:
    the answer when Redis is unavailable, slower but just as exact."""
    rows = await conn.fetch(
        "SELECT user_id, sum(round(distance_m * 1000))::bigint AS distance_mm, count(*) AS walks "
        "FROM walks WHERE started_at >= $1 AND started_at < $2 AND visibility = ANY($4::text[]) "
        "AND ($3::uuid[] IS NULL OR user_id = ANY($3::uuid[])) GROUP BY user_id",
        start,
        week_end(start),
        members,
        COUNTED_VISIBILITIES,
    )
    standings = ranked((r["user_id"], r["distance_mm"]) for r in rows)
    return standings, {r["user_id"]: r["walks"] for r in rows}
