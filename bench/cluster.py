"""`make bench-cluster`: the gateway latency point on a Redis Cluster, beside one Redis.

The same walks and pace as `gateway_latency` (20,000 sockets, 10,000 walks, over two gateway
instances, partners on different instances, a location every 5 s a socket), once on a local
cluster of 3 primaries and 3 replicas (tools/local_services.py's LocalCluster, all on this
machine) and once on the single embedded Redis, in the same session. Per shard: the commands
it ran per second during the pace phase (INFO stats on each primary, before and after), and how
many of the walks hash to it (target: every shard within 15% of the mean).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import statistics
import time
from typing import Any

import redis.asyncio as aioredis

from bench import gateway, results
from bench.figures import at_least, verdict, within
from bench.figures import median as median_of
from bench.seed import invitation_id
from bench.stack import BENCH_DATA, Stack
from shared.cluster import topology_of
from shared.redis_client import open_redis
from shared.walk_events import walk_channel
from tools.local_services import LocalCluster

log = logging.getLogger("bench")

SPREAD_TARGET = 0.15


async def commands_processed(ports: list[int]) -> dict[int, int]:
    counts = {}
    for port in ports:
        client = aioredis.Redis(host="127.0.0.1", port=port)
        try:
            counts[port] = int((await client.info("stats"))["total_commands_processed"])
        finally:
            await client.aclose()
    return counts


async def walk_spread(cluster: LocalCluster, walks: int) -> dict[str, Any]:
    """How many of the bench's walks each primary owns, and the worst deviation from the mean."""
    client = await open_redis(cluster.url)
    try:
        topology = topology_of(client, cluster.url)
        per_shard: dict[int, int] = {}
        for walk in range(walks):
            _, port = topology.node_for(walk_channel(invitation_id(walk)))
            per_shard[port] = per_shard.get(port, 0) + 1
    finally:
        await client.aclose()
    mean = walks / len(per_shard)
    worst = max(abs(n - mean) / mean for n in per_shard.values())
    return {
        "walks_per_shard": sorted(per_shard.values()),
        "worst_deviation_from_mean": round(worst, 4),
    }


async def pace_on(stack: Stack, sizes: Any, ports: list[int] | None) -> dict[str, Any]:
    """The latency point on `stack`'s Redis; with `ports`, those primaries' commands/s too."""
    await stack.refresh()
    ops: dict[str, float] = {}

    async def watch(pids: list[int], seconds: float) -> None:
        assert ports is not None
        before, started = await commands_processed(ports), time.monotonic()
        await asyncio.sleep(seconds)
        after, elapsed = await commands_processed(ports), time.monotonic() - started
        for port in ports:
            ops[f"shard_{ports.index(port) + 1}"] = round((after[port] - before[port]) / elapsed)

    figures = await gateway.steady(
        stack,
        "gateway",
        2,
        sizes.steady_sockets,
        [("pace", 0.2, sizes.pace_s)],
        sizes.load_processes,
        watch=watch if ports else None,
    )
    pace = figures.pop("pace")
    keep = ("connected", "delivered_ratio", "delivered_per_s", "lat_p50_ms", "lat_p99_ms")
    out: dict[str, Any] = {k: pace.get(k, figures.get(k)) for k in keep}
    out["lat_max_ms"] = pace["lat_max_ms"]
    if ops:
        out["ops_per_s_per_shard"] = ops
        values = list(ops.values())
        out["ops_worst_deviation_from_mean"] = round(
            max(abs(v - statistics.mean(values)) for v in values) / statistics.mean(values), 4
        )
    return out


async def suite(stack: Stack, sizes: Any, n: int) -> None:
    cluster = LocalCluster(BENCH_DATA / "cluster").start()
    try:
        on_cluster = dataclasses.replace(stack, redis_url=cluster.url)
        primaries = cluster.primary_ports()
        spread = await walk_spread(cluster, sizes.steady_sockets // 2)
        runs = []
        for i in range(n):
            log.info("gateway on a Redis Cluster, run %d of %d", i + 1, n)
            clustered = await pace_on(on_cluster, sizes, primaries)
            log.info("gateway on one Redis, run %d of %d", i + 1, n)
            single = await pace_on(stack, sizes, None)
            runs.append({"cluster": clustered, "single_redis": single})
    finally:
        cluster.stop()
    medians = {
        side: {
            key: median_of(runs, side, key)
            for key in ("delivered_ratio", "delivered_per_s", "lat_p99_ms", "lat_max_ms")
        }
        for side in ("cluster", "single_redis")
    }
    results.write(
        "gateway_cluster",
        {
            "about": f"The gateway_latency point ({sizes.steady_sockets:,} sockets over two "
            "gateway instances, a location every 5 s a socket) on a local Redis Cluster (3 "
            "primaries + 3 replicas on this machine), then on one Redis, in the same session. "
            "ops_per_s_per_shard: commands each primary ran per second during the pace phase. "
            f"Walk spread over the shards: {spread}.",
            "target": "every location delivered on the cluster; each shard within 15% of the "
            "mean, in walks and in commands per second",
            "verdict": verdict(
                {
                    "all delivered": at_least(median_of(runs, "cluster", "delivered_ratio"), 1.0),
                    "walks within 15%": within(spread["worst_deviation_from_mean"], SPREAD_TARGET),
                    "ops within 15%": within(
                        median_of(runs, "cluster", "ops_worst_deviation_from_mean"), SPREAD_TARGET
                    ),
                }
            ),
            "walk_spread": spread,
            "runs": runs,
            "medians": medians,
        },
    )
