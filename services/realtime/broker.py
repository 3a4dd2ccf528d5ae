"""Pub/sub fan-out in the shape of encode/broadcaster.

One Redis pub/sub connection and one listener task per process; a `channel -> local members`
registry; SUBSCRIBE when the first local member of a channel joins, UNSUBSCRIBE when the last
leaves. Each message is handed, with that channel's members, to one `deliver` callback.

Membership changes write their (UN)SUBSCRIBE synchronously, in the order they happen, on the
one connection, so Redis ends in the state the registry describes without a lock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

M = TypeVar("M")
SUBSCRIBE_CONFIRM_TIMEOUT_S = 5.0
RECONNECT_PAUSE_S = 0.5


class Broker(Generic[M]):
    def __init__(self, pubsub: aioredis.client.PubSub) -> None:
        self._pubsub = pubsub
        self._members: dict[bytes, set[M]] = {}
        self._confirmations: dict[bytes, asyncio.Future[None]] = {}
        self._stopping = False

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
        """Add a local member; returns once Redis confirmed the channel's subscription."""
        members = self._members.get(channel)
        confirmed: asyncio.Future[None] | None
        if members is None:
            self._members[channel] = {member}
            confirmed = asyncio.get_running_loop().create_future()
            self._confirmations[channel] = confirmed
            try:
                await self._pubsub.subscribe(channel)
            except BaseException:
                self._members.pop(channel, None)
                self._confirmations.pop(channel, None)
                raise
        else:
            members.add(member)
            confirmed = self._confirmations.get(channel)
        if confirmed is not None and not confirmed.done():
            try:
                async with asyncio.timeout(SUBSCRIBE_CONFIRM_TIMEOUT_S):
                    await asyncio.shield(confirmed)
            except TimeoutError:
                log.warning("no SUBSCRIBE confirmation for %s yet; going on", channel)

    async def leave(self, channel: bytes, member: M) -> None:
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
        try:
            await self._pubsub.unsubscribe(channel)
        except (RedisError, OSError) as exc:
            # The next reconnect re-subscribes only to what the registry still holds.
            log.warning("UNSUBSCRIBE %s failed: %s", channel, type(exc).__name__)

    def stop(self) -> None:
        """Make `listen` return even if a cancellation is lost inside the Redis client."""
        self._stopping = True

    async def listen(self, deliver: Callable[[bytes, set[M], bytes], Awaitable[None]]) -> None:
        """The process's one reader of the pub/sub connection; run it as a single task."""
        while not self._stopping:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except (RedisError, OSError) as exc:
                log.warning("pub/sub connection lost (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(RECONNECT_PAUSE_S)
                continue
            if message is None:
                continue
            kind = message["type"]
            channel = message["channel"]
            if kind == "message":
                members = self._members.get(channel)
                if members:
                    try:
                        await deliver(channel, members, message["data"])
                    except Exception:
                        log.exception("delivering a message on %s failed", channel)
            elif kind == "subscribe":
                confirmed = self._confirmations.pop(channel, None)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)


@asynccontextmanager
async def open_pubsub(redis: aioredis.Redis) -> AsyncIterator[aioredis.client.PubSub]:
    """The process's one pub/sub connection, for a `Broker`."""
    pubsub = redis.pubsub()
    # An anchor subscription for the process's lifetime keeps the connection in subscribed mode,
    # where redis-py never reads a health-check reply itself: only the listener ever reads it.
    await pubsub.subscribe(f"gateway:{uuid.uuid4()}")
    try:
        yield pubsub
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
