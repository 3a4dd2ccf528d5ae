"""`GET /rankings/weekly`: this Seoul week's distance ranking, global or among whom one follows.

A ranking is a list of people, so a block leaves each of the two out of the other's, as the
visibility rule does for every list: ranked among those they can see, as if the other had not
walked, so no gap in the ranks points at someone hidden.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

import asyncpg
from aiohttp import web
from redis.exceptions import RedisError

from services.api.rankings.weekly import (
    Standing,
    WeekKeys,
    app_now,
    ensure_week,
    global_standing,
    global_top,
    group_ranking,
    ranking_from_database,
    walk_counts,
    without,
)
from services.api.visibility import blocked_either_way
from services.api.web.authentication import current_user
from services.api.web.pagination import page_params
from services.api.web.presenters import USER_SUMMARY_COLUMNS
from services.api.web.seoul_time import week_start
from shared.errors import invalid
from shared.jsonutil import json_response
from shared.keys import db_pool_key, redis_key
from shared.redis_client import RedisClient

log = logging.getLogger(__name__)

SCOPES = ("global", "following")


async def followed_ids(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID
) -> list[uuid.UUID]:
    rows = await conn.fetch("SELECT followee_id FROM follows WHERE follower_id = $1", user_id)
    return [r["followee_id"] for r in rows]


async def user_summaries(
    conn: asyncpg.Connection | asyncpg.Pool, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The embedded users of one page, in one query."""
    rows = await conn.fetch(
        f"SELECT {', '.join(USER_SUMMARY_COLUMNS)} FROM users WHERE id = ANY($1::uuid[])",
        user_ids,
    )
    return {r["id"]: dict(r) for r in rows}


async def _from_redis(
    redis: RedisClient,
    pool: asyncpg.Pool,
    start: dt.datetime,
    members: list[uuid.UUID] | None,
    caller: uuid.UUID,
    limit: int,
    hidden: set[uuid.UUID],
) -> tuple[list[Standing], Standing | None, list[int]]:
    """The page, the caller's standing and the page's walk counts, from the week's sorted set,
    leaving out the `hidden` (who are never among `members`)."""
    keys = WeekKeys.of(start)
    await ensure_week(redis, pool, start)
    me: Standing | None
    if members is None:
        top = without(await global_top(redis, keys, limit + len(hidden)), hidden)[:limit]
        me = await global_standing(redis, keys, caller, hidden)
    else:
        group = await group_ranking(redis, keys, members)
        top = group[:limit]
        me = next((s for s in group if s.user_id == caller), None)
    return top, me, await walk_counts(redis, keys, [s.user_id for s in top])


async def get_weekly_ranking(request: web.Request) -> web.Response:
    scope = request.query.get("scope", "global")
    if scope not in SCOPES:
        raise invalid("scope", "scope must be one of: global, following")
    limit = page_params(request).limit  # the list convention's limit; there is no next page
    caller = current_user(request)
    redis, pool = request.app[redis_key], request.app[db_pool_key]
    start = week_start(app_now(request.app))
    # No connection is held across the Redis calls: ensure_week may need one of its own.
    hidden = await blocked_either_way(pool, caller)
    members = None
    if scope == "following":
        members = [m for m in [caller, *await followed_ids(pool, caller)] if m not in hidden]
    try:
        top, me, counts = await _from_redis(redis, pool, start, members, caller, limit, hidden)
    except RedisError as exc:
        log.warning("rankings from the database: redis unavailable (%s)", type(exc).__name__)
        standings, walks = await ranking_from_database(pool, start, members)
        standings = without(standings, hidden)
        top = standings[:limit]
        me = next((s for s in standings if s.user_id == caller), None)
        counts = [walks[s.user_id] for s in top]
    users = await user_summaries(pool, [s.user_id for s in top])
    items = [
        {
            "rank": standing.rank,
            "user": users[standing.user_id],
            "distance_m": standing.distance_mm / 1000,
            "walk_count": count,
        }
        for standing, count in zip(top, counts, strict=True)
        if standing.user_id in users  # an account deleted since the week was counted
    ]
    body = {
        "week_start": start,
        "items": items,
        "me": {"rank": me.rank, "distance_m": me.distance_mm / 1000} if me else None,
    }
    return json_response(body)
