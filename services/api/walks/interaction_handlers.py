"""Likes and comments on a walk, and `GET /walks/{id}/interactions`, the walk screen's poll.

Every route first asks whether the caller may see the walk (404 if not). A new like or comment
notifies the walk's owner in the same transaction; the push job is emitted after the commit.
"""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.api.filtering.fields import PublicText
from services.api.notifications.notify import notify
from services.api.notifications.push_jobs import push_jobs_key
from services.api.walks.interactions_queries import (
    add_comment,
    add_like,
    comment_author,
    comment_json,
    delete_comment,
    hold_people,
    interactions_poll,
    remove_like,
)
from services.api.walks.queries import visible_walk_owner
from services.api.web.authentication import current_user
from services.api.web.pagination import Cursor, page_params, since_param
from services.api.web.path_params import path_uuid
from services.api.web.polling import poll_response
from services.api.web.write_limits import count_write
from shared.errors import forbidden, not_found, unauthorized
from shared.jsonutil import json_response
from shared.keys import db_pool_key

# Comments per interactions answer (`?limit=`, at most 100 as everywhere), oldest first: a
# longer thread is read by polling again with `since` = the created_at of the last comment
# received, until fewer than the limit come back.
DEFAULT_COMMENTS_PER_POLL = 100


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    body: PublicText = Field(min_length=1, max_length=1000)


async def _lock_visible_walk(
    conn: asyncpg.Connection, walk_id: uuid.UUID, viewer_id: uuid.UUID
) -> uuid.UUID:
    """The owner of a walk the viewer may see, its row locked until commit; else 404. The
    people's rows first, then the walk's: the order account deletion takes, so a deletion and
    its account's own like or comment never deadlock (401 if the deletion ran first)."""
    if not await hold_people(conn, walk_id, viewer_id):
        raise unauthorized("this account no longer exists")
    owner_id = await visible_walk_owner(conn, walk_id, viewer_id, lock=True)
    if owner_id is None:
        raise not_found("walk")
    return owner_id


async def like_walk(request: web.Request) -> web.Response:
    walk_id = path_uuid(request, "walk")
    user_id = current_user(request)
    await count_write(request, "like", user_id)
    notification_id = None
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        owner_id = await _lock_visible_walk(conn, walk_id, user_id)
        created, like_count = await add_like(conn, walk_id, user_id)
        if created:
            notification_id = await notify(
                conn,
                recipient_id=owner_id,
                type="walk_liked",
                actor_id=user_id,
                data={"walk_id": str(walk_id)},
            )
    request.app[push_jobs_key].emit([notification_id])
    return json_response(
        {"like_count": like_count, "liked_by_me": True}, status=201 if created else 200
    )


async def unlike_walk(request: web.Request) -> web.Response:
    walk_id = path_uuid(request, "walk")
    user_id = current_user(request)
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        await _lock_visible_walk(conn, walk_id, user_id)
        like_count = await remove_like(conn, walk_id, user_id)
    return json_response({"like_count": like_count, "liked_by_me": False})


async def comment_on_walk(request: web.Request) -> web.Response:
    walk_id = path_uuid(request, "walk")
    raw = await request.read()
    user_id = current_user(request)
    await count_write(request, "comment", user_id)
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        owner_id = await _lock_visible_walk(conn, walk_id, user_id)  # 404 before any 422
        body = CommentIn.model_validate_json(raw)
        comment = await add_comment(conn, walk_id, user_id, body.body)
        notification_id = await notify(
            conn,
            recipient_id=owner_id,
            type="walk_commented",
            actor_id=user_id,
            data={"walk_id": str(walk_id), "comment_id": str(comment["id"])},
        )
    request.app[push_jobs_key].emit([notification_id])
    return json_response(comment_json(comment), status=201)


async def remove_comment(request: web.Request) -> web.Response:
    walk_id = path_uuid(request, "walk")
    comment_id = path_uuid(request, "comment", "comment_id")
    user_id = current_user(request)
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        owner_id = await _lock_visible_walk(conn, walk_id, user_id)
        author_id = await comment_author(conn, walk_id, comment_id)
        if author_id is None:
            raise not_found("comment")
        if user_id not in (author_id, owner_id):
            raise forbidden("only the comment's author or the walk's owner may delete it")
        await delete_comment(conn, walk_id, comment_id)
    return web.Response(status=204)


async def get_interactions(request: web.Request) -> web.Response:
    """The walk's state, and its comments newer than `since` (and older than `before`).

    The ETag names the walk's state (counts, the caller's like, `updated_at`, which every like
    and comment moves) and, for an answer cut at `limit`, where it was cut; not `since`. So an
    app that moves `since` to the last comment it got keeps getting 304 while nothing changes,
    and a cut answer's next page is never mistaken for it."""
    walk_id = path_uuid(request, "walk")
    page = page_params(request, default_limit=DEFAULT_COMMENTS_PER_POLL)
    since = since_param(request)
    viewer_id = current_user(request)
    async with request.app[db_pool_key].acquire() as conn:
        polled = await interactions_poll(
            conn, walk_id, viewer_id, since, page.before, page.limit + 1
        )
    if polled is None:
        raise not_found("walk")
    state, rows = polled
    comments = rows[: page.limit]
    cut_at = Cursor.of(comments[-1]).encode() if len(rows) > page.limit else None
    body = {
        "walk_id": state["state_walk_id"],
        "like_count": state["like_count"],
        "liked_by_me": state["liked_by_me"],
        "comment_count": state["comment_count"],
        "comments": [comment_json(c) for c in comments],
        "updated_at": state["state_updated_at"],
    }
    state_version = {k: v for k, v in body.items() if k != "comments"}
    version = {**state_version, "cut_at": cut_at, "before": page.before.encode()}
    return poll_response(request, body, version=version)
