"""One redis-py client per process, as a cleanup context: a plain client, or a cluster client
when the server `REDIS_URL` names says it is a Redis Cluster node.

There is no setting for the mode: at start the process asks that node `INFO cluster`. A cluster
client routes each command to the primary that owns its key's hash slot and follows MOVED/ASK
and failovers; every multi-key command the services send keeps its keys in one slot (hash tags,
or `slot_groups`). `aioredis` is not used: it is archived and fails to import on Python 3.11;
redis-py's `redis.asyncio` is its maintained successor.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, cast

import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.event import (
    AsyncAfterSlotsCacheRefreshEvent,
    AsyncEventListenerInterface,
    EventDispatcher,
)
from redis.exceptions import RedisError

from shared.keys import redis_key, settings_key

log = logging.getLogger(__name__)

RedisClient = aioredis.Redis | RedisCluster

# Short timeouts: Redis is an accelerator here, a dead one must not hang a request.
_CLIENT_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_connections": 64,
}


def create_redis(url: str) -> aioredis.Redis:
    """A client of the one server at `url` (connects lazily)."""
    return aioredis.Redis.from_url(url, health_check_interval=30, **_CLIENT_OPTIONS)


async def is_cluster_node(url: str) -> bool:
    """Whether the server at `url` runs in cluster mode. An unreachable server is taken for a
    single one (as before clusters were known), with a warning: the process still starts."""
    probe = create_redis(url)
    try:
        info = await probe.info("cluster")
    except (RedisError, OSError) as exc:
        log.warning("Redis at REDIS_URL did not answer INFO cluster (%s)", type(exc).__name__)
        return False
    finally:
        await probe.aclose()
    return bool(info.get("cluster_enabled"))


class SlotChanges(AsyncEventListenerInterface):
    """Told by redis-py's cluster client each time its slot map changes (a refresh, or a MOVED
    that moved a slot); calls its listeners, which must not block."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[], None]] = []

    async def listen(self, event: object) -> None:
        for listener in self.listeners:
            listener()


class WatchedCluster(RedisCluster):
    """redis-py's cluster client, with the SlotChanges its event dispatcher calls."""

    slot_changes: SlotChanges


async def open_redis(url: str) -> RedisClient:
    if not await is_cluster_node(url):
        return create_redis(url)
    log.info("REDIS_URL names a Redis Cluster node: using the whole cluster")
    changes = SlotChanges()
    dispatcher = EventDispatcher()
    dispatcher.register_listeners({AsyncAfterSlotsCacheRefreshEvent: [changes]})
    cluster = cast(
        WatchedCluster,
        WatchedCluster.from_url(url, event_dispatcher=dispatcher, **_CLIENT_OPTIONS),
    )
    cluster.slot_changes = changes
    await cluster.initialize()
    return cluster


def is_cluster(redis: RedisClient) -> bool:
    return isinstance(redis, RedisCluster)


def slot_groups(redis: RedisClient, keys: Iterable[str]) -> list[list[str]]:
    """`keys` in groups a multi-key command may take: one group on a single server, one per
    hash slot on a cluster (order kept within each group)."""
    keys = list(keys)
    if not is_cluster(redis):
        return [keys] if keys else []
    groups: dict[int, list[str]] = {}
    for key in keys:
        groups.setdefault(key_slot(key.encode()), []).append(key)
    return list(groups.values())


@asynccontextmanager
async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    client = await open_redis(app[settings_key].redis_url)
    app[redis_key] = client
    try:
        yield
    finally:
        await client.aclose()
