"""The database backstop for walk ends: a lost pub/sub message still ends a walk within ~2 s.

Every `backstop_interval_s`, one query asks which of the walks this process has sockets in
have left `accepted`; those end exactly as if the API's `walk_ended` had arrived.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import asyncpg

from services.realtime.rooms import Rooms
from shared.walk_events import walk_channel, walk_id_of

log = logging.getLogger(__name__)


async def ended_walks(
    conn: asyncpg.pool.PoolConnectionProxy | asyncpg.Connection | asyncpg.Pool,
    invitation_ids: list[str],
) -> list[tuple[uuid.UUID, str]]:
    """Ids go as text and PostgreSQL casts them: no Python UUID per walk every second."""
    rows = await conn.fetch(
        "SELECT id, status FROM invitations"
        " WHERE id = ANY($1::text[]::uuid[]) AND status <> 'accepted'",
        invitation_ids,
    )
    return [(row["id"], row["status"]) for row in rows]


async def run_backstop(pool: asyncpg.Pool, rooms: Rooms, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        ids = [walk_id_of(channel) for channel in rooms.broker.channels()]
        if not ids:
            continue
        try:
            ended = await ended_walks(pool, ids)
        except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
            log.warning("walk-end backstop query failed: %s", type(exc).__name__)
            continue
        for invitation_id, status in ended:
            members = rooms.broker.members(walk_channel(invitation_id).encode())
            if members:
                rooms.end_walk(members, status)
