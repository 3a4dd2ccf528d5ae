"""Reading walks as one viewer sees them, and the Walk JSON the contract defines.

Every query binds the viewer at `$1` and filters with `walk_visible_to`, so a walk the viewer
may not see is never returned, and a route that names it answers 404.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.api.visibility import (
    path_zones_for,
    seen_comment_count,
    seen_like_count,
    visible_path,
    walk_visible_to,
)
from services.api.web.pagination import Page
from services.api.web.presenters import user_columns, user_summary

VISIBLE = walk_visible_to("w", "$1")
# The recorded path, and what `visible_path` needs to trim it for the viewer at $1.
PATH_COLUMNS = f"w.path, {path_zones_for('w', '$1')}"

# The select list of a Walk, for `walks w JOIN users u ON u.id = w.user_id` with the viewer at $1.
WALK_COLUMNS = f"""w.id, w.user_id, w.started_at, w.ended_at, w.distance_m, w.visibility, w.memo,
    w.invitation_id, {seen_like_count("w")} AS like_count,
    {seen_comment_count("w")} AS comment_count, w.created_at, w.hidden_reason,
    {user_columns("u", "owner")},
    EXISTS (SELECT 1 FROM likes l WHERE l.walk_id = w.id AND l.user_id = $1) AS liked_by_me,
    COALESCE((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name, 'breed', d.breed)
                               ORDER BY d.created_at, d.id)
              FROM walk_dogs wd JOIN dogs d ON d.id = wd.dog_id
              WHERE wd.walk_id = w.id), '[]'::jsonb) AS dogs"""

NEWEST_FIRST = "ORDER BY w.created_at DESC, w.id DESC"


async def get_walk(
    conn: asyncpg.Connection, walk_id: uuid.UUID, viewer_id: uuid.UUID, *, with_path: bool = False
) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await conn.fetchrow(
        f"""SELECT {WALK_COLUMNS}{", " + PATH_COLUMNS if with_path else ""}
            FROM walks w JOIN users u ON u.id = w.user_id
            WHERE w.id = $2 AND {VISIBLE}""",
        viewer_id,
        walk_id,
    )
    return record


async def visible_walk_owner(
    conn: asyncpg.Connection, walk_id: uuid.UUID, viewer_id: uuid.UUID, *, lock: bool = False
) -> uuid.UUID | None:
    """The owner of the walk if the viewer may see it; `lock` holds the row until commit."""
    owner_id: uuid.UUID | None = await conn.fetchval(
        f"""SELECT w.user_id FROM walks w WHERE w.id = $2 AND {VISIBLE}
            {"FOR UPDATE OF w" if lock else ""}""",
        viewer_id,
        walk_id,
    )
    return owner_id


async def user_walks(
    conn: asyncpg.Connection, user_id: uuid.UUID, viewer_id: uuid.UUID, page: Page
) -> list[asyncpg.Record]:
    """One page (plus one row) of `user_id`'s walks that the viewer may see, newest first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {WALK_COLUMNS}
            FROM walks w JOIN users u ON u.id = w.user_id
            WHERE w.user_id = $2 AND (w.created_at, w.id) < ($3, $4) AND {VISIBLE}
            {NEWEST_FIRST}
            LIMIT $5""",
        viewer_id,
        user_id,
        page.before_created_at,
        page.before_id,
        page.limit + 1,
    )
    return rows


def moderation_json(record: asyncpg.Record) -> dict[str, Any]:
    """`{"moderation": {"hidden": true, "reason"}}` for hidden content (only its author sees
    it), else nothing."""
    reason = record["hidden_reason"]
    return {} if reason is None else {"moderation": {"hidden": True, "reason": reason}}


def walk_json(record: asyncpg.Record) -> dict[str, Any]:
    """The contract's Walk (without `path`, which only `GET /walks/{id}` carries)."""
    return {
        **moderation_json(record),
        "id": record["id"],
        "user": user_summary(record, "owner"),
        "dogs": record["dogs"],
        "started_at": record["started_at"],
        "ended_at": record["ended_at"],
        "duration_s": int((record["ended_at"] - record["started_at"]).total_seconds()),
        "distance_m": record["distance_m"],
        "visibility": record["visibility"],
        "memo": record["memo"],
        "invitation_id": record["invitation_id"],
        "like_count": record["like_count"],
        "comment_count": record["comment_count"],
        "liked_by_me": record["liked_by_me"],
        "created_at": record["created_at"],
    }


def walk_detail_json(record: asyncpg.Record) -> dict[str, Any]:
    """`GET /walks/{id}`: the Walk with its recorded path (a list, or null) as the viewer may
    see it (selected with `PATH_COLUMNS`)."""
    path = visible_path(record["path"], record["path_zones"], record["id"])
    return {**walk_json(record), "path": path}
