"""Sharded pub/sub on a Redis Cluster: the gateway's own links (services/realtime/broker.py)
against redis-py's cluster pub/sub (`RedisCluster.pubsub()`, SSUBSCRIBE), receiving the same
messages (issue 19: keep the cheaper one).

    python -m bench.pubsub_clients [--repeat N] [--quick]

A local cluster (3 primaries) is started; a publisher process sends `messages` SPUBLISHes spread
over `channels` channels, pipelined; the receiver under test, in this process, counts them. The
figure is the receiver's CPU time a message (process time over the messages received), which a
busy machine disturbs far less than wall time; the wall time and the share received are kept too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio.cluster import RedisCluster

from bench import results
from services.realtime.broker import Broker
from shared.cluster import ClusterConnection, topology_of
from shared.redis_client import open_redis
from tools.local_services import LocalCluster

PAYLOAD = b'{"type":"location","user_id":"0b7c","lat":37.5665,"lng":126.978,"timestamp":1}'
BATCH = 500


def _channel(i: int) -> bytes:
    return f"walk:{{{i:08d}}}".encode()


def _publish(url: str, channels: int, messages: int, start: Any) -> None:
    """The publisher, in its own process: waits for `start`, then sends every message."""

    async def main() -> None:
        client = await open_redis(url)
        connection = ClusterConnection(topology_of(client, url), "bench-publisher", 10.0)  # type: ignore[arg-type]
        start.wait()
        sent = 0
        while sent < messages:
            n = min(BATCH, messages - sent)
            await connection.execute(
                [("SPUBLISH", _channel((sent + i) % channels), PAYLOAD) for i in range(n)]
            )
            sent += n
        connection.close()
        await client.aclose()

    asyncio.run(main())


async def _receive(
    url: str,
    channels: int,
    messages: int,
    subscribe: Callable[[Callable[[], None]], Awaitable[Callable[[], Awaitable[None]]]],
) -> dict[str, Any]:
    received = 0
    done = asyncio.Event()

    def count() -> None:
        nonlocal received
        received += 1
        if received >= messages:
            done.set()

    stop = await subscribe(count)
    start = multiprocessing.Event()
    publisher = multiprocessing.Process(target=_publish, args=(url, channels, messages, start))
    publisher.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    start.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=max(60.0, messages / 2_000))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    publisher.join(timeout=30)
    await stop()
    return {
        "received_share": round(received / messages, 4),
        "cpu_us_per_message": round(cpu / max(received, 1) * 1e6, 2),
        "wall_s": round(wall, 2),
    }


async def ours(url: str, channels: int, messages: int) -> dict[str, Any]:
    client = await open_redis(url)
    broker: Broker[int] = Broker(topology_of(client, url), health_check_s=30.0)

    async def subscribe(count: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        listener = asyncio.create_task(broker.listen(lambda _c, _m, _d: count()))
        await broker.connected()
        for i in range(channels):
            await broker.join(_channel(i), i)

        async def stop() -> None:
            broker.stop()
            await listener
            await client.aclose()

        return stop

    return await _receive(url, channels, messages, subscribe)


async def redis_py(url: str, channels: int, messages: int) -> dict[str, Any]:
    client = RedisCluster.from_url(url)
    await client.initialize()
    pubsub = client.pubsub()

    async def subscribe(count: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        for first in range(0, channels, 1000):
            await pubsub.ssubscribe(
                *[_channel(i) for i in range(first, min(channels, first + 1000))]
            )

        confirmed = 0
        while confirmed < channels:  # as the broker's join() does: subscribed before publishing
            message = await pubsub.get_sharded_message(timeout=1.0)
            if message is not None and message["type"] == "ssubscribe":
                confirmed += 1

        async def read() -> None:
            while True:
                message = await pubsub.get_sharded_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
                if message is not None:
                    count()

        reader = asyncio.create_task(read())

        async def stop() -> None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await pubsub.aclose()
            await client.aclose()

        return stop

    return await _receive(url, channels, messages, subscribe)


async def run(repeat: int, channels: int, messages: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-pubsub-") as folder:
        cluster = LocalCluster(Path(folder)).start()
        try:
            runs = []
            for _ in range(repeat):
                # Alternate, so a drift in the machine's load falls on both.
                run = {"gateway_links": await ours(cluster.url, channels, messages)}
                run["redis_py"] = await redis_py(cluster.url, channels, messages)
                runs.append(run)
        finally:
            cluster.stop()
    medians = {
        who: {
            figure: results.median_of(runs, (who, figure))
            for figure in ("received_share", "cpu_us_per_message", "wall_s")
        }
        for who in ("gateway_links", "redis_py")
    }
    ours_cpu = medians["gateway_links"]["cpu_us_per_message"]
    theirs_cpu = medians["redis_py"]["cpu_us_per_message"]
    medians["redis_py_cpu_over_ours"] = (
        round(theirs_cpu / ours_cpu, 2) if ours_cpu and theirs_cpu else None
    )
    return {
        "about": (
            f"Sharded pub/sub receive cost on a local 3-primary cluster: {messages:,} messages "
            f"over {channels:,} channels, the gateway's links against redis-py's cluster pub/sub."
        ),
        "runs": runs,
        "medians": medians,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    channels, messages = (200, 20_000) if args.quick else (2_000, 200_000)
    report = asyncio.run(run(args.repeat, channels, messages))
    if args.quick:
        print(report)
    else:
        print(results.write("pubsub_clients", report))


if __name__ == "__main__":
    main()
