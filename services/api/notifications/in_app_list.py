"""The in-app list of notifications: a page of it, its unread count, marking it read, and how
an item shows (`GET /notifications` and the data export show the same items).

What a block hides is left out of both the page and the unread count by the one rule
(`notification_shown_to`), so the two always agree.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.api.visibility import notification_shown_to
from services.api.web.pagination import Page
from services.api.web.presenters import user_columns, user_summary


async def list_notifications(
    conn: asyncpg.Connection, user_id: uuid.UUID, page: Page
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT n.id, n.type, n.data, n.created_at, n.read_at, {user_columns("a", "actor")}
            FROM notifications n LEFT JOIN users a ON a.id = n.actor_id
            WHERE n.user_id = $1 AND (n.created_at, n.id) < ($2, $3)
              AND {notification_shown_to("n", "$1")}
            ORDER BY n.created_at DESC, n.id DESC
            LIMIT $4""",
        user_id,
        page.before_created_at,
        page.before_id,
        page.limit + 1,
    )
    return rows


async def unread_count(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    count: int = await conn.fetchval(
        f"""SELECT count(*) FROM notifications n
            WHERE n.user_id = $1 AND n.read_at IS NULL AND {notification_shown_to("n", "$1")}""",
        user_id,
    )
    return count


async def mark_read(
    conn: asyncpg.Connection, user_id: uuid.UUID, ids: list[uuid.UUID] | None
) -> None:
    """Mark the caller's listed notifications (all of them when `ids` is None) read; ids of
    someone else's are ignored, and one already read keeps its first read_at."""
    await conn.execute(
        """UPDATE notifications SET read_at = clock_timestamp()
           WHERE user_id = $1 AND read_at IS NULL AND ($2::uuid[] IS NULL OR id = ANY($2))""",
        user_id,
        ids,
    )


def notification_item(record: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": record["id"],
        "type": record["type"],
        "actor": user_summary(record, "actor"),
        "data": record["data"],
        "created_at": record["created_at"],
        "read_at": record["read_at"],
    }
