"""The social graph: who follows whom, follow requests, and the paginated lists of a profile.

Following someone with `approve_followers` takes their approval: until then the requester has
a row in `follow_requests`, which grants nothing (the visibility rule reads only `follows`).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import asyncpg

from services.api.visibility import follow_count_seen_by, listed_to, not_suspended, user_visible_to
from services.api.web.pagination import Page
from services.api.web.presenters import user_columns, user_summary

FollowList = Literal["followers", "following"]

# For each list: the column that is the profile's user, and the one that is the listed user.
_LIST_SIDES: dict[FollowList, tuple[str, str]] = {
    "followers": ("followee_id", "follower_id"),
    "following": ("follower_id", "followee_id"),
}


async def follow_target(
    conn: asyncpg.Connection, followee_id: uuid.UUID, follower_id: uuid.UUID
) -> asyncpg.Record | None:
    """`approve_followers`, `blocked_by_follower` and `following` of a user the would-be follower
    may see (None if they may not). Holds a share lock on the user's row until commit, so a
    concurrent switch of `approve_followers` is seen before or after, never in between."""
    record: asyncpg.Record | None = await conn.fetchrow(
        f"""SELECT u.approve_followers,
                   EXISTS (SELECT 1 FROM blocks b
                           WHERE b.blocker_id = $2 AND b.blocked_id = u.id) AS blocked_by_follower,
                   EXISTS (SELECT 1 FROM follows f
                           WHERE f.follower_id = $2 AND f.followee_id = u.id) AS following
            FROM users u
            WHERE u.id = $1 AND {user_visible_to("u.id", "$2")}
            FOR SHARE OF u""",
        followee_id,
        follower_id,
    )
    return record


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
    """Unfollow, or withdraw the request to follow."""
    await conn.execute(
        """WITH withdrawn AS (DELETE FROM follow_requests
                              WHERE requester_id = $1 AND target_id = $2)
           DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2""",
        follower_id,
        followee_id,
    )


async def remove_follows_between(conn: asyncpg.Connection, a: uuid.UUID, b: uuid.UUID) -> None:
    """Both ways, requests too: what a block does to the pair's follows."""
    await conn.execute(
        """WITH withdrawn AS (DELETE FROM follow_requests
                              WHERE (requester_id, target_id) IN (($1, $2), ($2, $1)))
           DELETE FROM follows WHERE (follower_id, followee_id) IN (($1, $2), ($2, $1))""",
        a,
        b,
    )


async def add_follow_request(
    conn: asyncpg.Connection, requester_id: uuid.UUID, target_id: uuid.UUID
) -> bool:
    """True when the request is new (False when it was already pending)."""
    created = await conn.fetchval(
        """INSERT INTO follow_requests (requester_id, target_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING RETURNING true""",
        requester_id,
        target_id,
    )
    return created is not None


async def take_follow_requests(
    conn: asyncpg.Connection, target_id: uuid.UUID, requester_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """Turn pending requests to `target_id` (only `requester_id`'s, when given) into follows;
    the requesters whose request there was. A suspended requester's request waits (out of
    sight) until the suspension ends."""
    rows = await conn.fetch(
        f"""WITH taken AS (DELETE FROM follow_requests
                          WHERE target_id = $1 AND ($2::uuid IS NULL OR requester_id = $2)
                            AND {not_suspended("requester_id")}
                          RETURNING requester_id),
                followed AS (INSERT INTO follows (follower_id, followee_id)
                             SELECT requester_id, $1 FROM taken
                             ON CONFLICT DO NOTHING)
           SELECT requester_id FROM taken""",
        target_id,
        requester_id,
    )
    return [r["requester_id"] for r in rows]


async def decline_follow_request(
    conn: asyncpg.Connection, target_id: uuid.UUID, requester_id: uuid.UUID
) -> bool:
    declined = await conn.fetchval(
        "DELETE FROM follow_requests WHERE target_id = $1 AND requester_id = $2 RETURNING true",
        target_id,
        requester_id,
    )
    return declined is not None


async def follower_count(conn: asyncpg.Connection, user_id: uuid.UUID, viewer_id: uuid.UUID) -> int:
    """The user's followers that `viewer_id` may see listed (as `GET /users/{id}` counts them)."""
    count: int = await conn.fetchval(
        f"SELECT {follow_count_seen_by('$1', 'followers', '$2')}", user_id, viewer_id
    )
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
              AND {listed_to("u.id", "$5")}
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
