"""Writing in-app notifications: call inside the transaction of the action that causes them.

The caller emits the returned ids as push jobs after its commit
(`request.app[push_jobs_key].emit(ids)`).

What one person can make another's phone do is bounded here, whatever route causes it:
- one actor writes at most `PER_ACTOR_PER_HOUR` notifications to one recipient in any hour
  (a sliding hour); past it the action still happens (the comment is on the walk) but notifies
  no one. Checked under a lock on the (recipient, actor) pair, so a burst cannot pass it together;
- pushes of one thread are coalesced (`COALESCED_TYPES`: comments, per walk and recipient): at
  most one push per `FOLD_WINDOW`; a notification within it is either the thread's next push,
  due when the window ends (the carrier), or, if that is already scheduled, folded into it
  (`push_state = 'folded'`, in the in-app list, never pushed by itself; the carrier's
  `push_count` grows, and its push says "3 new comments"). docs/push.md tells the whole rule.
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
    "report_resolved",
    "content_hidden",
    "location_provided",
]
# In the in-app list only: never pushed, and so not in the push settings (CONTRACT section 3,
# Location consent). Written with `push_state = 'muted'`, which no worker ever picks up.
IN_APP_ONLY: frozenset[NotificationType] = frozenset({"location_provided"})
# Every pushed type, in the order the settings list them (GET /me/notification-settings).
NOTIFICATION_TYPES: tuple[NotificationType, ...] = tuple(
    t for t in get_args(NotificationType) if t not in IN_APP_ONLY
)

PER_ACTOR_PER_HOUR = 20
# The types whose pushes are coalesced per (recipient, walk): a thread many people may add to.
COALESCED_TYPES = frozenset({"walk_commented"})
FOLD_WINDOW = dt.timedelta(minutes=1)


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
    if actor_id is not None and not await _under_actor_ceiling(conn, recipient_id, actor_id):
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
    if notification_id is not None and type in COALESCED_TYPES:
        walk_id = _walk_of(data)
        if walk_id is not None:
            await _coalesce_push(conn, notification_id, recipient_id, type, walk_id)
    return notification_id


def _walk_of(data: dict[str, Any] | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str((data or {})["walk_id"]))
    except (KeyError, ValueError):
        return None


async def _under_actor_ceiling(
    conn: asyncpg.Connection, recipient_id: uuid.UUID, actor_id: uuid.UUID
) -> bool:
    """Whether the actor may still notify the recipient this hour. Holds the pair's lock until
    commit (a key of its own: `notify:`), so concurrent notifications are counted one by one."""
    await conn.execute(
        """SELECT pg_advisory_xact_lock(
                      hashtextextended('notify:' || $1::uuid || ':' || $2::uuid, 0))""",
        recipient_id,
        actor_id,
    )
    # A statement of its own: its snapshot is taken once the lock is held, so it sees what the
    # transaction that held it before committed.
    written: int = await conn.fetchval(
        """SELECT count(*) FROM notifications
            WHERE user_id = $1 AND actor_id = $2
              AND created_at > clock_timestamp() - interval '1 hour'""",
        recipient_id,
        actor_id,
    )
    return written < PER_ACTOR_PER_HOUR


async def _coalesce_push(
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    recipient_id: uuid.UUID,
    type: str,
    walk_id: uuid.UUID,
) -> None:
    """Pushed now (the thread's first in `FOLD_WINDOW`), scheduled as the thread's next push
    when the window ends, or folded into that scheduled push. The thread's row is locked until
    commit (the upsert), so concurrent notifications of one thread take turns."""
    fold = await conn.fetchrow(
        """INSERT INTO push_folds (recipient_id, type, walk_id, next_push_at)
           SELECT $1, $2, $3, clock_timestamp() + $4::interval
           WHERE EXISTS (SELECT 1 FROM walks WHERE id = $3)
           ON CONFLICT (recipient_id, type, walk_id)
           DO UPDATE SET recipient_id = EXCLUDED.recipient_id
           RETURNING (xmax = 0) AS first, next_push_at, carrier_id, carrier_due_at,
                     clock_timestamp() AS now""",
        recipient_id,
        type,
        walk_id,
        FOLD_WINDOW,
    )
    if fold is None or fold["first"]:  # no such walk (any more), or the thread's first
        return
    key = (recipient_id, type, walk_id)
    if fold["now"] >= fold["next_push_at"]:  # the window is over: push now, start a new one
        await conn.execute(
            """UPDATE push_folds SET next_push_at = clock_timestamp() + $4::interval,
                                     carrier_id = NULL, carrier_due_at = NULL
               WHERE recipient_id = $1 AND type = $2 AND walk_id = $3""",
            *key,
            FOLD_WINDOW,
        )
        return
    if fold["carrier_id"] is not None and fold["now"] < fold["carrier_due_at"]:
        carried = await conn.fetchval(
            """UPDATE notifications SET push_count = push_count + 1
               WHERE id = $1 AND push_state = 'pending' RETURNING true""",
            fold["carrier_id"],
        )
        if carried:
            await conn.execute(
                "UPDATE notifications SET push_state = 'folded' WHERE id = $1", notification_id
            )
            return
    # This one carries the thread's next push, due when the window ends.
    await conn.execute(
        "UPDATE notifications SET push_due_at = $2 WHERE id = $1",
        notification_id,
        fold["next_push_at"],
    )
    await conn.execute(
        """UPDATE push_folds SET carrier_id = $4, carrier_due_at = next_push_at,
                                 next_push_at = next_push_at + $5::interval
           WHERE recipient_id = $1 AND type = $2 AND walk_id = $3""",
        *key,
        notification_id,
        FOLD_WINDOW,
    )


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
