"""The location-access ledger (위치정보법 §16②, CONTRACT section 3): a person's entries as
`GET /me/location-log` (location_log_handlers.py) and the export present them, and the sweep
that forgets entries after `LOCATION_LOG_RETENTION_DAYS`.

The realtime gateway writes the entries, in batches, as it relays locations
(services/realtime/ledger.py): one per walk and direction, `provided` (the caller's locations
went to the partner) or `received` (the partner's came to the caller), with the first and last
relay and how many; never where. The partner is `null` once they deleted their account, and
only `{id}` (the law's record, without their live nickname and picture) once they blocked the
caller (`user_visible_to`, services/api/visibility.py).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import asyncpg
from aiohttp import web

from services.api.visibility import user_visible_to
from services.api.web.pagination import Page
from services.api.web.presenters import user_columns, user_summary
from services.api.web.retention import retention_sweep_ctx
from shared.keys import settings_key

log = logging.getLogger(__name__)

PRUNE_BATCH = 1000


# The partner of an entry (`LEFT JOIN users p ON p.id = l.partner_id`), as the owner of the
# ledger at $1 may see them: every query that presents entries selects this (`entry_json`).
PARTNER_COLUMNS = f"""{user_columns("p", "partner")},
    {user_visible_to("p.id", "$1")} AS partner_shown"""


async def list_location_log(
    conn: asyncpg.Connection, user_id: uuid.UUID, page: Page
) -> list[asyncpg.Record]:
    """A page (plus one row, for `page_of`) of the user's entries, newest first."""
    records: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT l.id, l.invitation_id, l.direction, l.first_at, l.last_at, l.count,
                   {PARTNER_COLUMNS}
              FROM location_access_log l
              LEFT JOIN users p ON p.id = l.partner_id
             WHERE l.user_id = $1 AND (l.first_at, l.id) < ($2, $3)
             ORDER BY l.first_at DESC, l.id DESC
             LIMIT $4""",
        user_id,
        page.before_created_at,
        page.before_id,
        page.limit + 1,
    )
    return records


def _partner_json(record: Any) -> dict[str, Any] | None:
    """The partner's summary; their id without nickname or picture when they blocked the
    caller; None when gone."""
    partner = user_summary(record, "partner")
    if partner is not None and not record["partner_shown"]:
        return {"id": partner["id"], "nickname": None, "profile_image_url": None}
    return partner


def entry_json(record: Any) -> dict[str, Any]:
    return {
        "invitation_id": record["invitation_id"],
        "partner": _partner_json(record),
        "direction": record["direction"],
        "first_at": record["first_at"],
        "last_at": record["last_at"],
        "count": record["count"],
    }


async def prune_location_log(conn: asyncpg.Connection, retention_days: int, limit: int) -> int:
    """Forget up to `limit` entries whose last relay is older than the retention; how many."""
    status: str = await conn.execute(
        """DELETE FROM location_access_log
            WHERE id IN (SELECT id FROM location_access_log
                          WHERE last_at < now() - make_interval(days => $1)
                          LIMIT $2)""",
        retention_days,
        limit,
    )
    return int(status.rsplit(" ", 1)[1])


async def _sweep(app: web.Application, conn: asyncpg.Connection) -> None:
    retention_days = app[settings_key].location_log_retention_days
    while await prune_location_log(conn, retention_days, PRUNE_BATCH) == PRUNE_BATCH:
        pass


location_log_pruner_ctx = retention_sweep_ctx("location-log", _sweep)
