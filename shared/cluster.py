"""Which server holds a key, for the bare RESP connections of the hot paths (shared/resp.py).

On one Redis every key and channel is on the server REDIS_URL names (`SingleServer`). On a Redis
Cluster (the process finds out at start, shared/redis_client.py) each hash slot belongs to one
primary: `SlotMap` reads who owns which with CLUSTER SLOTS, takes a MOVED answer's word for one
slot at once, and reads the whole map again when a node drops a connection or stops owning
what it was asked for, as after a failover. redis-py's cluster client does the same for the cold
paths; the gateway's pub/sub and batch writer and the feed poll's head read keep hiredis and
pipelining, with one connection per primary (`ClusterConnection`, services/realtime/broker.py).

Walk channels use sharded pub/sub on a cluster (SSUBSCRIBE / SPUBLISH): a message stays on the
shard that owns its channel's slot instead of being broadcast to every node.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from shared import resp
from shared.redis_client import RedisClient, is_cluster
from shared.resp import Address, Command, Endpoint, SharedConnection

log = logging.getLogger(__name__)

# A node that does not answer CLUSTER SLOTS within this is skipped for the next one.
SLOTS_TIMEOUT_S = 1.0
# However often it is asked for, the map is read at most this often.
MIN_REFRESH_INTERVAL_S = 0.1
# Commands redirected (MOVED / ASK) at most this many times before their error is kept.
MAX_REDIRECTS = 3


@dataclass(frozen=True, slots=True)
class PubSubCommands:
    """The pub/sub verbs, and what the server calls its pushes, on one server or a cluster."""

    subscribe: str
    unsubscribe: str
    publish: str
    message: bytes
    subscribed: bytes
    unsubscribed: bytes


CLASSIC = PubSubCommands(
    "SUBSCRIBE", "UNSUBSCRIBE", "PUBLISH", b"message", b"subscribe", b"unsubscribe"
)
SHARDED = PubSubCommands(
    "SSUBSCRIBE", "SUNSUBSCRIBE", "SPUBLISH", b"smessage", b"ssubscribe", b"sunsubscribe"
)


class Topology(Protocol):
    pubsub: PubSubCommands

    def node_for(self, key: bytes | str) -> Address: ...

    def primaries(self) -> list[Address]: ...

    def endpoint_for(self, address: Address) -> Endpoint: ...

    def moved(self, slot: int, address: Address) -> None: ...

    async def refresh(self) -> None: ...

    def on_change(self, listener: Callable[[], None]) -> None: ...


class SingleServer:
    """One Redis: everything is where REDIS_URL says, and stays there."""

    pubsub = CLASSIC

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._address = endpoint.address

    def node_for(self, key: bytes | str) -> Address:
        return self._address

    def primaries(self) -> list[Address]:
        return [self._address]

    def endpoint_for(self, address: Address) -> Endpoint:
        return self.endpoint

    def moved(self, slot: int, address: Address) -> None:
        log.warning("a single Redis answered MOVED; is REDIS_URL a cluster node?")

    async def refresh(self) -> None:
        return

    def on_change(self, listener: Callable[[], None]) -> None:
        return


def slot_of(key: bytes | str) -> int:
    return key_slot(key if isinstance(key, bytes) else key.encode())


def _address(host: Any, port: Any, asked: Address) -> Address:
    name = host.decode() if isinstance(host, bytes) else str(host)
    return (name or asked[0], int(port))


class SlotMap:
    """Which primary owns each of the 16384 slots, as the cluster last said."""

    pubsub = SHARDED

    def __init__(self, seed: Endpoint, name: str) -> None:
        self._seed = seed
        self._name = name
        self._owners: list[Address] = []
        self._primaries: list[Address] = []
        self._known: list[Address] = [seed.address]
        self._refreshing = asyncio.Lock()
        self._refreshed_at = float("-inf")
        self._listeners: list[Callable[[], None]] = []

    def node_for(self, key: bytes | str) -> Address:
        return self._owners[slot_of(key)]

    def primaries(self) -> list[Address]:
        return self._primaries

    def endpoint_for(self, address: Address) -> Endpoint:
        return self._seed.at(address)

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def moved(self, slot: int, address: Address) -> None:
        """A node said `MOVED slot address`: believe it now, and read the whole map soon."""
        if self._owners[slot] != address:
            self._owners[slot] = address
            self._primaries = sorted(set(self._owners))
            self._changed()

    async def refresh(self) -> None:
        """Read the map again from the first node that answers. Callers that arrive while a
        read is under way share its result rather than each asking again."""
        asked_at = time.monotonic()
        async with self._refreshing:
            if self._refreshed_at >= asked_at - MIN_REFRESH_INTERVAL_S:
                return
            for address in list(self._known):
                reply = await self._cluster_slots(address)
                if reply is None:
                    continue
                self._install(reply, address)
                self._refreshed_at = time.monotonic()
                return
        raise RedisConnectionError("no Redis Cluster node answered CLUSTER SLOTS")

    async def _cluster_slots(self, address: Address) -> list[Any] | None:
        try:
            connection = await resp.connect(
                self._seed.at(address), self._name, timeout_s=SLOTS_TIMEOUT_S
            )
        except (RedisError, OSError, TimeoutError):
            return None
        try:
            async with asyncio.timeout(SLOTS_TIMEOUT_S):
                [reply] = await connection.execute([("CLUSTER", "SLOTS")])
        except (RedisError, OSError, TimeoutError):
            return None
        finally:
            connection.close()
        return reply if isinstance(reply, list) else None

    def _install(self, reply: list[Any], asked: Address) -> None:
        owners: list[Address | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
        known = {asked, self._seed.address}
        for start, end, primary, *replicas in reply:
            owner = _address(primary[0], primary[1], asked)
            owners[start : end + 1] = [owner] * (end - start + 1)
            known.add(owner)
            known.update(_address(r[0], r[1], asked) for r in replicas)
        # A slot nobody serves (the cluster is failing) keeps its last owner, to retry there.
        previous = self._owners or [asked] * REDIS_CLUSTER_HASH_SLOTS
        filled = [owner or previous[slot] for slot, owner in enumerate(owners)]
        # The node that answered goes first next time: it was alive.
        self._known = [asked, *sorted(known - {asked})]
        if filled != self._owners:
            self._owners = filled
            self._primaries = sorted(set(filled))
            self._changed()

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()


def routing_key(command: Command) -> Any:
    """The key (or channel) whose slot a command must go to: the first key of a script."""
    if command[0] in ("EVAL", "EVALSHA"):
        return command[3]
    return command[1]


def redirection(reply: Any) -> tuple[str, int, Address] | None:
    """("MOVED" or "ASK", slot, address) of a redirection error (a reply or its text), else
    None."""
    if not isinstance(reply, ResponseError | str):
        return None
    parts = str(reply).split()
    if len(parts) != 3 or parts[0] not in ("MOVED", "ASK"):
        return None
    host, _, port = parts[2].rpartition(":")
    return parts[0], int(parts[1]), (host, int(port))


class ClusterConnection:
    """SharedConnection's job on a cluster: one pipelined connection per primary, each command
    sent to the owner of its key's slot, the commands for different shards at once.

    Replies come back in the commands' order. A command the cluster redirects is sent again
    where it says (MOVED updates the map); a command whose node cannot be reached gets that
    error in its place and makes the map be read again. Raises only when no command got
    through, so a caller with one command sees what SharedConnection would show it.
    """

    def __init__(self, slots: Topology, name: str, timeout_s: float) -> None:
        self._slots = slots
        self._name = name
        self._timeout_s = timeout_s
        self._connections: dict[Address, SharedConnection] = {}
        slots.on_change(self._forget_old_primaries)

    def _connection(self, address: Address) -> SharedConnection:
        connection = self._connections.get(address)
        if connection is None:
            endpoint = self._slots.endpoint_for(address)
            connection = SharedConnection(endpoint, self._name, self._timeout_s)
            self._connections[address] = connection
        return connection

    def _forget_old_primaries(self) -> None:
        primaries = set(self._slots.primaries())
        for address in [a for a in self._connections if a not in primaries]:
            self._connections.pop(address).close()

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        results: list[Any] = [None] * len(commands)
        todo = list(range(len(commands)))
        asking: dict[int, Address] = {}
        unreachable = False
        for _ in range(MAX_REDIRECTS + 1):
            groups: dict[Address, list[int]] = {}
            for i in todo:
                address = asking.get(i) or self._slots.node_for(routing_key(commands[i]))
                groups.setdefault(address, []).append(i)
            replies = await asyncio.gather(
                *(
                    self._send(address, commands, indexes, asking)
                    for address, indexes in groups.items()
                )
            )
            todo, asking = [], {}
            for indexes, got in zip(groups.values(), replies, strict=True):
                if isinstance(got, RedisError):
                    unreachable = True
                    for i in indexes:
                        results[i] = got
                    continue
                for i, reply in zip(indexes, got, strict=True):
                    results[i] = reply
                    redirect = redirection(reply)
                    if redirect is None:
                        continue
                    kind, slot, address = redirect
                    if kind == "MOVED":
                        self._slots.moved(slot, address)
                    else:
                        asking[i] = address
                    todo.append(i)
            if not todo:
                break
        if unreachable:
            await self._refresh_slots()
            if all(isinstance(r, RedisError) and not isinstance(r, ResponseError) for r in results):
                raise results[0]
        return results

    async def _send(
        self,
        address: Address,
        commands: Sequence[Command],
        indexes: list[int],
        asking: dict[int, Address],
    ) -> list[Any] | RedisError:
        batch: list[Command] = []
        for i in indexes:
            if i in asking:
                batch.append(("ASKING",))
            batch.append(commands[i])
        try:
            replies = await self._connection(address).execute(batch)
        except RedisError as exc:
            return exc
        if not asking:
            return replies
        # Drop the ASKING confirmations: one reply per command, in order.
        answers: list[Any] = []
        position = 0
        for i in indexes:
            if i in asking:
                position += 1
            answers.append(replies[position])
            position += 1
        return answers

    async def _refresh_slots(self) -> None:
        try:
            await self._slots.refresh()
        except RedisError as exc:
            log.warning("cluster slot map not refreshed: %s", exc)

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()


PipelinedConnection = SharedConnection | ClusterConnection


async def topology_of(redis: RedisClient, url: str, name: str) -> Topology:
    """SingleServer, or the cluster's SlotMap read once (the process starts serving after)."""
    endpoint = Endpoint.from_url(url)
    if not is_cluster(redis):
        return SingleServer(endpoint)
    slots = SlotMap(endpoint, name)
    await slots.refresh()
    return slots


def pipelined_connection(topology: Topology, name: str, timeout_s: float) -> PipelinedConnection:
    """One shared pipelined connection on one Redis (exactly as before clusters), else one per
    primary."""
    if isinstance(topology, SingleServer):
        return SharedConnection(topology.endpoint, name, timeout_s)
    return ClusterConnection(topology, name, timeout_s)
