"""`/devices`: the FCM registration tokens pushes are sent to."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.api.web.authentication import current_user
from shared.errors import not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key

MAX_TOKEN_LENGTH = 4096


def _is_token_text(text: str) -> bool:
    """Push tokens (FCM, APNs, web push) are printable ASCII without spaces; holding them to
    that also keeps NUL, which PostgreSQL cannot store, away from the database."""
    return all("!" <= c <= "~" for c in text)


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH)
    platform: Literal["android", "ios", "web"]

    @field_validator("token")
    @classmethod
    def _token_chars(cls, value: str) -> str:
        if not _is_token_text(value):
            raise ValueError("token must be printable ASCII without spaces")
        return value


async def register_device(
    conn: asyncpg.Connection, user_id: uuid.UUID, device: DeviceIn
) -> tuple[dict[str, Any], bool]:
    """Upsert the token for `user_id` (taking it from whoever had it: a phone changes hands or
    accounts, and only its last user should get its pushes); True when the token is new."""
    row = await conn.fetchrow(
        """INSERT INTO devices (token, user_id, platform) VALUES ($1, $2, $3)
           ON CONFLICT (token) DO UPDATE
               SET user_id = EXCLUDED.user_id,
                   platform = EXCLUDED.platform,
                   updated_at = clock_timestamp()
           RETURNING token, platform, created_at, updated_at, (xmax = 0) AS inserted""",
        device.token,
        user_id,
        device.platform,
    )
    # xmax is 0 only on a freshly inserted row version, not on one the upsert updated.
    answer = {k: row[k] for k in ("token", "platform", "created_at", "updated_at")}
    return answer, row["inserted"]


async def delete_device(conn: asyncpg.Connection, user_id: uuid.UUID, token: str) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM devices WHERE token = $1 AND user_id = $2 RETURNING true", token, user_id
    )
    return deleted is not None


async def add_device(request: web.Request) -> web.Response:
    """201 for a new token, 200 for one already registered (by anyone)."""
    device = DeviceIn.model_validate_json(await request.read())
    async with request.app[db_pool_key].acquire() as conn:
        answer, created = await register_device(conn, current_user(request), device)
    return json_response(answer, status=201 if created else 200)


# `.+`: a token is opaque, so match everything after the prefix, '/' included.
async def remove_device(request: web.Request) -> web.Response:
    """Only the caller's own token: another user's is 404 and stays registered."""
    token = request.match_info["token"]
    if len(token) > MAX_TOKEN_LENGTH or not _is_token_text(token):
        raise not_found("device")
    async with request.app[db_pool_key].acquire() as conn:
        if not await delete_device(conn, current_user(request), token):
            raise not_found("device")
    return web.Response(status=204)
