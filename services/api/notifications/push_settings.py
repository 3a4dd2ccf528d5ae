"""Notification settings: which types are pushed, and quiet hours during which pushes wait.

The in-app row is written whatever the settings say; they only decide its push, and the push
worker applies them at the moment it would send (`PushSettings.decide`), so they hold however
late a push goes out. A push held by quiet hours stays `pending` in its row, with `push_due_at`
at the end of the quiet hours and `push_held` set: the worker's own retry set and sweeper bring
it back then, and changing the settings (`release_held`) makes it due at once.

Quiet hours are wall-clock times in Asia/Seoul; a start after the end spans midnight.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from services.api.notifications.notify import NOTIFICATION_TYPES
from services.api.web.seoul_time import SEOUL

# Time-critical, and asked for by the recipient's own walk plans: never held by quiet hours.
NEVER_HELD = frozenset({"invitation_received", "invitation_accepted"})

Decision = Literal["send", "mute"] | dt.datetime  # a datetime: hold until then


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: dt.time
    end: dt.time

    def holds(self, at: dt.datetime) -> bool:
        """Whether the aware moment `at` falls within these hours, in Seoul: [start, end)."""
        now = at.astimezone(SEOUL).time()
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def end_after(self, at: dt.datetime) -> dt.datetime:
        """The first end of these hours after `at` (UTC)."""
        local = at.astimezone(SEOUL)
        end = dt.datetime.combine(local.date(), self.end, tzinfo=SEOUL)
        if end <= local:
            end += dt.timedelta(days=1)
        return end.astimezone(dt.UTC)

    def as_json(self) -> dict[str, str]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}


@dataclass(frozen=True, slots=True)
class PushSettings:
    """One user's settings; the defaults are a new account's: every type on, no quiet hours."""

    off: frozenset[str] = frozenset()
    quiet_hours: QuietHours | None = None

    @classmethod
    def from_columns(
        cls, push_off: Iterable[str] | None, quiet_start: dt.time | None, quiet_end: dt.time | None
    ) -> PushSettings:
        """From `notification_settings` columns (all None: no row, the defaults)."""
        quiet = (
            None if quiet_start is None or quiet_end is None else QuietHours(quiet_start, quiet_end)
        )
        return cls(frozenset(push_off or ()), quiet)

    def decide(self, type: str, at: dt.datetime) -> Decision:
        """What to do with a push of `type` at the moment `at`."""
        if type in self.off:
            return "mute"
        if self.quiet_hours is not None and type not in NEVER_HELD and self.quiet_hours.holds(at):
            return self.quiet_hours.end_after(at)
        return "send"

    def as_json(self) -> dict[str, Any]:
        """`GET /me/notification-settings`."""
        return {
            "push": {t: t not in self.off for t in NOTIFICATION_TYPES},
            "quiet_hours": None if self.quiet_hours is None else self.quiet_hours.as_json(),
        }


async def lock_settings(conn: asyncpg.Connection, user_id: uuid.UUID) -> PushSettings:
    """The user's settings, their row created if missing and locked until commit: concurrent
    changes apply one after the other, and a worker deciding a push of this user waits for them
    (it reads the row `FOR SHARE`), so no push is held under settings already replaced."""
    await conn.execute(
        "INSERT INTO notification_settings (user_id) VALUES ($1) ON CONFLICT DO NOTHING", user_id
    )
    row = await conn.fetchrow(
        """SELECT push_off, quiet_start, quiet_end FROM notification_settings
           WHERE user_id = $1 FOR UPDATE""",
        user_id,
    )
    return PushSettings.from_columns(row["push_off"], row["quiet_start"], row["quiet_end"])


async def read_settings(conn: asyncpg.Connection, user_id: uuid.UUID) -> PushSettings:
    row = await conn.fetchrow(
        "SELECT push_off, quiet_start, quiet_end FROM notification_settings WHERE user_id = $1",
        user_id,
    )
    if row is None:
        return PushSettings()
    return PushSettings.from_columns(row["push_off"], row["quiet_start"], row["quiet_end"])


async def write_settings(
    conn: asyncpg.Connection, user_id: uuid.UUID, settings: PushSettings
) -> None:
    """Store `settings` over the row `lock_settings` created."""
    quiet = settings.quiet_hours
    await conn.execute(
        """UPDATE notification_settings
           SET push_off = $2, quiet_start = $3, quiet_end = $4, updated_at = clock_timestamp()
           WHERE user_id = $1""",
        user_id,
        sorted(settings.off),
        quiet.start if quiet else None,
        quiet.end if quiet else None,
    )


async def release_held(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Make every push held for the user due now, to be decided again under the settings just
    written (sent, held anew, or muted); the ids, to emit as jobs after the commit."""
    rows = await conn.fetch(
        """UPDATE notifications SET push_held = false, push_due_at = now()
           WHERE user_id = $1 AND push_held AND push_state = 'pending'
           RETURNING id""",
        user_id,
    )
    return [row["id"] for row in rows]
