"""The worker's SQL: claiming jobs from their notification rows, settling them, finding lost ones.

A claim is a lease on the row (`push_lease_until`), so two workers that got the same job (a
reclaimed entry, a sweeper's re-emit) never send it at once; `push_deliveries` remembers which
devices are settled, so a retry or a reclaimed job only sends to the others. A claim also reads
the recipient's notification settings, which decide whether the push is sent now, held by quiet
hours (`record_decisions`: still pending, due when they end) or muted. One that a block now hides
from its recipient (`notification_shown_to`) is muted as well: a block stops the pushes its
actor's earlier actions were still to cause.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

import asyncpg

from services.api.notifications.push_settings import PushSettings
from services.api.push_worker.messages import PushNotification
from services.api.visibility import notification_shown_to

JobState = Literal["sent", "dead", "pending"]
MAX_TEXT = 500
DeliveryOutcome = Literal["sent", "rejected", "unregistered"]


@dataclass(frozen=True, slots=True)
class Device:
    token: str


@dataclass(slots=True)
class ClaimedJob:
    notification: PushNotification
    attempt: int
    settings: PushSettings = field(default_factory=PushSettings)  # the recipient's
    devices: list[Device] = field(default_factory=list)
    hidden: bool = False  # by a block between its actor and its recipient: never sent


@dataclass(frozen=True, slots=True)
class Delivery:
    token: str
    outcome: DeliveryOutcome
    detail: str


@dataclass(frozen=True, slots=True)
class Settlement:
    """What one attempt at a job decided."""

    notification_id: uuid.UUID
    state: JobState
    deliveries: list[Delivery]
    attempt: int
    retry_in_s: float = 0.0
    reason: str = ""


# The recipients' settings rows, read FOR SHARE until the claim's transaction ends: a change
# of settings (which locks its row) waits for the pushes being decided under the old ones to be
# recorded, then releases them if they were held; a claim waits for a change being made.
_LOCK_SETTINGS = """
SELECT 1 FROM notification_settings
 WHERE user_id IN (SELECT user_id FROM notifications WHERE id = ANY($1::uuid[]))
   FOR SHARE
"""

_CLAIM = f"""
WITH claimed AS (
    UPDATE notifications n
       SET push_attempts = n.push_attempts + 1,
           push_held = false,
           push_lease_until = now() + make_interval(secs => $2)
      FROM (SELECT id FROM notifications
             WHERE id = ANY($1::uuid[])
               AND push_state = 'pending'
               AND (push_lease_until IS NULL OR push_lease_until <= now())
               AND (push_due_at IS NULL OR push_due_at <= now())
             ORDER BY id
               FOR UPDATE SKIP LOCKED) AS free
     WHERE n.id = free.id
 RETURNING n.id, n.user_id, n.type, n.actor_id, n.data, n.push_attempts, n.push_count
)
SELECT c.id, c.user_id, c.type, c.actor_id, c.data, c.push_attempts, c.push_count,
       a.nickname AS actor_nickname,
       s.push_off, s.quiet_start, s.quiet_end,
       NOT {notification_shown_to("c", "c.user_id")} AS hidden
  FROM claimed c
  LEFT JOIN users a ON a.id = c.actor_id
  LEFT JOIN notification_settings s ON s.user_id = c.user_id
"""

_UNSETTLED_DEVICES = """
SELECT j.id AS notification_id, d.token
  FROM unnest($1::uuid[], $2::uuid[]) AS j(id, user_id)
  JOIN devices d ON d.user_id = j.user_id
 WHERE NOT EXISTS (SELECT 1 FROM push_deliveries p
                    WHERE p.notification_id = j.id AND p.device_token = d.token)
"""


async def claim_jobs(
    conn: asyncpg.Connection, ids: list[uuid.UUID], lease_s: float
) -> list[ClaimedJob]:
    """Lease the pending, due, unleased ones among `ids`, with their recipients' settings and
    the devices still to push. Call in a transaction, which `record_decisions` ends."""
    await conn.execute(_LOCK_SETTINGS, ids)
    rows = await conn.fetch(_CLAIM, ids, lease_s)
    if not rows:
        return []
    jobs = {
        row["id"]: ClaimedJob(
            PushNotification(
                id=row["id"],
                type=row["type"],
                actor_id=row["actor_id"],
                actor_nickname=row["actor_nickname"],
                data=row["data"] or {},
                count=row["push_count"],
            ),
            attempt=row["push_attempts"],
            settings=PushSettings.from_columns(
                row["push_off"], row["quiet_start"], row["quiet_end"]
            ),
            hidden=row["hidden"],
        )
        for row in rows
    }
    devices = await conn.fetch(
        _UNSETTLED_DEVICES, [r["id"] for r in rows], [r["user_id"] for r in rows]
    )
    for device in devices:
        jobs[device["notification_id"]].devices.append(Device(device["token"]))
    return list(jobs.values())


# A claimed job's device, right before its send: the notification is still there (its account
# and its actor's were not deleted), the device still its recipient's (not signed out or taken
# over), and no block has come between the recipient and the actor since the claim.
_STILL_DELIVERABLE = f"""
SELECT j.id, j.token
  FROM unnest($1::uuid[], $2::text[]) AS j(id, token)
  JOIN notifications n ON n.id = j.id
  JOIN devices d ON d.token = j.token AND d.user_id = n.user_id
 WHERE {notification_shown_to("n", "n.user_id")}
"""

Send = tuple[uuid.UUID, str]  # (notification id, device token)


async def still_deliverable(pool: asyncpg.Pool, sends: list[Send]) -> dict[Send, bool]:
    """Those of `sends` that may still go out (True); the others are left out."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            _STILL_DELIVERABLE, [n for n, _ in sends], [token for _, token in sends]
        )
    return {(row["id"], row["token"]): True for row in rows}


async def record_decisions(
    conn: asyncpg.Connection, held: dict[uuid.UUID, float], muted: list[uuid.UUID]
) -> None:
    """Claimed jobs that are not sent now: `held` (id -> seconds until the recipient's quiet
    hours end) stay pending, due then, and their claim is not counted as an attempt; `muted`
    ones (a type the recipient switched off) are settled without a send."""
    if held:
        await conn.execute(
            """UPDATE notifications n
                  SET push_held = true,
                      push_due_at = now() + make_interval(secs => h.wait_s),
                      push_attempts = n.push_attempts - 1,
                      push_lease_until = NULL
                 FROM unnest($1::uuid[], $2::float8[]) AS h(id, wait_s)
                WHERE n.id = h.id""",
            list(held),
            list(held.values()),
        )
    if muted:
        await conn.execute(
            """UPDATE notifications SET push_state = 'muted', push_lease_until = NULL
                WHERE id = ANY($1::uuid[])""",
            muted,
        )


async def wait_times(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, float]:
    """For jobs that were not claimed: the pending ones, with seconds until due (<= 0: due,
    but leased or locked by another worker). Missing ids are finished or gone."""
    rows = await conn.fetch(
        """SELECT id, coalesce(extract(epoch FROM push_due_at - now()), 0)::float8 AS wait_s
             FROM notifications
            WHERE id = ANY($1::uuid[]) AND push_state = 'pending'""",
        ids,
    )
    return {row["id"]: row["wait_s"] for row in rows}


def _storable(text: str) -> str:
    """FCM's words as a text column takes them: no NUL, bounded."""
    return text.replace("\x00", "")[:MAX_TEXT]


async def settle_jobs(conn: asyncpg.Connection, settlements: list[Settlement]) -> None:
    """Record one batch of attempts in one transaction.

    A notification may have gone since it was claimed (with its recipient's or actor's deleted
    account): only those still there are recorded, each locked first (KEY SHARE: a deletion
    waits for this commit), so one gone row cannot fail the batch's foreign keys and have the
    others' devices pushed again."""
    async with conn.transaction():
        present = {
            row["id"]
            for row in await conn.fetch(
                """SELECT id FROM notifications WHERE id = ANY($1::uuid[])
                   ORDER BY id FOR KEY SHARE""",
                [s.notification_id for s in settlements],
            )
        }
        settlements = [s for s in settlements if s.notification_id in present]
        deliveries = [(s.notification_id, d) for s in settlements for d in s.deliveries]
        dead = [s for s in settlements if s.state == "dead"]
        if deliveries:
            await conn.execute(
                """INSERT INTO push_deliveries (notification_id, device_token, outcome, detail)
                   SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])
                   ON CONFLICT DO NOTHING""",
                [n for n, _ in deliveries],
                [d.token for _, d in deliveries],
                [d.outcome for _, d in deliveries],
                [_storable(d.detail) for _, d in deliveries],
            )
        unregistered = [d.token for _, d in deliveries if d.outcome == "unregistered"]
        if unregistered:
            await conn.execute("DELETE FROM devices WHERE token = ANY($1::text[])", unregistered)
        await conn.execute(
            """UPDATE notifications n
                  SET push_state = s.state,
                      pushed_at = CASE WHEN s.state = 'sent' THEN now() ELSE n.pushed_at END,
                      push_due_at = CASE WHEN s.state = 'pending'
                                         THEN now() + make_interval(secs => s.retry_in_s) END,
                      push_lease_until = NULL
                 FROM unnest($1::uuid[], $2::text[], $3::float8[]) AS s(id, state, retry_in_s)
                WHERE n.id = s.id AND n.push_state = 'pending'""",
            [s.notification_id for s in settlements],
            [s.state for s in settlements],
            [s.retry_in_s for s in settlements],
        )
        if dead:
            await conn.execute(
                """INSERT INTO push_dead_letters (notification_id, attempts, reason)
                   SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[])
                   ON CONFLICT (notification_id) DO UPDATE
                       SET attempts = EXCLUDED.attempts, reason = EXCLUDED.reason,
                           failed_at = clock_timestamp()""",
                [s.notification_id for s in dead],
                [s.attempt for s in dead],
                [_storable(s.reason) for s in dead],
            )


async def sweep_lost_jobs(conn: asyncpg.Connection, grace_s: float, limit: int) -> list[uuid.UUID]:
    """Pending jobs nobody touched for `grace_s` past their due time: their Redis entry was never
    written or was lost. Marks them due now, so each is re-emitted once per grace period even
    with several sweepers."""
    rows = await conn.fetch(
        """UPDATE notifications n
              SET push_due_at = now()
             FROM (SELECT id FROM notifications
                    WHERE push_state = 'pending'
                      AND coalesce(push_due_at, created_at) <= now() - make_interval(secs => $1)
                      AND (push_lease_until IS NULL OR push_lease_until <= now())
                    ORDER BY coalesce(push_due_at, created_at)
                    LIMIT $2
                      FOR UPDATE SKIP LOCKED) AS lost
            WHERE n.id = lost.id
        RETURNING n.id""",
        grace_s,
        limit,
    )
    return [row["id"] for row in rows]


async def prune_deliveries(conn: asyncpg.Connection, older_than_s: float, limit: int) -> int:
    """Forget up to `limit` per-device outcomes recorded more than `older_than_s` ago; how many."""
    status: str = await conn.execute(
        """DELETE FROM push_deliveries
            WHERE (notification_id, device_token) IN (
                  SELECT notification_id, device_token FROM push_deliveries
                   WHERE created_at < now() - make_interval(secs => $1)
                   LIMIT $2)""",
        older_than_s,
        limit,
    )
    return int(status.rsplit(" ", 1)[1])
