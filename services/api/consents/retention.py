"""The consent records outlive the account by five years, then go (CONTRACT section 3, Consents).

A deleted account leaves one row in `consent_retention` (its id and when it was deleted, nothing
else); a sweep, once an hour, deletes the records of accounts deleted more than
`RETENTION` ago, then their retention rows. The records themselves are never changed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import asyncpg
from aiohttp import web

from shared.keys import db_pool_key

log = logging.getLogger(__name__)

RETENTION = dt.timedelta(days=5 * 365 + 1)
PRUNE_EVERY_S = 3600.0
PRUNE_BATCH = 100

consent_pruner_key = web.AppKey("consent_pruner", asyncio.Task[None])


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


async def run_pruner(app: web.Application) -> None:
    while True:
        try:
            async with app[db_pool_key].acquire() as conn:
                while await prune_consent_records(conn) == PRUNE_BATCH:
                    pass
        except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
            log.warning("consent records prune failed: %s", type(exc).__name__)
        await asyncio.sleep(PRUNE_EVERY_S)


@asynccontextmanager
async def consent_pruner_ctx(app: web.Application) -> AsyncIterator[None]:
    """Needs the database pool: register it after its context."""
    app[consent_pruner_key] = asyncio.create_task(run_pruner(app), name="consent-prune")
    yield
    app[consent_pruner_key].cancel()
    with suppress(asyncio.CancelledError):
        await app[consent_pruner_key]
