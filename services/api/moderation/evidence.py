"""Report evidence is kept `REPORT_EVIDENCE_RETENTION_DAYS` after its report is resolved, then
pruned: the snapshot goes, the report (its reason and outcome, for the reporter's list and the
queue's history) stays. Expired ban hashes go too (`BAN_RETENTION_DAYS`)."""

from __future__ import annotations

import logging

import asyncpg
from aiohttp import web

from services.api.web.retention import retention_sweep_ctx
from shared.keys import settings_key

log = logging.getLogger(__name__)

PRUNE_BATCH = 1000


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


async def _sweep(app: web.Application, conn: asyncpg.Connection) -> None:
    retention_days = app[settings_key].report_evidence_retention_days
    while await prune_evidence(conn, retention_days, PRUNE_BATCH) == PRUNE_BATCH:
        pass
    await prune_bans(conn)


evidence_pruner_ctx = retention_sweep_ctx("report-evidence", _sweep)
