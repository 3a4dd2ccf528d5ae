"""HTTP load generator: a closed loop of `concurrency` clients for `seconds`, then one JSON line.

    python -m bench.http_load JOB.json

The job lists requests (path and headers); client i starts at request i and walks the list, so
many users' tokens are in play. Every process of a measurement gets the same `start_at` (wall
clock), so their windows overlap.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections import Counter
from typing import Any

import aiohttp
import orjson


async def client(
    session: aiohttp.ClientSession,
    base: str,
    requests: list[dict[str, Any]],
    offset: int,
    until: float,
    latencies: list[float],
    statuses: Counter[int],
) -> None:
    i = offset
    now = time.perf_counter
    while now() < until:
        request = requests[i % len(requests)]
        i += 1
        started = now()
        try:
            async with session.get(base + request["path"], headers=request["headers"]) as resp:
                await resp.read()
                statuses[resp.status] += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            statuses[type(exc).__name__] += 1  # type: ignore[index]
            continue
        latencies.append((now() - started) * 1000)


async def run(job: dict[str, Any]) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.sleep(max(0.0, job["start_at"] - time.time()))
        started = time.perf_counter()
        until = started + job["seconds"]
        await asyncio.gather(
            *(
                client(session, job["base"], job["requests"], i * 7919, until, latencies, statuses)
                for i in range(job["concurrency"])
            )
        )
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "status_counts": {str(k): v for k, v in statuses.items()},
        "latencies_ms": [round(v, 3) for v in latencies],
    }


def main() -> None:
    import uvloop

    gc.disable()  # no collector pause inside the measured window (the run is bounded)

    with open(sys.argv[1], "rb") as f:
        job = orjson.loads(f.read())
    result = uvloop.run(asyncio.wait_for(run(job), job["seconds"] + 60))
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")


if __name__ == "__main__":
    main()
