"""`/me/dogs` and `/users/{id}/dogs`: the dogs a user walks with."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.api.filtering.fields import PublicLine
from services.api.visibility import user_visible
from services.api.web.authentication import current_user
from services.api.web.pagination import Cursor, page_of, page_params
from services.api.web.path_params import path_uuid
from services.api.web.text_fields import SingleLine
from shared.errors import not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key

DOG_COLUMNS = "id, owner_id, name, breed, birth_date, created_at"
# The calendar's leading edge (UTC+14): a birth date is "in the future" only if it is still to
# come everywhere, so no user's local "today" is rejected.
_EARLIEST_ZONE = dt.timezone(dt.timedelta(hours=14))


class DogIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: PublicLine = Field(min_length=1, max_length=50)
    breed: SingleLine | None = Field(default=None, max_length=50)
    # strict: only a "YYYY-MM-DD" string, not a number of seconds or a datetime.
    birth_date: dt.date | None = Field(default=None, strict=True)

    @field_validator("birth_date")
    @classmethod
    def _not_in_future(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and value > dt.datetime.now(_EARLIEST_ZONE).date():
            raise ValueError("birth_date cannot be in the future")
        return value


async def create_dog(conn: asyncpg.Connection, owner_id: uuid.UUID, dog: DogIn) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"""INSERT INTO dogs (owner_id, name, breed, birth_date) VALUES ($1, $2, $3, $4)
            RETURNING {DOG_COLUMNS}""",
        owner_id,
        dog.name,
        dog.breed,
        dog.birth_date,
    )
    return dict(row)


async def list_dogs(
    conn: asyncpg.Connection, owner_id: uuid.UUID, after: Cursor | None, limit: int
) -> list[asyncpg.Record]:
    """Oldest first (the order they were registered), `limit` rows after the cursor."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {DOG_COLUMNS} FROM dogs
            WHERE owner_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
            ORDER BY created_at, id
            LIMIT $4""",
        owner_id,
        after.created_at if after else None,
        after.id if after else None,
        limit,
    )
    return rows


async def delete_dog(conn: asyncpg.Connection, owner_id: uuid.UUID, dog_id: uuid.UUID) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM dogs WHERE id = $1 AND owner_id = $2 RETURNING true", dog_id, owner_id
    )
    return deleted is not None


async def add_dog(request: web.Request) -> web.Response:
    dog = DogIn.model_validate_json(await request.read())
    async with request.app[db_pool_key].acquire() as conn:
        created = await create_dog(conn, current_user(request), dog)
    return json_response(created, status=201)


async def get_user_dogs(request: web.Request) -> web.Response:
    """Paginated oldest first: `before` here is the cursor of the last dog already shown."""
    owner_id = path_uuid(request, "user")
    page = page_params(request)
    after = page.before if "before" in request.query else None
    async with request.app[db_pool_key].acquire() as conn:
        if not await user_visible(conn, owner_id, current_user(request)):
            raise not_found("user")
        rows = await list_dogs(conn, owner_id, after, page.limit + 1)
    return json_response(page_of(rows, page, [dict(r) for r in rows]))


async def remove_dog(request: web.Request) -> web.Response:
    dog_id = path_uuid(request, "dog")
    async with request.app[db_pool_key].acquire() as conn:
        if not await delete_dog(conn, current_user(request), dog_id):
            raise not_found("dog")
    return web.Response(status=204)
