"""`/me` and `/users/{id}`: the caller's own user object, changing it, and others' profiles."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from services.api.consents.documents import load_documents
from services.api.consents.state import consent_state
from services.api.social.follows import take_follow_requests
from services.api.social.profiles import fetch_profile
from services.api.social.users import MePatch, fetch_me, update_me
from services.api.walks import feed_heads
from services.api.web.authentication import current_user
from services.api.web.path_params import path_uuid
from shared.errors import not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key, redis_key, settings_key


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
