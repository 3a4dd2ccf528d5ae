"""What a recorded or deleted walk sets off beyond its own row: badges and weekly rankings.

The walks handlers call these three hooks; the rules live in the badges and rankings modules.
"""

from __future__ import annotations

import logging
import uuid

import asyncpg
from aiohttp import web

from services.api.notifications.push_jobs import push_jobs_key
from services.api.rankings.badges import award_badges
from services.api.rankings.walk_facts import WalkFacts
from services.api.rankings.weekly import (
    app_now,
    count_walk,
    forget_week,
    notify_overtaken,
    uncount_walk,
)
from services.api.visibility import COUNTED_VISIBILITIES
from services.api.web.seoul_time import week_start
from shared.keys import db_pool_key, redis_key

log = logging.getLogger(__name__)


async def in_walk_transaction(conn: asyncpg.Connection, walk: WalkFacts) -> list[uuid.UUID]:
    """Inside the walk's own transaction: award badges; return notification ids to push."""
    return await award_badges(conn, walk)


async def after_walk_committed(app: web.Application, walk: WalkFacts) -> None:
    """After commit: update the weekly rankings and notify the overtaken. Never raises.
    Only a public walk counts: a private distance must not show up anywhere."""
    if walk.visibility not in COUNTED_VISIBILITIES:
        return
    redis, pool = app[redis_key], app[db_pool_key]
    try:
        overtaken = await count_walk(redis, pool, walk)
    except Exception:
        log.exception("weekly ranking not updated for walk %s", walk.id)
        await _forget_week(app, walk)
        return
    now = app_now(app)
    # Only this week's race is news; a walk filed into a past week changes an old table quietly.
    if not overtaken or week_start(walk.started_at) != week_start(now):
        return
    try:
        async with pool.acquire() as conn:
            ids = await notify_overtaken(
                conn,
                walker_id=walk.user_id,
                overtaken=overtaken,
                week=week_start(now),
                now=now,
            )
    except Exception:
        log.exception("ranking_changed notifications not written for walk %s", walk.id)
        return
    app[push_jobs_key].emit(ids)


async def after_walk_deleted(app: web.Application, walk: WalkFacts) -> None:
    """After a walk's deletion is committed: take it out of the rankings. Never raises."""
    try:
        await uncount_walk(app[redis_key], app[db_pool_key], walk)
    except Exception:
        log.exception("weekly ranking not updated for deleted walk %s", walk.id)
        await _forget_week(app, walk)


async def _forget_week(app: web.Application, walk: WalkFacts) -> None:
    """After a failed update, make the next reader rebuild the week from the database."""
    try:
        await forget_week(app[redis_key], walk.started_at)
    except Exception as exc:
        log.warning("could not mark the weekly ranking for rebuild (%s)", type(exc).__name__)
