"""`/users/{id}/follow`, `/users/{id}/followers` and `/users/{id}/following`: following and
unfollowing someone, and a profile's lists (the queries are in follows.py)."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from services.api.notifications.notify import notify_unless_repeated
from services.api.notifications.push_jobs import push_jobs_key
from services.api.social.follows import (
    FollowList,
    add_follow,
    add_follow_request,
    follow_item,
    follow_target,
    follower_count,
    list_follows,
    remove_follow,
)
from services.api.visibility import lock_pair, user_visible
from services.api.walks import feed_heads
from services.api.web.authentication import current_user
from services.api.web.pagination import page_of, page_params
from services.api.web.path_params import path_uuid
from services.api.web.write_limits import count_write
from shared.errors import conflict, invalid, not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key, redis_key

# Following, unfollowing and following again within this time notifies once.
REPEAT_FOLLOW_WINDOW = dt.timedelta(hours=24)


async def follow_user(request: web.Request) -> web.Response:
    """201 for a new follow (which notifies the followee), 200 when already following, both
    `{"status": "following", ...}`; 202 `{"status": "requested"}` when the followee approves
    followers (which notifies them of the request), so a client tells them apart by `status`
    alone. A repeat within REPEAT_FOLLOW_WINDOW notifies no one."""
    me = current_user(request)
    followee_id = path_uuid(request, "user")
    if followee_id == me:
        raise invalid("id", "you cannot follow yourself")
    await count_write(request, "follow", me)
    notification_id = None
    created, count = False, 0
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        await lock_pair(conn, me, followee_id)  # a block racing this follow removes it after
        target = await follow_target(conn, followee_id, me)
        if target is None:
            raise not_found("user")
        if target["blocked_by_follower"]:
            raise conflict("you have blocked this user; unblock them first")
        requested = target["approve_followers"] and not target["following"]
        if requested:
            new = await add_follow_request(conn, me, followee_id)
        else:
            new = created = await add_follow(conn, me, followee_id)
            if created:
                await feed_heads.raise_for_follow(request.app[redis_key], conn, [me], followee_id)
            count = await follower_count(conn, followee_id, me)
        if new:
            notification_id = await notify_unless_repeated(
                conn,
                recipient_id=followee_id,
                type="follow_requested" if requested else "followed",
                actor_id=me,
                data={"requester_id" if requested else "follower_id": str(me)},
                within=REPEAT_FOLLOW_WINDOW,
            )
    request.app[push_jobs_key].emit([notification_id])
    if requested:
        return json_response({"status": "requested"}, status=202)
    body = {
        "status": "following",
        "user_id": followee_id,
        "following": True,
        "follower_count": count,
    }
    return json_response(body, status=201 if created else 200)


async def unfollow_user(request: web.Request) -> web.Response:
    followee_id = path_uuid(request, "user")
    me = current_user(request)
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        if not await user_visible(conn, followee_id, me):
            raise not_found("user")
        await remove_follow(conn, me, followee_id)
    return web.Response(status=204)


async def _follow_list(request: web.Request, which: FollowList) -> web.Response:
    user_id = path_uuid(request, "user")
    page = page_params(request)
    viewer_id = current_user(request)
    async with request.app[db_pool_key].acquire() as conn:
        if not await user_visible(conn, user_id, viewer_id):
            raise not_found("user")
        rows = await list_follows(conn, user_id, which, page, viewer_id)
    body = page_of(rows, page, [follow_item(r) for r in rows])
    return json_response(body)


async def list_followers(request: web.Request) -> web.Response:
    return await _follow_list(request, "followers")


async def list_following(request: web.Request) -> web.Response:
    return await _follow_list(request, "following")
