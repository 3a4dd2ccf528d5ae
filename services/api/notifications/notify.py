"""Writing in-app notifications: call inside the transaction of the action that causes them.

The caller emits the returned ids as push jobs after its commit
(`request.app[push_jobs_key].emit(ids)`).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, get_args

import asyncpg

NotificationType = Literal[
    "invitation_received",
    "invitation_accepted",
    "followed",
    "walk_liked",
    "walk_commented",
    "badge_earned",
    "ranking_changed",
]
# Every type, in the order the settings list them (GET /me/notification-settings).
NOTIFICATION_TYPES: tuple[NotificationType, ...] = get_args(NotificationType)


async def notify(
    conn: asyncpg.Connection,
    *,
    recipient_id: uuid.UUID,
    type: NotificationType,
    actor_id: uuid.UUID | None,
    data: dict[str, Any] | None = None,
) -> uuid.UUID | None:
    """Insert one notification; None when it is not due (one's own action, or a duplicate
    `walk_liked` for the same liker and walk)."""
    if actor_id is not None and actor_id == recipient_id:
        return None
    notification_id: uuid.UUID | None = await conn.fetchval(
        """INSERT INTO notifications (user_id, type, actor_id, data)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING
           RETURNING id""",
        recipient_id,
        type,
        actor_id,
        data or {},
    )
    return notification_id
