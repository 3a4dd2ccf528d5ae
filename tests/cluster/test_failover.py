"""A shard's primary is SIGKILLed mid-walk and its replica takes over (CONTRACT section 5): every
walk, on every shard, relays again within 5 s of the cluster reporting ok, on the sockets it
had, and a push created during the failover is delivered.

This test kills a node, so it has a cluster of its own rather than the one the other cluster
tests share.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator

import asyncpg
import pytest

from services.api.notifications.push_jobs import PUSH_STREAM
from services.realtime.keys import topology_key
from shared.settings import Settings
from shared.walk_events import walk_channel
from tests.cluster.conftest import flush, start_cluster
from tests.push.conftest import eventually, running_worker
from tests.push.fake_google import FakeGoogle
from tests.realtime.conftest import Gateway, Walk, create_walk
from tests.realtime.test_redis_reconnect import relays
from tests.support import Api
from tools.local_services import LocalCluster

WALKS_PER_SHARD = 2
RESUME_BOUND_S = 5.0


@pytest.fixture(scope="module")
def doomed_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_cluster(tmp_path_factory)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def redis_url(doomed_cluster: LocalCluster) -> str:
    await flush(doomed_cluster)
    return doomed_cluster.url


async def walks_on_every_shard(
    db: asyncpg.Connection, settings: Settings, gateway: Gateway
) -> list[Walk]:
    topology = gateway.server.app[topology_key]
    primaries = topology.primaries()
    walks: list[Walk] = []
    shards: Counter[tuple[str, int]] = Counter()
    while min(shards[p] for p in primaries) < WALKS_PER_SHARD:
        walk = await create_walk(db, settings)
        shards[topology.node_for(walk_channel(walk.id))] += 1
        walks.append(walk)
    return walks


async def test_a_primary_dies_every_walk_resumes_within_5_s_and_no_push_is_lost(
    gateways: tuple[Gateway, Gateway],
    db: asyncpg.Connection,
    settings: Settings,
    api: Api,
    fake_google: FakeGoogle,
    push_settings_for: Callable[..., Settings],
    doomed_cluster: LocalCluster,
) -> None:
    one, two = gateways
    walks = await walks_on_every_shard(db, settings, one)
    pairs = []
    for walk in walks:
        inviter, _ = await one.join(walk, walk.inviter)
        invitee, _ = await two.join(walk, walk.invitee)
        pairs.append((inviter, invitee))
    for inviter, invitee in pairs:
        await eventually(lambda i=inviter, r=invitee: relays(i, r))

    choco, bori = await api.signup("초코"), await api.signup("보리")
    await api.call("POST", "/devices", bori, json={"token": "bori-phone", "platform": "ios"})
    # The primary of the push stream's shard: the failover takes walks and pushes with it.
    _, doomed_port = one.server.app[topology_key].node_for(PUSH_STREAM)

    async with running_worker(push_settings_for(push_sweep_grace_s=1.0)):
        doomed_cluster.kill(doomed_port)
        await api.follow(choco, bori)  # its push job is emitted while the shard has no primary
        await asyncio.to_thread(doomed_cluster.wait_ok, 30.0, doomed_port)
        ok_at = time.monotonic()
        await asyncio.gather(
            *(
                eventually(lambda i=inviter, r=invitee: relays(i, r), timeout_s=30)
                for inviter, invitee in pairs
            )
        )
        resumed_after_s = time.monotonic() - ok_at
        await eventually(lambda: fake_google.delivered("bori-phone"), timeout_s=30)

    assert doomed_port not in doomed_cluster.primary_ports()
    assert resumed_after_s <= RESUME_BOUND_S, f"walks resumed {resumed_after_s:.1f} s after ok"
    assert all(not ws.closed for pair in pairs for ws in pair)  # the same sockets relay again
    [message] = fake_google.delivered("bori-phone")
    assert message["data"]["follower_id"] == choco.id
    for pair in pairs:
        for ws in pair:
            await ws.close()
