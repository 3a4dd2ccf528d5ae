"""`/me` and `/users/{id}`: profiles, follows, followers and following."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

import asyncpg
from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, field_validator

from services.api.consents.documents import load_documents
from services.api.consents.state import consent_state
from services.api.filtering.fields import PublicLine
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
    take_follow_requests,
)
from services.api.social.profiles import fetch_profile
from services.api.visibility import lock_pair, user_visible
from services.api.walks import feed_heads
from services.api.web.authentication import current_user
from services.api.web.pagination import page_of, page_params
from services.api.web.path_params import path_uuid
from services.api.web.write_limits import count_write
from shared.errors import conflict, invalid, not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key, redis_key, settings_key

ME_COLUMNS = (
    "id, email, nickname, profile_image_url, approve_followers, created_at,"
    " email_verified_at IS NOT NULL AS email_verified"
)
# Following, unfollowing and following again within this time notifies once.
REPEAT_FOLLOW_WINDOW = dt.timedelta(hours=24)


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
    nickname: PublicLine | None = Field(default=None, min_length=1, max_length=30)
    profile_image_url: HttpUrlText | None = None
    approve_followers: StrictBool | None = None

    @field_validator("nickname", "approve_followers")
    @classmethod
    def _not_null(cls, value: str | bool | None) -> str | bool:
        if value is None:
            raise ValueError("cannot be null")
        return value


async def fetch_me(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any] | None:
    """The caller's own user object (the only one that shows an email)."""
    row = await conn.fetchrow(f"SELECT {ME_COLUMNS} FROM users WHERE id = $1", user_id)
    return dict(row) if row else None


async def update_me(
    conn: asyncpg.Connection, user_id: uuid.UUID, patch: MePatch
) -> dict[str, Any] | None:
    """Update the caller. Call inside a transaction: switching `approve_followers` off approves
    what is pending (the row lock taken here orders it with concurrent follows)."""
    row = await conn.fetchrow(
        f"""UPDATE users
            SET nickname = COALESCE($2, nickname),
                profile_image_url = CASE WHEN $3 THEN $4 ELSE profile_image_url END,
                approve_followers = COALESCE($5, approve_followers)
            WHERE id = $1
            RETURNING {ME_COLUMNS}""",
        user_id,
        patch.nickname,
        "profile_image_url" in patch.model_fields_set,
        patch.profile_image_url,
        patch.approve_followers,
    )
    return dict(row) if row else None


async def get_me(request: web.Request) -> web.Response:
    user_id = current_user(request)
    async with request.app[db_pool_key].acquire() as conn:
        me = await fetch_me(conn, user_id)
        if me is None:
            raise not_found("user")
        await _add_consents_required(request, conn, me)
    return json_response(me)


async def _add_consents_required(
    request: web.Request, conn: asyncpg.Connection, me: dict[str, Any]
) -> None:
    """`GET /me` and `PATCH /me` answer the same object: with the required documents whose
    current version awaits the caller's consent (CONTRACT section 3, Consents)."""
    documents = load_documents(request.app[settings_key].legal_documents_file)
    me["consents_required"] = (await consent_state(conn, me["id"], documents)).required


async def patch_me(request: web.Request) -> web.Response:
    patch = MePatch.model_validate_json(await request.read())
    user_id = current_user(request)
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        me = await update_me(conn, user_id, patch)
        if me is not None and patch.approve_followers is False:
            approved = await take_follow_requests(conn, user_id)
            await feed_heads.raise_for_follow(request.app[redis_key], conn, approved, user_id)
        if me is not None:
            await _add_consents_required(request, conn, me)
    if me is None:
        raise not_found("user")
    return json_response(me)


async def get_user(request: web.Request) -> web.Response:
    user_id = path_uuid(request, "user")
    async with request.app[db_pool_key].acquire() as conn:
        profile = await fetch_profile(conn, user_id, current_user(request))
    if profile is None:
        raise not_found("user")
    return json_response(profile)


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
