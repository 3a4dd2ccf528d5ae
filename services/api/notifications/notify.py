"""Writing in-app notifications: call inside the transaction of the action that causes them.

The caller emits the returned ids as push jobs after its commit
(`request.app[push_jobs_key].emit(ids)`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal, get_args

import asyncpg

NotificationType = Literal[
    "invitation_received",
    "invitation_accepted",
    "followed",
    "follow_requested",
    "walk_liked",
    "walk_commented",
    "badge_earned",
    "ranking_changed",
    "location_provided",
]
# In the in-app list only: never pushed, and so not in the push settings (CONTRACT section 3,
# Location consent). Written with `push_state = 'muted'`, which no worker ever picks up.
IN_APP_ONLY: frozenset[NotificationType] = frozenset({"location_provided"})
# Every pushed type, in the order the settings list them (GET /me/notification-settings).
NOTIFICATION_TYPES: tuple[NotificationType, ...] = tuple(
    t for t in get_args(NotificationType) if t not in IN_APP_ONLY
)


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


async def notify_unless_repeated(
    conn: asyncpg.Connection,
    *,
    recipient_id: uuid.UUID,
    type: NotificationType,
    actor_id: uuid.UUID,
    data: dict[str, Any],
    within: dt.timedelta,
) -> uuid.UUID | None:
    """`notify`, unless the actor already caused this type for the recipient within `within`:
    a repeated action (follow, unfollow, follow again) does not repeat its notification or its
    push. The notice row is claimed atomically, so racing repeats notify once."""
    if actor_id == recipient_id:
        return None
    due = await conn.fetchval(
        """INSERT INTO repeat_notices (recipient_id, actor_id, type, noticed_at)
           VALUES ($1, $2, $3, now())
           ON CONFLICT (recipient_id, actor_id, type) DO UPDATE SET noticed_at = EXCLUDED.noticed_at
           WHERE repeat_notices.noticed_at <= EXCLUDED.noticed_at - $4::interval
           RETURNING true""",
        recipient_id,
        actor_id,
        type,
        within,
    )
    if due is None:
        return None
    return await notify(conn, recipient_id=recipient_id, type=type, actor_id=actor_id, data=data)


async def forget_partner_in_notices(conn: asyncpg.Connection, partner_id: uuid.UUID) -> None:
    """With a deleted account: `location_provided` notices (services/api/location_rights/
    notices.py) name the partner in their data, which becomes null, as the ledger's does."""
    await conn.execute(
        """UPDATE notifications SET data = jsonb_set(data, '{partner}', 'null'::jsonb)
            WHERE type = 'location_provided' AND data -> 'partner' ->> 'id' = $1""",
        str(partner_id),
    )
