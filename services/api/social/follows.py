"""The social graph: who follows whom, and the two paginated lists of a profile."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import asyncpg

from services.api.visibility import unblocked_between
from services.api.web.pagination import Page
from services.api.web.presenters import user_columns, user_summary

FollowList = Literal["followers", "following"]

# For each list: the column that is the profile's user, and the one that is the listed user.
_LIST_SIDES: dict[FollowList, tuple[str, str]] = {
    "followers": ("followee_id", "follower_id"),
    "following": ("follower_id", "followee_id"),
}


async def add_follow(
    conn: asyncpg.Connection, follower_id: uuid.UUID, followee_id: uuid.UUID
) -> bool:
    """True when the follow is new (False when it already existed)."""
    created = await conn.fetchval(
        """INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING
           RETURNING true""",
        follower_id,
        followee_id,
    )
    return created is not None


async def remove_follow(
    conn: asyncpg.Connection, follower_id: uuid.UUID, followee_id: uuid.UUID
) -> None:
    await conn.execute(
        "DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2",
        follower_id,
        followee_id,
    )


async def remove_follows_between(conn: asyncpg.Connection, a: uuid.UUID, b: uuid.UUID) -> None:
    """Both ways: what a block does to the pair's follows."""
    await conn.execute(
        "DELETE FROM follows WHERE (follower_id, followee_id) IN (($1, $2), ($2, $1))",
        a,
        b,
    )


async def follower_count(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM follows WHERE followee_id = $1", user_id)
    return count


async def list_follows(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    which: FollowList,
    page: Page,
    viewer_id: uuid.UUID,
) -> list[asyncpg.Record]:
    """One page (plus one row) of `user_id`'s followers or followees, newest follow first,
    leaving out anyone who blocked `viewer_id` or whom they blocked.

    Each row has `created_at` and `id` (the listed user's) for the cursor, and the listed user's
    summary under the prefix `user`.
    """
    mine, theirs = _LIST_SIDES[which]
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT f.created_at, u.id, {user_columns("u", "user")}
            FROM follows f JOIN users u ON u.id = f.{theirs}
            WHERE f.{mine} = $1 AND (f.created_at, f.{theirs}) < ($2, $3)
              AND {unblocked_between("u.id", "$5")}
            ORDER BY f.created_at DESC, f.{theirs} DESC
            LIMIT $4""",
        user_id,
        page.before_created_at,
        page.before_id,
        page.limit + 1,
        viewer_id,
    )
    return rows


def follow_item(record: asyncpg.Record) -> dict[str, Any]:
    return {"user": user_summary(record, "user"), "followed_at": record["created_at"]}
