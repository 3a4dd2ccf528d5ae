"""`/me` and `/users/{id}`: profiles, follows, followers and following."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

import asyncpg
from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from services.api.accounts.authentication import current_user
from services.api.keys import push_jobs_key
from services.api.notifications.notify import notify
from services.api.social.follows import (
    FollowList,
    add_follow,
    follow_item,
    follower_count,
    list_follows,
    remove_follow,
)
from services.api.social.profiles import fetch_profile
from services.api.visibility import has_blocked, user_visible
from services.api.walks import feed_heads
from services.api.web.pagination import page_of, page_params
from services.api.web.path_params import path_uuid
from services.api.web.text_fields import SingleLine
from shared.errors import conflict, invalid, not_found
from shared.jsonutil import dumps
from shared.keys import db_pool_key, redis_key

routes = web.RouteTableDef()

ME_COLUMNS = "id, email, nickname, profile_image_url, created_at"


def _http_url(value: str) -> str:
    """Only absolute http(s) URLs: the apps load this as an image, nothing else is safe to fetch."""
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("URL must not contain whitespace or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http or https URL")
    return value


HttpUrlText = Annotated[str, Field(max_length=2048), AfterValidator(_http_url)]


class MePatch(BaseModel):
    """Absent fields stay as they are; `profile_image_url: null` clears the image."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    nickname: SingleLine | None = Field(default=None, min_length=1, max_length=30)
    profile_image_url: HttpUrlText | None = None

    @field_validator("nickname")
    @classmethod
    def _nickname_not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("nickname cannot be null")
        return value


async def fetch_me(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any] | None:
    """The caller's own user object (the only one that shows an email)."""
    row = await conn.fetchrow(f"SELECT {ME_COLUMNS} FROM users WHERE id = $1", user_id)
    return dict(row) if row else None


async def update_me(
    conn: asyncpg.Connection, user_id: uuid.UUID, patch: MePatch
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"""UPDATE users
            SET nickname = COALESCE($2, nickname),
                profile_image_url = CASE WHEN $3 THEN $4 ELSE profile_image_url END
            WHERE id = $1
            RETURNING {ME_COLUMNS}""",
        user_id,
        patch.nickname,
        "profile_image_url" in patch.model_fields_set,
        patch.profile_image_url,
    )
    return dict(row) if row else None


@routes.get("/me")
async def get_me(request: web.Request) -> web.Response:
    async with request.app[db_pool_key].acquire() as conn:
        me = await fetch_me(conn, current_user(request))
    if me is None:
        raise not_found("user")
    return web.json_response(me, dumps=dumps)


@routes.patch("/me")
async def patch_me(request: web.Request) -> web.Response:
    patch = MePatch.model_validate_json(await request.read())
    async with request.app[db_pool_key].acquire() as conn:
        me = await update_me(conn, current_user(request), patch)
    if me is None:
        raise not_found("user")
    return web.json_response(me, dumps=dumps)


@routes.get("/users/{id}")
async def get_user(request: web.Request) -> web.Response:
    user_id = path_uuid(request, "user")
    async with request.app[db_pool_key].acquire() as conn:
        profile = await fetch_profile(conn, user_id, current_user(request))
    if profile is None:
        raise not_found("user")
    return web.json_response(profile, dumps=dumps)


@routes.post("/users/{id}/follow")
async def follow_user(request: web.Request) -> web.Response:
    """201 for a new follow (which notifies the followee), 200 when already following."""
    me = current_user(request)
    followee_id = path_uuid(request, "user")
    if followee_id == me:
        raise invalid("id", "you cannot follow yourself")
    notification_id = None
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        if not await user_visible(conn, followee_id, me):
            raise not_found("user")
        if await has_blocked(conn, me, followee_id):
            raise conflict("you have blocked this user; unblock them first")
        created = await add_follow(conn, me, followee_id)
        if created:
            await feed_heads.raise_for_follow(request.app[redis_key], conn, me, followee_id)
            notification_id = await notify(
                conn,
                recipient_id=followee_id,
                type="followed",
                actor_id=me,
                data={"follower_id": str(me)},
            )
        count = await follower_count(conn, followee_id)
    request.app[push_jobs_key].emit([notification_id])
    body = {"user_id": followee_id, "following": True, "follower_count": count}
    return web.json_response(body, status=201 if created else 200, dumps=dumps)


@routes.delete("/users/{id}/follow")
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
    return web.json_response(body, dumps=dumps)


@routes.get("/users/{id}/followers")
async def list_followers(request: web.Request) -> web.Response:
    return await _follow_list(request, "followers")


@routes.get("/users/{id}/following")
async def list_following(request: web.Request) -> web.Response:
    return await _follow_list(request, "following")
