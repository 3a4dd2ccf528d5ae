"""Pub/sub fan-out in the shape of encode/broadcaster.

One Redis pub/sub connection per process (shared/resp.py); a `channel -> local
members` registry; SUBSCRIBE when the first local member of a channel joins, UNSUBSCRIBE when
the last leaves. Each message is handed, with that channel's members, to one `deliver`
callback, synchronously, as the connection reads it: no task, coroutine or timeout per message.

Membership changes write their (UN)SUBSCRIBE in the order they happen on the one connection, so
Redis ends in the state the registry describes without a lock. When the connection is lost,
`listen` reconnects and subscribes to whatever the registry holds by then.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.realtime.metrics import counters
from shared import resp

log = logging.getLogger(__name__)

M = TypeVar("M")
SUBSCRIBE_CONFIRM_TIMEOUT_S = 5.0
RECONNECT_PAUSE_S = 0.5
SUBSCRIBE_CHUNK = 1000
STARTUP_TIMEOUT_S = 10.0


class Broker(Generic[M]):
    def __init__(self, redis: aioredis.Redis, health_check_s: float) -> None:
        self._redis = redis
        # A PING every so often; a connection that has not answered the previous one is dropped.
        self._health_check_s = health_check_s
        self._members: dict[bytes, set[M]] = {}
        self._confirmations: dict[bytes, asyncio.Future[None]] = {}
        self._connection: resp.RespConnection | None = None
        self._deliver: Callable[[bytes, set[M], bytes], None] | None = None
        self._awaiting_pong = False
        self._stopping = False
        self._first_connection = asyncio.Event()
        self.connection_name = f"gateway-pubsub-{uuid.uuid4().hex[:12]}"

    def members(self, channel: bytes) -> set[M]:
        return self._members.get(channel, set())

    def channels(self) -> list[bytes]:
        return list(self._members)

    def member_count(self) -> int:
        return sum(len(members) for members in self._members.values())

    def all_members(self) -> list[M]:
        return [member for members in self._members.values() for member in members]

    def members_in_slice(self, index: int, slices: int) -> list[M]:
        """The members of one of `slices` disjoint sets of channels (a channel stays in its
        slice: bytes cache their hash), so periodic work can visit a slice at a time."""
        return [
            member
            for channel, members in self._members.items()
            if hash(channel) % slices == index
            for member in members
        ]

    async def join(self, channel: bytes, member: M) -> None:
        """Add a local member; returns once Redis confirmed the channel's subscription.

        Raises a Redis connection error (and adds nothing) while the pub/sub connection is down.
        """
        members = self._members.get(channel)
        confirmed: asyncio.Future[None] | None
        if members is None:
            connection = self._connection
            if connection is None or not connection.usable:
                raise RedisError("pub/sub connection is down")
            self._members[channel] = {member}
            confirmed = asyncio.get_running_loop().create_future()
            self._confirmations[channel] = confirmed
            connection.send([("SUBSCRIBE", channel)])
        else:
            members.add(member)
            confirmed = self._confirmations.get(channel)
        if confirmed is not None and not confirmed.done():
            try:
                async with asyncio.timeout(SUBSCRIBE_CONFIRM_TIMEOUT_S):
                    await asyncio.shield(confirmed)
            except TimeoutError:
                log.warning("no SUBSCRIBE confirmation for %s yet; going on", channel)

    def leave(self, channel: bytes, member: M) -> None:
        members = self._members.get(channel)
        if members is None or member not in members:
            return
        members.discard(member)
        if members:
            return
        del self._members[channel]
        confirmed = self._confirmations.pop(channel, None)
        if confirmed is not None and not confirmed.done():
            confirmed.cancel()
        connection = self._connection
        # Down: the next connection subscribes only to what the registry still holds.
        if connection is not None and connection.usable:
            connection.send([("UNSUBSCRIBE", channel)])

    async def connected(self) -> None:
        """Returns once `listen` has connected the first time (a process starts serving then)."""
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            await self._first_connection.wait()

    def stop(self) -> None:
        """Make `listen` return: no reconnect after this."""
        self._stopping = True
        if self._connection is not None:
            self._connection.close()

    async def listen(self, deliver: Callable[[bytes, set[M], bytes], None]) -> None:
        """Hold the process's pub/sub connection until `stop()`; run it as a single task."""
        self._deliver = deliver
        while not self._stopping:
            try:
                connection = await resp.connect(self._redis, self.connection_name, self._on_push)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("pub/sub connection failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(RECONNECT_PAUSE_S)
                continue
            channels = list(self._members)
            for start in range(0, len(channels), SUBSCRIBE_CHUNK):
                connection.send([("SUBSCRIBE", *channels[start : start + SUBSCRIBE_CHUNK])])
            self._connection = connection
            self._first_connection.set()
            try:
                await self._check_health(connection)
            finally:
                self._connection = None
                connection.close()
            if not self._stopping:
                counters.pubsub_reconnects += 1
                log.warning("pub/sub connection lost; reconnecting")
                await asyncio.sleep(RECONNECT_PAUSE_S)

    async def _check_health(self, connection: resp.RespConnection) -> None:
        """Returns when the connection is lost; drops one that stopped answering PINGs."""
        self._awaiting_pong = False
        while not connection.lost.done():
            await asyncio.wait([connection.lost], timeout=self._health_check_s)
            if connection.lost.done() or not connection.usable:
                break
            if self._awaiting_pong:
                log.warning("pub/sub connection did not answer a PING; dropping it")
                connection.abort()
                break
            self._awaiting_pong = True
            connection.send([("PING",)])
        await connection.lost

    def _on_push(self, push: list[Any]) -> None:
        kind = push[0]
        if kind == b"message":
            channel = push[1]
            members = self._members.get(channel)
            if members and self._deliver is not None:
                self._deliver(channel, members, push[2])
        elif kind == b"subscribe":
            confirmed = self._confirmations.pop(push[1], None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
        elif kind == b"pong":
            self._awaiting_pong = False
