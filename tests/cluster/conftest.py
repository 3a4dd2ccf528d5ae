"""The stack on a Redis Cluster: a local one (3 primaries, 3 replicas, node timeout 2 s, nothing
persisted) started once for these tests, and `redis_url` / `redis` pointing at it instead of the
single Redis the rest of the suite uses.

The services find out on their own that REDIS_URL names a cluster node; nothing else changes.
A representative subset of the realtime, push and API tests runs here a second time (imported
into this folder's modules), with their own fixtures, which are re-exported below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from tests.push.conftest import (  # noqa: F401 (fixtures)
    fake_base_url,
    fake_google,
    push_settings,
    push_settings_for,
    rsa_key,
    service_account_file,
)
from tests.realtime.conftest import (  # noqa: F401 (fixtures, and uvloop as in production)
    gateway,
    gateway_processes,
    gateways,
    limits,
    pytest_asyncio_loop_factories,
    session,
    walk,
)
from tools.local_services import LocalCluster, redis_major_version


def start_cluster(tmp_path_factory: pytest.TempPathFactory) -> LocalCluster:
    if redis_major_version() < 7:
        pytest.skip("sharded pub/sub needs redis-server 7 or newer")
    return LocalCluster(tmp_path_factory.mktemp("redis-cluster")).start()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_cluster(tmp_path_factory)
    try:
        yield cluster
    finally:
        cluster.stop()


async def flush(cluster: LocalCluster) -> None:
    for port in cluster.primary_ports():
        client = aioredis.Redis(host="127.0.0.1", port=port)
        await client.flushall()
        await client.aclose()


@pytest.fixture
async def redis_url(redis_cluster: LocalCluster) -> str:
    """Overrides the single-Redis one: every test starts on an empty cluster."""
    await flush(redis_cluster)
    return redis_cluster.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(redis_url)
    yield client
    await client.aclose()
