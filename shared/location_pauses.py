"""Who has paused location sharing, known to every gateway without a query per socket or frame
(위치정보법 §24, CONTRACT section 3 Location consent and section 4's 4005).

The API records a pause in PostgreSQL (`location_pauses`: until when, or NULL until resumed;
a resume sets the end to now) and then `announce_pause`s it on the Redis channel
`location:paused`. Each gateway keeps the pauses in memory (`LocationPauses`, the structure of
shared/announced.py, as for ended sessions): it closes a pausing user's sockets with 4005 as it
learns of the pause, refuses their new sockets, and relays none of their locations. A pause
with an end lapses by the clock: nobody has to resume it.

Every change carries the time the database made it, so an older one (a database read that
started before a newer announcement arrived) never undoes a newer one.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import NamedTuple

import asyncpg
from aiohttp import web

from shared.announced import Announced, publish, running
from shared.jsonutil import dumps_bytes, loads
from shared.keys import db_pool_key, redis_key, settings_key
from shared.redis_client import RedisClient

log = logging.getLogger(__name__)

LOCATION_PAUSED_CHANNEL = "location:paused"
# Each read of the database also takes the rows changed this long before the previous read,
# so a resume committed late is still seen.
READ_OVERLAP_S = 60.0

Listener = Callable[[list[str]], None]


class Pause(NamedTuple):
    until: float | None  # epoch seconds; None: until resumed
    changed_at: float  # epoch seconds, the database's clock

    def active(self, now: float) -> bool:
        return self.until is None or self.until > now


def _epoch(at: dt.datetime | None) -> float | None:
    return None if at is None else at.timestamp()


async def announce_pause(
    redis: RedisClient, user_id: uuid.UUID, until: dt.datetime | None, changed_at: dt.datetime
) -> None:
    """After the commit of a pause or a resume (`until` in the past): tell every gateway. If
    Redis fails they read it from the database within `session_sync_interval_s` (x10)."""
    message = {
        "user_id": str(user_id),
        "until": _epoch(until),
        "changed_at": changed_at.timestamp(),
    }
    await publish(redis, LOCATION_PAUSED_CHANNEL, dumps_bytes(message))


class LocationPauses(Announced):
    channel = LOCATION_PAUSED_CHANNEL

    def __init__(self, pool: asyncpg.Pool, redis: RedisClient, *, sync_interval_s: float) -> None:
        super().__init__(redis, sync_interval_s=sync_interval_s)
        self._pool = pool
        self._pauses: dict[str, Pause] = {}  # user id (text) -> the newest change known
        self._listeners: list[Listener] = []
        self._read_since: float | None = None

    def __contains__(self, user_id: object) -> bool:
        """Whether the user (id as text) has location sharing paused right now."""
        pause = self._pauses.get(user_id) if isinstance(user_id, str) else None
        return pause is not None and pause.active(time.time())

    def on_paused(self, listener: Listener) -> None:
        """Call `listener` with the users who pause from now on, as their pauses are learnt."""
        self._listeners.append(listener)

    def apply(self, user_id: str, pause: Pause) -> None:
        known = self._pauses.get(user_id)
        if known is not None and known.changed_at > pause.changed_at:
            return  # older news
        now = time.time()
        was_paused = known is not None and known.active(now)
        self._pauses[user_id] = pause
        if pause.active(now) and not was_paused:
            for listener in self._listeners:
                listener([user_id])

    async def read_database(self) -> None:
        """The pauses in force, and every change since the previous read (the resumes)."""
        async with self._pool.acquire() as conn:
            now: float = await conn.fetchval("SELECT extract(epoch FROM now())::float8")
            rows = await conn.fetch(
                """SELECT user_id::text AS user_id,
                          extract(epoch FROM paused_until)::float8 AS until,
                          extract(epoch FROM changed_at)::float8 AS changed_at
                     FROM location_pauses
                    WHERE paused_until IS NULL OR paused_until > now()
                       OR changed_at > to_timestamp($1)""",
                now if self._read_since is None else self._read_since,
            )
        self._read_since = now - READ_OVERLAP_S
        for row in rows:
            self.apply(row["user_id"], Pause(row["until"], row["changed_at"]))
        self._forget_lapsed()

    def _forget_lapsed(self) -> None:
        """Forget pauses that are over and no longer news (older than a read's overlap)."""
        now = time.time()
        for user_id, pause in list(self._pauses.items()):
            if not pause.active(now) and pause.changed_at < now - 2 * READ_OVERLAP_S:
                del self._pauses[user_id]

    def on_message(self, data: bytes) -> None:
        try:
            message = loads(data)
            until = message["until"]
            pause = Pause(None if until is None else float(until), float(message["changed_at"]))
            self.apply(str(uuid.UUID(message["user_id"])), pause)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("malformed message on %s: %s", LOCATION_PAUSED_CHANNEL, exc)


location_pauses_key = web.AppKey("location_pauses", LocationPauses)


@asynccontextmanager
async def location_pauses_ctx(app: web.Application) -> AsyncIterator[None]:
    """After the database pool and the Redis client: the pauses, loaded and listening."""
    pauses = LocationPauses(
        app[db_pool_key],
        app[redis_key],
        sync_interval_s=app[settings_key].session_sync_interval_s,
    )
    app[location_pauses_key] = pauses
    async with running(pauses, "location-pauses"):
        yield
