"""`/users/{id}/block` and `/me/blocks`: blocking someone, and what a block undoes at once.

A block removes the follows between the two, both ways, and cancels their open invitation as
`/cancel` does (a live walk ends: the gateways are told after the commit). What the blocked
person may see from then on is the visibility rule's business (`services/api/visibility.py`),
not this module's. The blocked person may block the blocker back: a block protects, so it is
the one thing a block does not hide.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
from aiohttp import web

from services.api.social.follows import remove_follows_between
from services.api.social.user_lists import my_list_response
from services.api.together.endings import announce_walk_endings
from services.api.together.queries import cancel_open_between, settle_overdue_between
from services.api.visibility import lock_pair
from services.api.web.authentication import current_user
from services.api.web.path_params import path_uuid
from shared.errors import invalid, not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key, redis_key, settings_key


async def add_block(
    conn: asyncpg.Connection, blocker_id: uuid.UUID, blocked_id: uuid.UUID
) -> bool | None:
    """True for a new block, False if it existed; None when there is no such user."""
    try:
        created = await conn.fetchval(
            """INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)
               ON CONFLICT DO NOTHING RETURNING true""",
            blocker_id,
            blocked_id,
        )
    except asyncpg.ForeignKeyViolationError:
        return None
    return created is not None


async def block_user(request: web.Request) -> web.Response:
    """201 for a new block, 200 when already blocked; blocking yourself is 422."""
    me = current_user(request)
    blocked_id = path_uuid(request, "user")
    if blocked_id == me:
        raise invalid("id", "you cannot block yourself")
    max_walk = dt.timedelta(seconds=request.app[settings_key].max_walk_duration_s)
    async with request.app[db_pool_key].acquire() as conn:
        # An overdue walk ends as finished (so it can still be recorded), not cancelled.
        endings = await settle_overdue_between(conn, max_walk, me, blocked_id)
        async with conn.transaction():
            await lock_pair(conn, me, blocked_id)  # an invitation being sent ends first
            created = await add_block(conn, me, blocked_id)
            if created is not None:
                await remove_follows_between(conn, me, blocked_id)
                endings += await cancel_open_between(conn, me, blocked_id)
    await announce_walk_endings(request.app[redis_key], endings)
    if created is None:
        raise not_found("user")
    body = {"user_id": blocked_id, "blocked": True}
    return json_response(body, status=201 if created else 200)


async def unblock_user(request: web.Request) -> web.Response:
    """204 for any id, whether or not the user was blocked or exists: the answer must not tell a
    blocker from an unknown id (the blocked person's own account may be gone, and a probe must
    learn nothing). Follows the block removed stay removed."""
    blocked_id = path_uuid(request, "user")
    async with request.app[db_pool_key].acquire() as conn:
        await conn.execute(
            "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2",
            current_user(request),
            blocked_id,
        )
    return web.Response(status=204)


async def get_my_blocks(request: web.Request) -> web.Response:
    return await my_list_response(request, "blocks", "blocked_at")
