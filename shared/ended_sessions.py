"""Which sessions have ended, known to every process without a query per request.

Once a session ends (sign-out, a replayed refresh token, a password change, an account
deletion), its access tokens are refused within 1 s and the gateway closes the sockets opened
with them with 4001 within 2 s (CONTRACT sections 3 and 4). Checking the database on every
request would put a query on the hot paths (the feed poll, the handshake), so each process keeps
the ended sessions of the last access-token lifetime in memory, a set lookup per request:

- the API writes the end in PostgreSQL (`ended_sessions`, filled by a trigger whenever a session
  row goes), then `announce`s it: refused here at once, and published on the Redis channel
  `sessions:ended`, which every process listens to;
- after (re)subscribing, and while the subscription is down every `session_sync_interval_s`,
  a process reads what ended from the database, so an end is never missed while Redis is away;
  while it is up, the database is still read now and then, for a publication that failed.

Entries are forgotten once every access token of their session has expired. Listeners (the
gateway, which closes sockets) hear each ended session once. The subscription and the database
reads are shared/announced.py's, as for the location pauses.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

import asyncpg
from aiohttp import web

from shared.announced import Announced, running
from shared.jsonutil import dumps_bytes, loads
from shared.keys import db_pool_key, redis_key, settings_key
from shared.redis_client import RedisClient
from shared.settings import Settings

log = logging.getLogger(__name__)

SESSIONS_ENDED_CHANNEL = "sessions:ended"
# Each read of the database starts this long before the previous one's "now": a transaction
# that ended sessions may commit well after it wrote their `ended_at`.
READ_OVERLAP = dt.timedelta(seconds=60)
# Beyond the access-token lifetime, for the clocks of the services disagreeing a little.
CLOCK_SKEW_S = 60.0

Listener = Callable[[list[uuid.UUID]], None]


def retention_s(settings: Settings) -> float:
    """How long an ended session must be remembered: while one of its access tokens may live."""
    return settings.access_token_ttl_s + CLOCK_SKEW_S


class EndedSessions(Announced):
    channel = SESSIONS_ENDED_CHANNEL

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: RedisClient,
        *,
        retention_s: float,
        sync_interval_s: float,
    ) -> None:
        super().__init__(redis, sync_interval_s=sync_interval_s)
        self._pool = pool
        self._retention_s = retention_s
        self._forget_at: dict[uuid.UUID, float] = {}  # session -> when its tokens have expired
        self._listeners: list[Listener] = []
        self._read_since: dt.datetime | None = None

    def __contains__(self, session_id: uuid.UUID) -> bool:
        return session_id in self._forget_at

    def on_ended(self, listener: Listener) -> None:
        """Call `listener` with the sessions that end from now on, each once, as they are learnt."""
        self._listeners.append(listener)

    def add(self, session_ids: Iterable[uuid.UUID]) -> None:
        forget_at = time.monotonic() + self._retention_s
        new = [session_id for session_id in session_ids if session_id not in self._forget_at]
        if not new:
            return
        for session_id in new:
            self._forget_at[session_id] = forget_at
        for listener in self._listeners:
            listener(new)

    async def announce(self, session_ids: list[uuid.UUID]) -> None:
        """After the transaction that ended these sessions has committed: refuse them in this
        process at once, and tell the others (if Redis fails, they read it from the database)."""
        if not session_ids:
            return
        self.add(session_ids)
        await self.publish(dumps_bytes([str(s) for s in session_ids]))

    async def read_database(self) -> None:
        """Learn what ended since the previous read (at first: within the retention)."""
        row = await self._pool.fetchrow(
            """SELECT now() AS now,
                      array(SELECT session_id FROM ended_sessions
                            WHERE ended_at > coalesce($1, now() - make_interval(secs => $2)))
                      AS ids""",
            self._read_since,
            self._retention_s,
        )
        assert row is not None
        self._read_since = row["now"] - READ_OVERLAP
        self.add(row["ids"])
        self._forget_expired()

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for session_id, forget_at in list(self._forget_at.items()):
            if forget_at <= now:
                del self._forget_at[session_id]

    def on_message(self, data: bytes) -> None:
        try:
            self.add(uuid.UUID(value) for value in loads(data))
        except (ValueError, TypeError) as exc:
            log.warning("malformed message on %s: %s", SESSIONS_ENDED_CHANNEL, exc)


ended_sessions_key = web.AppKey("ended_sessions", EndedSessions)


@asynccontextmanager
async def ended_sessions_ctx(app: web.Application) -> AsyncIterator[None]:
    """After the database pool and the Redis client: the cache, loaded and listening."""
    settings = app[settings_key]
    ended = EndedSessions(
        app[db_pool_key],
        app[redis_key],
        retention_s=retention_s(settings),
        sync_interval_s=settings.session_sync_interval_s,
    )
    app[ended_sessions_key] = ended
    async with running(ended, "ended-sessions"):
        yield
