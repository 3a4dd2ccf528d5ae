"""`/me/follow-requests`: who asks to follow the caller (with `approve_followers` on), and the
caller's answer. Approving makes the follow exist; a pending request grants nothing."""

from __future__ import annotations

from aiohttp import web

from services.api.social.follows import decline_follow_request, take_follow_requests
from services.api.social.user_lists import my_list_response
from services.api.walks import feed_heads
from services.api.web.authentication import current_user
from services.api.web.path_params import path_uuid
from shared.errors import not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key, redis_key


async def list_my_follow_requests(request: web.Request) -> web.Response:
    return await my_list_response(request, "follow_requests", "requested_at")


async def approve_follow_request(request: web.Request) -> web.Response:
    """200 `{"user_id", "follower": true}`: the requester now follows the caller."""
    requester_id = path_uuid(request, "follow request", "user_id")
    me = current_user(request)
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        approved = await take_follow_requests(conn, me, requester_id)
        if not approved:
            raise not_found("follow request")
        await feed_heads.raise_for_follow(request.app[redis_key], conn, approved, me)
    return json_response({"user_id": requester_id, "follower": True})


async def decline_a_follow_request(request: web.Request) -> web.Response:
    requester_id = path_uuid(request, "follow request", "user_id")
    async with request.app[db_pool_key].acquire() as conn:
        if not await decline_follow_request(conn, current_user(request), requester_id):
            raise not_found("follow request")
    return web.Response(status=204)
