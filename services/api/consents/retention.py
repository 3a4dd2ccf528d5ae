"""The consent records outlive the account by five years, then go (CONTRACT section 3, Consents).

A deleted account leaves one row in `consent_retention` (its id and when it was deleted, nothing
else); a sweep, once an hour, deletes the records of accounts deleted more than
`RETENTION` ago, then their retention rows. The records themselves are never changed.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import asyncpg
from aiohttp import web

from services.api.web.retention import retention_sweep_ctx

log = logging.getLogger(__name__)

RETENTION = dt.timedelta(days=5 * 365 + 1)
PRUNE_BATCH = 100


async def keep_after_deletion(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """In the deletion's transaction: the records' five years start now."""
    await conn.execute(
        "INSERT INTO consent_retention (user_id) VALUES ($1) ON CONFLICT DO NOTHING", user_id
    )


async def prune_consent_records(
    conn: asyncpg.Connection, retention: dt.timedelta = RETENTION, limit: int = PRUNE_BATCH
) -> int:
    """Forget the records of up to `limit` accounts deleted longer than `retention` ago."""
    async with conn.transaction():
        gone = await conn.fetch(
            """DELETE FROM consent_retention
                WHERE user_id IN (SELECT user_id FROM consent_retention
                                   WHERE account_deleted_at < now() - $1::interval LIMIT $2)
            RETURNING user_id""",
            retention,
            limit,
        )
        await conn.execute(
            "DELETE FROM consent_records WHERE user_id = ANY($1::uuid[])",
            [row["user_id"] for row in gone],
        )
    return len(gone)


async def _sweep(app: web.Application, conn: asyncpg.Connection) -> None:
    while await prune_consent_records(conn) == PRUNE_BATCH:
        pass


consent_pruner_ctx = retention_sweep_ctx("consent-records", _sweep)
