"""`/notifications`: the caller's in-app list (in_app_list.py), and marking it read."""

from __future__ import annotations

import uuid
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.api.notifications.in_app_list import (
    list_notifications,
    mark_read,
    notification_item,
    unread_count,
)
from services.api.web.authentication import current_user
from services.api.web.pagination import page_of, page_params
from shared.errors import ApiError
from shared.jsonutil import json_response
from shared.keys import db_pool_key

MAX_IDS_PER_READ = 100


class MarkReadIn(BaseModel):
    """Exactly one of `ids` or `all: true`."""

    model_config = ConfigDict(extra="forbid")
    ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=MAX_IDS_PER_READ)
    all: Literal[True] | None = None


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
