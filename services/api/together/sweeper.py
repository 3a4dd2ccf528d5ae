"""The background sweep that ends invitations by the clock.

Every `invitation_sweep_interval_s` it expires pending invitations past `expires_at` and finishes
accepted ones past the maximum walk length, then publishes `walk_ended` for each row it changed:
the realtime gateway must close those walks within 2 s. Every API instance runs one; the
conditional, SKIP LOCKED updates make each row change (and be announced) once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from aiohttp import web

from services.api.together.endings import announce_walk_endings
from services.api.together.queries import (
    SWEEP_BATCH,
    StatusChange,
    expire_overdue_pending,
    finish_overdue_walks,
)
from shared.keys import db_pool_key, redis_key, settings_key
from shared.metrics import metrics_key

log = logging.getLogger(__name__)

invitation_sweeper_key = web.AppKey("invitation_sweeper", asyncio.Task[None])


async def sweep_once(app: web.Application) -> None:
    """One pass; loops while a batch comes back full, so a backlog clears in one tick."""
    max_walk = dt.timedelta(seconds=app[settings_key].max_walk_duration_s)
    changes: list[StatusChange] = []
    async with app[db_pool_key].acquire() as conn:
        while True:
            expired = await expire_overdue_pending(conn)
            finished = await finish_overdue_walks(conn, max_walk)
            changes += expired + finished
            if len(expired) < SWEEP_BATCH and len(finished) < SWEEP_BATCH:
                break
    if changes:
        await announce_walk_endings(app[redis_key], changes)


async def run_sweeper(app: web.Application) -> None:
    interval = app[settings_key].invitation_sweep_interval_s
    metrics = app[metrics_key]
    while True:
        try:
            with metrics.sweep("invitations"):
                await sweep_once(app)
        except Exception:
            log.exception("invitation sweep failed; retrying in %.1f s", interval)
        await asyncio.sleep(interval)


@asynccontextmanager
async def invitation_sweeper_ctx(app: web.Application) -> AsyncIterator[None]:
    """Needs the database pool and Redis: register it after their contexts."""
    app[invitation_sweeper_key] = asyncio.create_task(run_sweeper(app))
    yield
    app[invitation_sweeper_key].cancel()
    with suppress(asyncio.CancelledError):
        await app[invitation_sweeper_key]
