"""State every process keeps in memory, told of changes over Redis pub/sub and never missing
one while Redis is away: the structure behind the ended sessions (shared/ended_sessions.py) and
the location pauses (shared/location_pauses.py).

The writer (the API) records a change in PostgreSQL, then announces it: applied in its own
process at once and published on the state's channel, which every process listens to. After
(re)subscribing, and every `sync_interval_s` while the subscription is down, a process reads
the state from the database, so a change is never missed; while it is up, the database is still
read now and then, for a publication that failed.

A subclass says what its channel is, how to read the database and how to apply a message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import asyncpg
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from shared.redis_client import RedisClient

log = logging.getLogger(__name__)

# While the subscription is live the database is read only every this many sync intervals.
LIVE_READ_EVERY = 10
RECONNECT_PAUSE_S = 0.5
HEALTH_CHECK_S = 10.0
STARTUP_WAIT_S = 5.0


async def publish(redis: RedisClient, channel: str, data: bytes) -> None:
    """Tell the other processes; if Redis fails, they read it from the database."""
    try:
        await redis.publish(channel, data)
    except (RedisError, OSError) as exc:
        log.warning(
            "%s not published (%s); others read it from the database", channel, type(exc).__name__
        )


class Announced(ABC):
    # The Redis channel of the announcements.
    channel: str

    def __init__(self, redis: RedisClient, *, sync_interval_s: float) -> None:
        self._redis = redis
        self._sync_interval_s = sync_interval_s
        self._read_at = 0.0
        self._live = False
        self._first_attempt = asyncio.Event()

    @abstractmethod
    async def read_database(self) -> None:
        """Learn from PostgreSQL what changed (at first: everything that matters now)."""

    @abstractmethod
    def on_message(self, data: bytes) -> None:
        """Apply one announcement from another process (or this one)."""

    async def publish(self, data: bytes) -> None:
        await publish(self._redis, self.channel, data)

    async def catch_up(self) -> None:
        """`read_database`, logging rather than raising when the database is unavailable."""
        try:
            await self.read_database()
            self._read_at = time.monotonic()
        except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
            log.warning("%s not read from the database: %s", self.channel, type(exc).__name__)

    async def listen(self) -> None:
        """Hold the subscription to the channel, resubscribing after every loss."""
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    await self._receive(pubsub)
            except (RedisError, OSError) as exc:
                if self._live or not self._first_attempt.is_set():
                    log.warning(
                        "not subscribed to %s (%s); reading the database every %s s",
                        self.channel,
                        type(exc).__name__,
                        self._sync_interval_s,
                    )
                self._live = False
                self._first_attempt.set()
                await asyncio.sleep(RECONNECT_PAUSE_S)

    async def _receive(self, pubsub: PubSub) -> None:
        """Until the connection fails; one that stays silent through a PING counts as failed
        (a peer gone without a word, which would otherwise look like a quiet channel)."""
        awaiting_pong = False
        while True:
            message = await pubsub.get_message(timeout=HEALTH_CHECK_S)
            if message is None:
                if awaiting_pong:
                    raise RedisConnectionError("no answer to a PING on the subscription")
                await pubsub.ping()
                awaiting_pong = True
                continue
            awaiting_pong = False
            if message["type"] == "subscribe":
                # Subscribed: whatever changed before now is in the database.
                await self.catch_up()
                self._live = True
                self._first_attempt.set()
            elif message["type"] == "message":
                self.on_message(message["data"])

    async def poll(self) -> None:
        """Read the database every sync interval while the subscription is down, and every
        `LIVE_READ_EVERY` of them while it is up."""
        while True:
            await asyncio.sleep(self._sync_interval_s)
            live_read_due = self._read_at + self._sync_interval_s * LIVE_READ_EVERY
            if not self._live or time.monotonic() >= live_read_due:
                await self.catch_up()

    async def started(self) -> None:
        """Returns once the first subscription attempt succeeded or failed (bounded)."""
        with suppress(TimeoutError):
            async with asyncio.timeout(STARTUP_WAIT_S):
                await self._first_attempt.wait()


@asynccontextmanager
async def running(state: Announced, name: str) -> AsyncIterator[None]:
    """The state loaded, its listener and poller running; both stopped on exit."""
    await state.catch_up()
    tasks = [
        asyncio.create_task(state.listen(), name=f"{name}-listener"),
        asyncio.create_task(state.poll(), name=f"{name}-poller"),
    ]
    await state.started()
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
