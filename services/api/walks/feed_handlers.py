"""`GET /feed`: the home timeline, and its 30-second `?since=` poll behind "N new posts".

Both forms answer through `poll_response` (ETag, 304, X-Poll-Interval). `latest_cursor` is
always a cursor, to send back as the next poll's `since`: the newest feed walk's; on an empty
feed the page form's is `BEGINNING` (so the next poll sees every walk that comes), and the poll
form, when nothing is newer, answers its `since` as a cursor (a cursor comes back as it was
sent, an ISO time as the cursor of that instant, a future time as now's), so an app can poll
with cursors alone and never with its phone's clock. `kind` ("page" or "since") tells a
client which form it got. A poll whose viewer's feed head (feed_heads) shows nothing newer
answers without the database.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from services.api.walks import feed_heads
from services.api.walks.feed_heads import feed_head_reads_key
from services.api.walks.feed_queries import feed_page, feed_poll, newest_feed_cursor
from services.api.walks.queries import walk_json
from services.api.web.authentication import current_user
from services.api.web.pagination import BEGINNING, Cursor, page_of, page_params, since_param
from services.api.web.polling import poll_response
from shared.keys import db_pool_key, redis_key


async def get_feed(request: web.Request) -> web.Response:
    viewer_id = current_user(request)
    page = page_params(request)
    since = since_param(request)
    pool = request.app[db_pool_key]
    if since is not None:
        check = await feed_heads.check(request.app[feed_head_reads_key], viewer_id, since)
        if check is feed_heads.HeadCheck.NOTHING_NEWER:
            return poll_response(request, _poll_body([], 0, since))
        # One statement, so items and new_count share a snapshot.
        async with pool.acquire() as conn:
            records, new_count = await feed_poll(conn, viewer_id, since, page.limit)
        latest = Cursor.of(records[0]) if records else since
        if check is feed_heads.HeadCheck.QUERY_AND_SETTLE:
            await feed_heads.settle(request.app[redis_key], viewer_id, latest)
        return poll_response(request, _poll_body(records, new_count, latest))
    async with (
        pool.acquire() as conn,
        # One snapshot, so the page and latest_cursor agree with each other.
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        records = await feed_page(conn, viewer_id, page)
        first_page = request.query.get("before") is None
        newest = (
            (Cursor.of(records[0]) if records else None)
            if first_page
            else await newest_feed_cursor(conn, viewer_id)
        )
    body = {"kind": "page", **page_of(records, page, [walk_json(r) for r in records])}
    body["latest_cursor"] = (newest or BEGINNING).encode()
    return poll_response(request, body)


def _poll_body(records: list[asyncpg.Record], new_count: int, latest: Cursor) -> dict[str, Any]:
    return {
        "kind": "since",
        "items": [walk_json(r) for r in records],
        "new_count": new_count,
        "latest_cursor": latest.encode(),
    }
