"""Likes and comments on a walk, with the counters and the `updated_at` clock kept beside them.

Call these inside a transaction, after `hold_people` and then `visible_walk_owner(...,
lock=True)` have answered for the walk (users' rows before the walk's, the order account
deletion locks in): that check is the visibility rule, and its row lock orders concurrent
changes to one walk's counters. A counter moves only when a row was really inserted or
deleted (INSERT ... ON CONFLICT DO NOTHING RETURNING, DELETE ... RETURNING), so racing requests
never double count.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import asyncpg

from services.api.visibility import (
    comment_count_shown_to,
    comment_shown_to,
    seen_comment_count,
    seen_like_count,
)
from services.api.walks.queries import VISIBLE, moderation_json
from services.api.web.pagination import BEGINNING, Cursor
from services.api.web.presenters import user_columns, user_summary

Counter = Literal["like_count", "comment_count"]
_SEEN = {"like_count": seen_like_count("w"), "comment_count": seen_comment_count("w")}

COMMENT_COLUMNS = (
    f"c.id, c.walk_id, c.body, c.created_at, c.hidden_reason, {user_columns('u', 'author')}"
)


async def hold_people(conn: asyncpg.Connection, walk_id: uuid.UUID, actor_id: uuid.UUID) -> bool:
    """Take the lock order account deletion takes (services/api/accounts/deletion.py): the
    users' rows first, the walk's row after. Holds the rows of the actor and of the walk's owner
    (FOR KEY SHARE, in id order) until commit, which the like or comment and its notification
    need anyway (their foreign keys take the same lock, but only after the walk's row). False
    when the actor's account is gone (deleted by a request that ran first)."""
    owner_id = await conn.fetchval("SELECT user_id FROM walks WHERE id = $1", walk_id)
    people = sorted({actor_id, owner_id} - {None})
    held = await conn.fetch(
        "SELECT id FROM users WHERE id = ANY($1::uuid[]) ORDER BY id FOR KEY SHARE", people
    )
    return any(row["id"] == actor_id for row in held)


async def _move_counter(
    conn: asyncpg.Connection, walk_id: uuid.UUID, counter: Counter, delta: int
) -> int:
    """Add `delta` to the counter and bump `updated_at` (only if delta is not 0); its value."""
    seen = _SEEN[counter]  # as others see it: without hidden comments, suspended people's
    if delta == 0:
        value: int = await conn.fetchval(f"SELECT {seen} FROM walks w WHERE w.id = $1", walk_id)
    else:
        value = await conn.fetchval(
            f"""UPDATE walks w SET {counter} = w.{counter} + $2, updated_at = clock_timestamp()
                WHERE w.id = $1 RETURNING {seen}""",
            walk_id,
            delta,
        )
    return value


async def add_like(
    conn: asyncpg.Connection, walk_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[bool, int]:
    """(whether the like is new, the walk's like count)."""
    inserted = await conn.fetchval(
        """INSERT INTO likes (walk_id, user_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING RETURNING true""",
        walk_id,
        user_id,
    )
    return inserted is not None, await _move_counter(
        conn, walk_id, "like_count", 1 if inserted else 0
    )


async def remove_like(conn: asyncpg.Connection, walk_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """The walk's like count after taking the user's like away (if there was one)."""
    deleted = await conn.fetchval(
        "DELETE FROM likes WHERE walk_id = $1 AND user_id = $2 RETURNING true", walk_id, user_id
    )
    return await _move_counter(conn, walk_id, "like_count", -1 if deleted else 0)


async def add_comment(
    conn: asyncpg.Connection, walk_id: uuid.UUID, user_id: uuid.UUID, body: str
) -> asyncpg.Record:
    record: asyncpg.Record = await conn.fetchrow(
        f"""WITH c AS (INSERT INTO comments (walk_id, user_id, body) VALUES ($1, $2, $3)
                       RETURNING id, walk_id, user_id, body, created_at, hidden_reason)
            SELECT {COMMENT_COLUMNS} FROM c JOIN users u ON u.id = c.user_id""",
        walk_id,
        user_id,
        body,
    )
    await _move_counter(conn, walk_id, "comment_count", 1)
    return record


async def comment_author(
    conn: asyncpg.Connection, walk_id: uuid.UUID, comment_id: uuid.UUID
) -> uuid.UUID | None:
    """The author of the comment, if it is on that walk."""
    author_id: uuid.UUID | None = await conn.fetchval(
        "SELECT user_id FROM comments WHERE id = $1 AND walk_id = $2", comment_id, walk_id
    )
    return author_id


async def delete_comment(
    conn: asyncpg.Connection, walk_id: uuid.UUID, comment_id: uuid.UUID
) -> None:
    deleted = await conn.fetchval(
        "DELETE FROM comments WHERE id = $1 AND walk_id = $2 RETURNING true", comment_id, walk_id
    )
    if deleted:
        await _move_counter(conn, walk_id, "comment_count", -1)


async def interactions_poll(
    conn: asyncpg.Connection,
    walk_id: uuid.UUID,
    viewer_id: uuid.UUID,
    after: Cursor | None,
    before: Cursor,
    limit: int,
) -> tuple[asyncpg.Record, list[asyncpg.Record]] | None:
    """The walk's counters, the viewer's like and `updated_at`, with the oldest `limit` comments
    newer than `after` (all from the first when None) and older than `before`, oldest first;
    None if the viewer may not see the walk. Comments and their count go through the
    visibility rule (`comment_shown_to`): neither side of a block sees the other's. One
    statement: one snapshot and one round trip for the 30-second poll."""
    after = after or BEGINNING
    rows = await conn.fetch(
        f"""WITH state AS (
                SELECT w.id, {seen_like_count("w")} AS like_count,
                       {comment_count_shown_to("w", "$1")} AS comment_count, w.updated_at,
                       EXISTS (SELECT 1 FROM likes l
                               WHERE l.walk_id = w.id AND l.user_id = $1) AS liked_by_me
                FROM walks w
                WHERE w.id = $2 AND {VISIBLE}
            ),
            page AS (
                SELECT {COMMENT_COLUMNS}
                FROM comments c JOIN users u ON u.id = c.user_id
                WHERE c.walk_id = $2 AND (c.created_at, c.id) > ($3, $4)
                  AND (c.created_at, c.id) < ($5, $6) AND {comment_shown_to("c", "$1")}
                ORDER BY c.created_at, c.id
                LIMIT $7
            )
            SELECT s.id AS state_walk_id, s.like_count, s.comment_count, s.liked_by_me,
                   s.updated_at AS state_updated_at, page.*
            FROM state s LEFT JOIN page ON true
            ORDER BY page.created_at, page.id""",
        viewer_id,
        walk_id,
        after.created_at,
        after.id,
        before.created_at,
        before.id,
        limit,
    )
    if not rows:
        return None
    return rows[0], [r for r in rows if r["id"] is not None]


def comment_json(record: asyncpg.Record) -> dict[str, Any]:
    return {
        **moderation_json(record),
        "id": record["id"],
        "walk_id": record["walk_id"],
        "user": user_summary(record, "author"),
        "body": record["body"],
        "created_at": record["created_at"],
    }
