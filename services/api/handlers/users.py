"""`/me` and `/users/{id}`: profiles, follows, followers and following."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from aiohttp import web

from services.api.auth import current_user
from shared.errors import not_found
from shared.jsonutil import dumps
from shared.keys import db_pool_key

routes = web.RouteTableDef()

ME_COLUMNS = "id, email, nickname, profile_image_url, created_at"


async def fetch_me(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any] | None:
    """The caller's own user object (the only one that shows an email)."""
    row = await conn.fetchrow(f"SELECT {ME_COLUMNS} FROM users WHERE id = $1", user_id)
    return dict(row) if row else None


@routes.get("/me")
async def get_me(request: web.Request) -> web.Response:
    async with request.app[db_pool_key].acquire() as conn:
        me = await fetch_me(conn, current_user(request))
    if me is None:
        raise not_found("user")
    return web.json_response(me, dumps=dumps)
