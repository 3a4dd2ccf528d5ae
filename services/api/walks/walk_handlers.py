"""`/walks` and `/users/{id}/walks`: recording, reading and deleting walks."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import asyncpg
from aiohttp import web
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from services.api.filtering.fields import PublicText
from services.api.notifications.push_jobs import push_jobs_key
from services.api.rankings.walk_facts import WalkFacts
from services.api.visibility import user_visible
from services.api.walks import effects as walk_effects
from services.api.walks import feed_heads
from services.api.walks.queries import (
    get_walk,
    user_walks,
    visible_walk_owner,
    walk_detail_json,
    walk_json,
)
from services.api.web.authentication import current_user
from services.api.web.pagination import Cursor, page_of, page_params
from services.api.web.path_params import path_uuid
from services.api.web.times import EpochSeconds, Time
from shared.errors import forbidden, invalid, not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key, redis_key

MAX_WALK_DURATION = dt.timedelta(hours=24)
MAX_DISTANCE_M = 200_000
MAX_PATH_POINTS = 10_000
MAX_DOGS_PER_WALK = 20
# Invitations whose walk may be recorded: it is under way or over, not pending or called off.
RECORDABLE_INVITATION_STATUSES = ["accepted", "finished"]


class PathPoint(BaseModel):
    # strict: numbers are JSON numbers, never "5" or true.
    model_config = ConfigDict(extra="forbid", strict=True)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)
    # An ISO time with an offset (stored in UTC), or epoch seconds as the phone's GPS reported.
    t: Time | EpochSeconds


class WalkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    started_at: Time
    ended_at: Time
    distance_m: float = Field(ge=0, le=MAX_DISTANCE_M, allow_inf_nan=False, strict=True)
    visibility: Literal["public", "followers", "private"] = "public"
    dog_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_DOGS_PER_WALK)
    memo: PublicText | None = Field(default=None, max_length=1000)
    path: list[PathPoint] | None = Field(default=None, max_length=MAX_PATH_POINTS)
    invitation_id: uuid.UUID | None = None

    @field_validator("ended_at")
    @classmethod
    def _ends_after_start_within_a_day(
        cls, ended_at: dt.datetime, info: ValidationInfo
    ) -> dt.datetime:
        started_at = info.data.get("started_at")
        if started_at is not None:
            if ended_at < started_at:
                raise ValueError("ended_at must not be before started_at")
            if ended_at - started_at > MAX_WALK_DURATION:
                raise ValueError("a walk lasts at most 24 hours")
        return ended_at

    @field_validator("dog_ids")
    @classmethod
    def _unique(cls, dog_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(dog_ids)) != len(dog_ids):
            raise ValueError("dog_ids must not repeat a dog")
        return dog_ids


async def _check_references(conn: asyncpg.Connection, user_id: uuid.UUID, body: WalkIn) -> None:
    """422 unless every dog is the caller's and the invitation is the caller's and under way or
    over."""
    if body.dog_ids:
        own: int = await conn.fetchval(
            "SELECT count(*) FROM dogs WHERE id = ANY($1::uuid[]) AND owner_id = $2",
            body.dog_ids,
            user_id,
        )
        if own != len(body.dog_ids):
            raise invalid("dog_ids", "dog_ids must all be your own dogs")
    if body.invitation_id is not None:
        usable = await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM invitations
                              WHERE id = $1 AND $2 IN (inviter_id, invitee_id)
                                AND status = ANY($3::text[]))""",
            body.invitation_id,
            user_id,
            RECORDABLE_INVITATION_STATUSES,
        )
        if not usable:
            raise invalid(
                "invitation_id", "invitation_id must be an accepted or finished invitation of yours"
            )


async def _insert_walk(conn: asyncpg.Connection, user_id: uuid.UUID, body: WalkIn) -> WalkFacts:
    path = [point.model_dump() for point in body.path] if body.path is not None else None
    record = await conn.fetchrow(
        """INSERT INTO walks (user_id, started_at, ended_at, distance_m, visibility, memo, path,
                              invitation_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           RETURNING id, created_at""",
        user_id,
        body.started_at,
        body.ended_at,
        body.distance_m,
        body.visibility,
        body.memo,
        path,
        body.invitation_id,
    )
    try:
        await conn.execute(
            "INSERT INTO walk_dogs (walk_id, dog_id) SELECT $1, unnest($2::uuid[])",
            record["id"],
            body.dog_ids,
        )
    except asyncpg.ForeignKeyViolationError:  # a dog deleted since the check
        raise invalid("dog_ids", "dog_ids must all be your own dogs") from None
    return WalkFacts(
        id=record["id"],
        user_id=user_id,
        started_at=body.started_at,
        ended_at=body.ended_at,
        distance_m=body.distance_m,
        invitation_id=body.invitation_id,
        created_at=record["created_at"],
        visibility=body.visibility,
    )


async def create_walk(request: web.Request) -> web.Response:
    body = WalkIn.model_validate_json(await request.read())
    user_id = current_user(request)
    async with request.app[db_pool_key].acquire() as conn:
        async with conn.transaction():
            await _check_references(conn, user_id, body)
            facts = await _insert_walk(conn, user_id, body)
            newest = Cursor(facts.created_at, facts.id)
            redis = request.app[redis_key]
            await feed_heads.raise_for_walk(redis, conn, user_id, body.visibility, newest)
            notification_ids = await walk_effects.in_walk_transaction(conn, facts)
        request.app[push_jobs_key].emit(notification_ids)
        record = await get_walk(conn, facts.id, user_id)
    # With the connection back in the pool: the hook borrows one of its own.
    await walk_effects.after_walk_committed(request.app, facts)
    if record is None:  # deleted in the instant since the commit
        raise not_found("walk")
    return json_response(walk_json(record), status=201)


async def get_walk_detail(request: web.Request) -> web.Response:
    walk_id = path_uuid(request, "walk")
    async with request.app[db_pool_key].acquire() as conn:
        record = await get_walk(conn, walk_id, current_user(request), with_path=True)
    if record is None:
        raise not_found("walk")
    return json_response(walk_detail_json(record))


async def delete_walk(request: web.Request) -> web.Response:
    walk_id = path_uuid(request, "walk")
    user_id = current_user(request)
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        owner_id = await visible_walk_owner(conn, walk_id, user_id, lock=True)
        if owner_id is None:
            raise not_found("walk")
        if owner_id != user_id:
            raise forbidden("only the walk's owner may delete it")
        record = await conn.fetchrow(
            """DELETE FROM walks WHERE id = $1
               RETURNING id, user_id, started_at, ended_at, distance_m, invitation_id,
                         created_at, visibility""",
            walk_id,
        )
    await walk_effects.after_walk_deleted(request.app, WalkFacts(**dict(record)))
    return web.Response(status=204)


async def list_user_walks(request: web.Request) -> web.Response:
    user_id = path_uuid(request, "user")
    page = page_params(request)
    viewer_id = current_user(request)
    async with request.app[db_pool_key].acquire() as conn:
        if not await user_visible(conn, user_id, viewer_id):
            raise not_found("user")
        records = await user_walks(conn, user_id, viewer_id, page)
    return json_response(page_of(records, page, [walk_json(r) for r in records]))
