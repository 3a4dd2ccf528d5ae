"""Report evidence is kept `REPORT_EVIDENCE_RETENTION_DAYS` after its report is resolved, then
pruned: the snapshot goes, the report (its reason and outcome, for the reporter's list and the
queue's history) stays. Expired ban hashes go too (`BAN_RETENTION_DAYS`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import asyncpg
from aiohttp import web

from shared.keys import db_pool_key, settings_key

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0
PRUNE_BATCH = 1000

evidence_pruner_key = web.AppKey("evidence_pruner", asyncio.Task[None])


async def prune_evidence(conn: asyncpg.Connection, retention_days: int, limit: int) -> int:
    """Clear up to `limit` snapshots of reports resolved longer ago than the retention."""
    status: str = await conn.execute(
        """UPDATE reports SET snapshot = NULL
           WHERE id IN (SELECT id FROM reports
                        WHERE snapshot IS NOT NULL
                          AND resolved_at < now() - make_interval(days => $1)
                        LIMIT $2)""",
        retention_days,
        limit,
    )
    return int(status.rsplit(" ", 1)[1])


async def prune_bans(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM banned_emails WHERE expires_at <= now()")


async def run_pruner(app: web.Application) -> None:
    retention_days = app[settings_key].report_evidence_retention_days
    while True:
        try:
            async with app[db_pool_key].acquire() as conn:
                while await prune_evidence(conn, retention_days, PRUNE_BATCH) == PRUNE_BATCH:
                    pass
                await prune_bans(conn)
        except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
            log.warning("report evidence prune failed: %s", type(exc).__name__)
        await asyncio.sleep(PRUNE_EVERY_S)


@asynccontextmanager
async def evidence_pruner_ctx(app: web.Application) -> AsyncIterator[None]:
    """Needs the database pool: register it after its context."""
    app[evidence_pruner_key] = asyncio.create_task(run_pruner(app), name="evidence-prune")
    yield
    app[evidence_pruner_key].cancel()
    with suppress(asyncio.CancelledError):
        await app[evidence_pruner_key]
