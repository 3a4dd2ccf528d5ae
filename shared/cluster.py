"""Which server holds a key, for the bare RESP connections of the hot paths (shared/resp.py).

On one Redis every key and channel is on the server REDIS_URL names (`SingleServer`). On a Redis
Cluster (the process finds out at start, shared/redis_client.py) each hash slot belongs to one
primary, and there is one map of which: redis-py's cluster client keeps it, takes a MOVED
answer's word for one slot at once, and reads the whole map again when asked, as after a
failover (`ClusterTopology` reads it for the bare connections). The gateway's pub/sub and batch
writer and the feed poll's head read keep hiredis and pipelining, with one connection per
primary (`ClusterConnection`, services/realtime/broker.py).

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

from redis.asyncio.cluster import RedisCluster
from redis.cluster import PRIMARY
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MovedError, RedisClusterException, RedisError, ResponseError

from shared.redis_client import RedisClient, SlotChanges, WatchedCluster
from shared.resp import Address, Command, Endpoint, SharedConnection

log = logging.getLogger(__name__)

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

    async def moved(self, slot: int, address: Address) -> None: ...

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

    async def moved(self, slot: int, address: Address) -> None:
        log.warning("a single Redis answered MOVED; is REDIS_URL a cluster node?")

    async def refresh(self) -> None:
        return

    def on_change(self, listener: Callable[[], None]) -> None:
        return


def slot_of(key: bytes | str) -> int:
    return key_slot(key if isinstance(key, bytes) else key.encode())


class ClusterTopology:
    """A cluster's map, as redis-py's cluster client keeps it: its NodesManager says which
    primary owns a slot, takes a MOVED for one slot, reads CLUSTER SLOTS again when asked, and
    tells of every change (shared/redis_client.py's SlotChanges). One map a process, for the
    cold paths and the bare connections alike."""

    pubsub = SHARDED

    def __init__(self, cluster: RedisCluster, seed: Endpoint, changes: SlotChanges) -> None:
        self._nodes = cluster.nodes_manager
        self._seed = seed
        self._changes = changes
        self._refreshed_at = float("-inf")

    def node_for(self, key: bytes | str) -> Address:
        node = self._nodes.get_node_from_slot(slot_of(key))
        return (node.host, int(node.port))

    def primaries(self) -> list[Address]:
        primaries = self._nodes.get_nodes_by_server_type(PRIMARY)
        return sorted((node.host, int(node.port)) for node in primaries)

    def endpoint_for(self, address: Address) -> Endpoint:
        return self._seed.at(address)

    def on_change(self, listener: Callable[[], None]) -> None:
        self._changes.listeners.append(listener)

    async def moved(self, slot: int, address: Address) -> None:
        """A node said `MOVED slot address`: the map believes it at once."""
        await self._nodes.move_slot(MovedError(f"{slot} {address[0]}:{address[1]}"))

    async def refresh(self) -> None:
        """Read the map again (at most every MIN_REFRESH_INTERVAL_S; callers that arrive while a
        read is under way share it, as redis-py does)."""
        asked_at = time.monotonic()
        if self._refreshed_at >= asked_at - MIN_REFRESH_INTERVAL_S:
            return
        try:
            await self._nodes.initialize()
        except RedisClusterException as exc:
            raise RedisConnectionError(f"no Redis Cluster node answered: {exc}") from None
        self._refreshed_at = time.monotonic()


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
                        await self._slots.moved(slot, address)
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


def topology_of(redis: RedisClient, url: str) -> Topology:
    """SingleServer, or the map of the process's cluster client (read before it serves)."""
    endpoint = Endpoint.from_url(url)
    if not isinstance(redis, WatchedCluster):
        return SingleServer(endpoint)
    return ClusterTopology(redis, endpoint, redis.slot_changes)


def pipelined_connection(topology: Topology, name: str, timeout_s: float) -> PipelinedConnection:
    """One shared pipelined connection on one Redis (exactly as before clusters), else one per
    primary."""
    if isinstance(topology, SingleServer):
        return SharedConnection(topology.endpoint, name, timeout_s)
    return ClusterConnection(topology, name, timeout_s)
