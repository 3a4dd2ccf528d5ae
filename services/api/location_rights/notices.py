"""The `location_provided` notification (위치정보법 §19③): after each walk together, each walker
whose location was provided to the partner is told so, from the location-access ledger's counts.

The gateways make a ledger entry durable within 10 s of the relay it counts
(services/realtime/ledger.py), so a sweep writes the notice `NOTICE_DELAY` after the walk ended
(finished or cancelled), once per walk and walker: the walk is marked in the same transaction
(`invitations.location_notices_at`, so a sweep reads only the walks still due), every API
instance sweeps, skipping the walks another holds, and a unique index backs it. The notice is
in the in-app list only: its row is `muted` from the start, so no push is ever sent for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import asyncpg
from aiohttp import web

from services.api.web.presenters import user_columns, user_summary
from shared.keys import db_pool_key
from shared.metrics import metrics_key

log = logging.getLogger(__name__)

# Past the ledger's 10 s, with room for a gateway's late flush.
NOTICE_DELAY = dt.timedelta(seconds=15)
SWEEP_EVERY_S = 5.0
BATCH = 500

location_notices_key = web.AppKey("location_notices", asyncio.Task[None])


async def write_location_notices(
    conn: asyncpg.Connection, delay: dt.timedelta = NOTICE_DELAY
) -> int:
    """Write the notices of up to BATCH walks that ended at least `delay` ago and have none
    yet, in one transaction that also marks those walks done; how many walks."""
    async with conn.transaction():
        walks = await conn.fetch(
            """UPDATE invitations SET location_notices_at = now()
                WHERE id IN (SELECT id FROM invitations
                              WHERE responded_at IS NOT NULL
                                AND status IN ('finished', 'cancelled')
                                AND location_notices_at IS NULL
                                AND ended_at <= now() - $1::interval
                              ORDER BY ended_at LIMIT $2 FOR UPDATE SKIP LOCKED)
            RETURNING id""",
            delay,
            BATCH,
        )
        if not walks:
            return 0
        rows = await conn.fetch(
            f"""SELECT l.user_id, l.invitation_id, l.first_at, l.last_at, l.count,
                       {user_columns("p", "partner")}
                  FROM location_access_log l
                  LEFT JOIN users p ON p.id = l.partner_id
                 WHERE l.invitation_id = ANY($1::uuid[]) AND l.direction = 'provided'""",
            [walk["id"] for walk in walks],
        )
        await conn.executemany(
            """INSERT INTO notifications (user_id, type, actor_id, data, push_state)
               VALUES ($1, 'location_provided', NULL, $2, 'muted')
               ON CONFLICT DO NOTHING""",
            [(row["user_id"], _data(row)) for row in rows],
        )
    return len(walks)


def _data(row: asyncpg.Record) -> dict[str, object]:
    return {
        "invitation_id": str(row["invitation_id"]),
        "partner": user_summary(row, "partner"),
        "first_at": row["first_at"],
        "last_at": row["last_at"],
        "count": row["count"],
    }


async def run_notices(app: web.Application) -> None:
    metrics = app[metrics_key]
    while True:
        try:
            with metrics.sweep("location_notices"):
                async with app[db_pool_key].acquire() as conn:
                    while await write_location_notices(conn) == BATCH:
                        pass
        except Exception:
            log.exception("location notice sweep failed; retrying in %.1f s", SWEEP_EVERY_S)
        await asyncio.sleep(SWEEP_EVERY_S)


@asynccontextmanager
async def location_notices_ctx(app: web.Application) -> AsyncIterator[None]:
    """Needs the database pool and the metrics: register it after their contexts."""
    app[location_notices_key] = asyncio.create_task(run_notices(app), name="location-notices")
    yield
    app[location_notices_key].cancel()
    with suppress(asyncio.CancelledError):
        await app[location_notices_key]
