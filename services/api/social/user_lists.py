"""A user's list of other users kept in one table (whom they blocked, who asks to follow them):
one page, newest row first, keyset on (the row's created_at, the listed user's id)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import asyncpg
from aiohttp import web

from services.api.visibility import not_suspended
from services.api.web.authentication import current_user
from services.api.web.pagination import Page, page_of, page_params
from services.api.web.presenters import user_columns, user_summary
from shared.jsonutil import json_response
from shared.keys import db_pool_key

# table: (the column naming the list's owner, the column naming the listed user, who is listed)
_LISTS = {
    # The caller's own blocks, suspended people too: a block outlives a suspension.
    "blocks": ("blocker_id", "blocked_id", "true"),
    # A suspended requester is out of every list until the suspension ends.
    "follow_requests": ("target_id", "requester_id", not_suspended("u.id")),
}
UserList = Literal["blocks", "follow_requests"]


async def listed_users(
    conn: asyncpg.Connection, table: UserList, owner_id: uuid.UUID, page: Page
) -> list[asyncpg.Record]:
    """One page (plus one row, for `page_of`) of the users in `owner_id`'s list."""
    owner, listed, shown = _LISTS[table]
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT l.created_at, u.id, {user_columns("u", "user")}
            FROM {table} l JOIN users u ON u.id = l.{listed}
            WHERE l.{owner} = $1 AND (l.created_at, l.{listed}) < ($2, $3) AND {shown}
            ORDER BY l.created_at DESC, l.{listed} DESC
            LIMIT $4""",
        owner_id,
        page.before_created_at,
        page.before_id,
        page.limit + 1,
    )
    return rows


def _listed_user_json(record: asyncpg.Record, since_field: str) -> dict[str, Any]:
    """The listed user's summary, with when they were listed under `since_field`."""
    return {**(user_summary(record, "user") or {}), since_field: record["created_at"]}


async def my_list_response(request: web.Request, table: UserList, since_field: str) -> web.Response:
    """The caller's list as a page of user summaries, each with its `since_field` time."""
    page = page_params(request)
    async with request.app[db_pool_key].acquire() as conn:
        rows = await listed_users(conn, table, current_user(request), page)
    items = [_listed_user_json(r, since_field) for r in rows]
    return json_response(page_of(rows, page, items))
