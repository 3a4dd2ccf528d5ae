"""`GET /rankings/weekly`: this Seoul week's distance ranking, global or among whom one follows."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from aiohttp import web

from services.api.auth import current_user
from services.api.pagination import page_params
from services.api.presenters import USER_SUMMARY_COLUMNS
from services.api.rankings import (
    Standing,
    WeekKeys,
    app_now,
    ensure_week,
    global_standing,
    global_top,
    group_ranking,
    walk_counts,
)
from services.api.seoul_time import week_start
from shared.errors import invalid
from shared.jsonutil import dumps
from shared.keys import db_pool_key, redis_key

routes = web.RouteTableDef()

SCOPES = ("global", "following")


async def followed_ids(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch("SELECT followee_id FROM follows WHERE follower_id = $1", user_id)
    return [r["followee_id"] for r in rows]


async def user_summaries(
    conn: asyncpg.Connection, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The embedded users of one page, in one query."""
    rows = await conn.fetch(
        f"SELECT {', '.join(USER_SUMMARY_COLUMNS)} FROM users WHERE id = ANY($1::uuid[])",
        user_ids,
    )
    return {r["id"]: dict(r) for r in rows}


@routes.get("/rankings/weekly")
async def get_weekly_ranking(request: web.Request) -> web.Response:
    scope = request.query.get("scope", "global")
    if scope not in SCOPES:
        raise invalid("scope", "scope must be one of: global, following")
    limit = page_params(request).limit  # the list convention's limit; there is no next page
    caller = current_user(request)
    redis, pool = request.app[redis_key], request.app[db_pool_key]
    start = week_start(app_now(request.app))
    keys = WeekKeys.of(start)
    await ensure_week(redis, pool, start)
    async with pool.acquire() as conn:
        me: Standing | None
        if scope == "global":
            top = await global_top(redis, keys, limit)
            me = await global_standing(redis, keys, caller)
        else:
            group = await group_ranking(redis, keys, [caller, *await followed_ids(conn, caller)])
            top = group[:limit]
            me = next((s for s in group if s.user_id == caller), None)
        users = await user_summaries(conn, [s.user_id for s in top])
    counts = await walk_counts(redis, keys, [s.user_id for s in top])
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
    return web.json_response(body, dumps=dumps)
