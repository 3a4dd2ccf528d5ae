"""Pub/sub fan-out in the shape of encode/broadcaster.

One Redis pub/sub connection per process on one Redis, one per primary on a Redis Cluster
(shared/resp.py; sharded SSUBSCRIBE there, shared/cluster.py); a `channel -> local members`
registry; SUBSCRIBE when the first local member of a channel joins, UNSUBSCRIBE when the last
leaves. Each message is handed, with that channel's members, to one `deliver` callback,
synchronously, as the connection reads it: no task, coroutine or timeout per message.

Membership changes write their (UN)SUBSCRIBE in the order they happen on the channel's
connection, so Redis ends in the state the registry describes without a lock. When a connection
is lost, its link reconnects and subscribes to whatever of the registry its node owns by then.

On a cluster the owner of a channel's slot can change (a failover, a resharding). A link that
loses its connection, a MOVED answer to an SSUBSCRIBE, or the server's own `sunsubscribe` of a
channel we still hold (it stopped owning the slot) make the broker read the slot map again and
subscribe each channel where it now lives: the sockets stay open and their walk resumes as soon
as the new primary is reachable.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Generic, TypeVar

from redis.exceptions import RedisError

from services.realtime.metrics import counters
from shared import resp
from shared.cluster import SHARDED, Topology, redirection
from shared.resp import Address

log = logging.getLogger(__name__)

M = TypeVar("M")
SUBSCRIBE_CONFIRM_TIMEOUT_S = 5.0
RECONNECT_PAUSE_S = 0.5
# Between two reads of the cluster's slot map while channels wait for a new owner.
TOPOLOGY_PAUSE_S = 0.2
SUBSCRIBE_CHUNK = 1000
STARTUP_TIMEOUT_S = 10.0
# A probe unanswered this long is given up, and its channel subscribed again (the node may no
# longer own its slot); its age still counts as the link's lag meanwhile.
PROBE_RESUBSCRIBE_S = 5.0


class _Link:
    """The pub/sub connection to one node, and the task that holds it."""

    __slots__ = (
        "address",
        "awaiting_pong",
        "connection",
        "lag_s",
        "probe_channel",
        "probe_sent_at",
        "task",
    )

    def __init__(self, address: Address) -> None:
        self.address = address
        self.connection: resp.RespConnection | None = None
        self.awaiting_pong = False
        self.task: asyncio.Task[None] | None = None
        # This process's probe channel on the node; when the probe in flight was sent; how
        # late the last one came back.
        self.probe_channel: bytes | None = None
        self.probe_sent_at: float | None = None
        self.lag_s = 0.0

    @property
    def usable(self) -> bool:
        return self.connection is not None and self.connection.usable


class Broker(Generic[M]):
    def __init__(self, topology: Topology, health_check_s: float) -> None:
        self._topology = topology
        # A PING every so often; a connection that has not answered the previous one is dropped.
        self._health_check_s = health_check_s
        self._commands = topology.pubsub
        self._members: dict[bytes, set[M]] = {}
        # Which node each channel was last subscribed on (absent: waiting for one).
        self._placed: dict[bytes, Address] = {}
        self._confirmations: dict[bytes, asyncio.Future[None]] = {}
        self._links: dict[Address, _Link] = {}
        self._deliver: Callable[[bytes, set[M], bytes], None] | None = None
        self._stopping = False
        self._all_connected = asyncio.Event()
        self._topology_changed = asyncio.Event()
        self.connection_name = f"gateway-pubsub-{uuid.uuid4().hex[:12]}"
        # The slowest link's lag at the last probe round (probe()).
        self.lag_s = 0.0
        topology.on_change(self._topology_changed.set)

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

        Raises a Redis connection error (and adds nothing) while the channel's pub/sub
        connection is down.
        """
        members = self._members.get(channel)
        confirmed: asyncio.Future[None] | None
        if members is None:
            address = self._topology.node_for(channel)
            link = self._links.get(address)
            if link is None or not link.usable:
                self._topology_changed.set()
                raise RedisError("pub/sub connection is down")
            self._members[channel] = {member}
            confirmed = asyncio.get_running_loop().create_future()
            self._confirmations[channel] = confirmed
            self._subscribe(link, [channel])
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
        address = self._placed.pop(channel, None)
        link = self._links.get(address) if address is not None else None
        # Down: the next connection subscribes only to what the registry still holds.
        if link is not None and link.usable:
            assert link.connection is not None
            link.connection.send([(self._commands.unsubscribe, channel)])

    def _subscribe(self, link: _Link, channels: list[bytes]) -> None:
        """One write either way; an SSUBSCRIBE takes only channels of one slot: one each."""
        assert link.connection is not None
        chunk_size = 1 if self._commands is SHARDED else SUBSCRIBE_CHUNK
        for start in range(0, len(channels), chunk_size):
            chunk = channels[start : start + chunk_size]
            link.connection.send([(self._commands.subscribe, *chunk)])
        for channel in channels:
            self._placed[channel] = link.address

    async def connected(self) -> None:
        """Returns once every node's link has connected (a process starts serving then)."""
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            await self._all_connected.wait()

    def stop(self) -> None:
        """Make `listen` return: no reconnect after this."""
        self._stopping = True
        self._topology_changed.set()
        for link in self._links.values():
            if link.connection is not None:
                link.connection.close()

    async def listen(self, deliver: Callable[[bytes, set[M], bytes], None]) -> None:
        """Hold the process's pub/sub connections until `stop()`; run it as a single task."""
        self._deliver = deliver
        self._follow_primaries()
        try:
            while True:
                await self._topology_changed.wait()
                self._topology_changed.clear()
                if self._stopping:
                    break
                try:
                    await self._topology.refresh()
                except RedisError as exc:
                    log.warning("cluster slot map not read (%s); retrying", exc)
                    self._topology_changed.set()
                self._follow_primaries()
                self._place_channels()
                await asyncio.sleep(TOPOLOGY_PAUSE_S)
        finally:
            links = list(self._links.values())
            self._links.clear()
            for link in links:
                await self._stop_link(link)

    def _follow_primaries(self) -> None:
        """A link for every primary; none for a node that no longer is one."""
        primaries = self._topology.primaries()
        for address in primaries:
            if address not in self._links:
                link = _Link(address)
                self._links[address] = link
                link.task = asyncio.create_task(self._hold(link), name=f"pubsub-{address}")
        for address in [a for a in self._links if a not in primaries]:
            link = self._links.pop(address)
            for channel in [c for c, a in self._placed.items() if a == address]:
                del self._placed[channel]
            if link.connection is not None:
                link.connection.close()

    def _place_channels(self) -> None:
        """Subscribe every channel on the node that now owns it (leaving the old one's)."""
        moves: dict[Address, list[bytes]] = {}
        for channel in self._members:
            owner = self._topology.node_for(channel)
            where = self._placed.get(channel)
            if where == owner:
                continue
            old = self._links.get(where) if where is not None else None
            if old is not None and old.usable:
                assert old.connection is not None
                old.connection.send([(self._commands.unsubscribe, channel)])
            self._placed.pop(channel, None)
            moves.setdefault(owner, []).append(channel)
        for address, channels in moves.items():
            link = self._links.get(address)
            if link is not None and link.usable:
                log.info("resubscribing %d walk channels on %s:%d", len(channels), *address)
                self._subscribe(link, channels)
            # Else that link subscribes them when it connects.

    async def probe(
        self,
        publish: Callable[[bytes, bytes], None],
        on_lag: Callable[[float], None],
        interval_s: float,
    ) -> None:
        """Every `interval_s`, tell `on_lag` how far behind the slowest pub/sub link is.

        Each link is subscribed to a channel of this process's own on its node; `publish`
        sends the time on it through the same batch writer, Redis queue and pub/sub connection
        that locations take, so the delay it comes back with is what a location waits there.
        A probe still out counts with its age: a jammed link reads as late, not as silent.
        """
        while True:
            await asyncio.sleep(interval_s)
            now = time.monotonic()
            lag_s = 0.0
            for link in list(self._links.values()):
                if not link.usable or link.probe_channel is None:
                    continue
                sent_at = link.probe_sent_at
                if sent_at is None:
                    lag_s = max(lag_s, link.lag_s)
                    publish(link.probe_channel, repr(now).encode())
                    link.probe_sent_at = now
                    continue
                lag_s = max(lag_s, now - sent_at)
                if now - sent_at > PROBE_RESUBSCRIBE_S:
                    self._subscribe_probe(link)
            self.lag_s = lag_s
            on_lag(lag_s)

    def _subscribe_probe(self, link: _Link) -> None:
        """A channel whose slot the link's node owns (any name, on one Redis)."""
        assert link.connection is not None
        for i in itertools.count():
            channel = f"gateway-probe:{self.connection_name}:{{{i}}}".encode()
            if self._topology.node_for(channel) == link.address:
                break
        link.probe_channel = channel
        link.probe_sent_at = None
        link.connection.send([(self._commands.subscribe, channel)])

    def _probe_answered(self, link: _Link, data: bytes) -> None:
        try:
            link.lag_s = time.monotonic() - float(data)
        except ValueError:
            return
        link.probe_sent_at = None

    async def _stop_link(self, link: _Link) -> None:
        if link.connection is not None:
            link.connection.close()
        if link.task is not None:
            link.task.cancel()
            with suppress(asyncio.CancelledError):
                await link.task

    async def _hold(self, link: _Link) -> None:
        """Keep `link` connected while its node is a primary; subscribe what it owns."""
        endpoint = self._topology.endpoint_for(link.address)

        def on_push(push: list[Any]) -> None:
            self._on_push(link, push)

        while not self._stopping and self._links.get(link.address) is link:
            try:
                connection = await resp.connect(endpoint, self.connection_name, on_push)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("pub/sub connection failed (%s); retrying", type(exc).__name__)
                self._topology_changed.set()
                await asyncio.sleep(RECONNECT_PAUSE_S)
                continue
            if self._links.get(link.address) is not link:
                connection.close()
                break
            link.connection = connection
            mine = [c for c in self._members if self._topology.node_for(c) == link.address]
            self._subscribe(link, mine)
            self._subscribe_probe(link)
            if all(other.usable for other in self._links.values()):
                self._all_connected.set()
            try:
                await self._check_health(link, connection)
            finally:
                link.connection = None
                connection.close()
                if self._links.get(link.address, link) is link:
                    for channel in [c for c, a in self._placed.items() if a == link.address]:
                        del self._placed[channel]
            if not self._stopping:
                counters.pubsub_reconnects += 1
                log.warning("pub/sub connection lost; reconnecting")
                self._topology_changed.set()
                await asyncio.sleep(RECONNECT_PAUSE_S)

    async def _check_health(self, link: _Link, connection: resp.RespConnection) -> None:
        """Returns when the connection is lost; drops one that stopped answering PINGs."""
        link.awaiting_pong = False
        while not connection.lost.done():
            await asyncio.wait([connection.lost], timeout=self._health_check_s)
            if connection.lost.done() or not connection.usable:
                break
            if link.awaiting_pong:
                log.warning("pub/sub connection did not answer a PING; dropping it")
                connection.abort()
                break
            link.awaiting_pong = True
            connection.send([("PING",)])
        await connection.lost

    def _on_push(self, link: _Link, push: list[Any]) -> None:
        kind = push[0]
        commands = self._commands
        if kind == commands.message:
            channel = push[1]
            members = self._members.get(channel)
            if members and self._deliver is not None:
                self._deliver(channel, members, push[2])
            elif channel == link.probe_channel:
                self._probe_answered(link, push[2])
        elif kind == commands.subscribed:
            confirmed = self._confirmations.pop(push[1], None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
        elif kind == commands.unsubscribed:
            channel = push[1]
            if channel in self._members and self._placed.get(channel) == link.address:
                # Not ours: the node gave the channel's slot up (failover, resharding).
                del self._placed[channel]
                self._topology_changed.set()
        elif kind == b"pong":
            link.awaiting_pong = False
        elif kind == resp.ERROR_PUSH:
            if redirection(push[1]) is None:
                log.warning("pub/sub error from %s:%d: %s", *link.address, push[1])
            self._topology_changed.set()  # on a MOVED too: the listener reads the map again
