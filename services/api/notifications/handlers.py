"""`/notifications`: the caller's in-app list, and marking it read.

What a block hides is left out of both the page and the unread count by the one rule
(`notification_shown_to`), so the two always agree.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.api.visibility import notification_shown_to
from services.api.web.authentication import current_user
from services.api.web.pagination import Page, page_of, page_params
from services.api.web.presenters import user_columns, user_summary
from shared.errors import ApiError
from shared.jsonutil import json_response
from shared.keys import db_pool_key

MAX_IDS_PER_READ = 100


class MarkReadIn(BaseModel):
    """Exactly one of `ids` or `all: true`."""

    model_config = ConfigDict(extra="forbid")
    ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=MAX_IDS_PER_READ)
    all: Literal[True] | None = None


async def list_notifications(
    conn: asyncpg.Connection, user_id: uuid.UUID, page: Page
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT n.id, n.type, n.data, n.created_at, n.read_at, {user_columns("a", "actor")}
            FROM notifications n LEFT JOIN users a ON a.id = n.actor_id
            WHERE n.user_id = $1 AND (n.created_at, n.id) < ($2, $3)
              AND {notification_shown_to("n", "$1")}
            ORDER BY n.created_at DESC, n.id DESC
            LIMIT $4""",
        user_id,
        page.before_created_at,
        page.before_id,
        page.limit + 1,
    )
    return rows


async def unread_count(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    count: int = await conn.fetchval(
        f"""SELECT count(*) FROM notifications n
            WHERE n.user_id = $1 AND n.read_at IS NULL AND {notification_shown_to("n", "$1")}""",
        user_id,
    )
    return count


async def mark_read(
    conn: asyncpg.Connection, user_id: uuid.UUID, ids: list[uuid.UUID] | None
) -> None:
    """Mark the caller's listed notifications (all of them when `ids` is None) read; ids of
    someone else's are ignored, and one already read keeps its first read_at."""
    await conn.execute(
        """UPDATE notifications SET read_at = clock_timestamp()
           WHERE user_id = $1 AND read_at IS NULL AND ($2::uuid[] IS NULL OR id = ANY($2))""",
        user_id,
        ids,
    )


def notification_item(record: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": record["id"],
        "type": record["type"],
        "actor": user_summary(record, "actor"),
        "data": record["data"],
        "created_at": record["created_at"],
        "read_at": record["read_at"],
    }


async def get_notifications(request: web.Request) -> web.Response:
    page = page_params(request)
    user_id = current_user(request)
    async with (
        request.app[db_pool_key].acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        # One snapshot, so unread_count agrees with the page.
        rows = await list_notifications(conn, user_id, page)
        unread = await unread_count(conn, user_id)
    body = page_of(rows, page, [notification_item(r) for r in rows])
    body["unread_count"] = unread
    return json_response(body)


async def read_notifications(request: web.Request) -> web.Response:
    body = MarkReadIn.model_validate_json(await request.read())
    if (body.ids is None) == (body.all is None):
        message = 'send either "ids" (1 to 100 ids) or "all": true'
        details = [{"field": f, "message": message} for f in ("ids", "all")]
        raise ApiError(422, "validation_error", message, details)
    user_id = current_user(request)
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        await mark_read(conn, user_id, body.ids)
        unread = await unread_count(conn, user_id)
    return json_response({"unread_count": unread})
