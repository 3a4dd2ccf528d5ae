"""Push scenario: one worker (`python -m services.api.push_worker`) against a local fake FCM.

N notifications are written as pending rows (one device each), the worker is started and
ready, then all N jobs are added to `push:jobs` at once; pushes/s is N over the time from that
add to the fake's last 200 answer.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from bench import fake_fcm, results
from bench.figures import Sizes, at_least, median, medians, repeat, verdict
from bench.procs import Children, rss_mb, wait_http
from bench.stack import Stack
from tools.local_services import free_port

PUSH_STREAM = "push:jobs"
DEADLINE_S = 120


async def write_jobs(database_url: str, count: int) -> list[str]:
    """`count` pending `followed` notifications, to users 0..count-1, each with one device."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute("TRUNCATE notifications, devices CASCADE")
            await conn.execute(
                """INSERT INTO devices (token, user_id, platform)
                   SELECT 'bench-device-' || n, md5('bench-user-' || n)::uuid, 'android'
                   FROM generate_series(0, $1 - 1) AS n""",
                count,
            )
            rows = await conn.fetch(
                """INSERT INTO notifications (user_id, type, actor_id, data)
                   SELECT md5('bench-user-' || n)::uuid, 'followed',
                          md5('bench-user-' || n + 1)::uuid, '{}'::jsonb
                   FROM generate_series(0, $1 - 1) AS n
                   RETURNING id""",
                count,
            )
    finally:
        await conn.close()
    return [str(r["id"]) for r in rows]


async def stats(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with session.get(base + "/stats") as resp:
        body: dict[str, Any] = await resp.json()
        return body


async def measure(stack: Stack, count: int) -> dict[str, Any]:
    children = Children(stack.log_dir)
    redis = aioredis.Redis.from_url(stack.redis_url)
    try:
        ids = await write_jobs(stack.database_url, count)
        await redis.delete(PUSH_STREAM)
        port = free_port()
        account = Path(tempfile.mkdtemp(prefix="bench-fcm-")) / "service-account.json"
        fake = await children.start(
            "fake_fcm", ["-m", "bench.fake_fcm", str(port), str(account)], stack.service_env()
        )
        base = f"http://127.0.0.1:{port}"
        await wait_http(base + "/healthz", fake)
        worker = await children.start(
            "push_worker",
            ["-m", "services.api.push_worker"],
            stack.service_env(
                FCM_PROJECT_ID=fake_fcm.PROJECT_ID,
                FCM_CREDENTIALS_FILE=str(account),
                FCM_BASE_URL=base,
            ),
        )
        await asyncio.sleep(3.0)  # the worker has created its consumer group and is reading
        if worker.returncode is not None:
            raise RuntimeError("push worker exited (see .data/bench/logs/push_worker.log)")
        started = time.monotonic()
        async with redis.pipeline(transaction=False) as pipe:
            for notification_id in ids:
                pipe.xadd(PUSH_STREAM, {"notification_id": notification_id})
            await pipe.execute()
        async with aiohttp.ClientSession() as session:
            while True:
                seen = await stats(session, base)
                if seen["ok"] >= count or time.monotonic() - started > DEADLINE_S:
                    break
                await asyncio.sleep(0.1)
        elapsed = time.monotonic() - started
        worker_rss = rss_mb(worker.pid)
    finally:
        await redis.aclose()
        await children.stop_all()
    return {
        "jobs": count,
        "pushed_ok": seen["ok"],
        "fcm_requests": seen["sends"],
        "oauth_token_requests": seen["token_requests"],
        "seconds": round(elapsed, 3),
        "pushes_per_s": round(seen["ok"] / elapsed, 1),
        "worker_rss_mb": round(worker_rss, 1),
    }


async def suite(stack: Stack, sizes: Sizes, n: int) -> None:
    runs = await repeat(n, lambda: measure(stack, sizes.pushes))
    results.write(
        "push",
        {
            "about": f"{sizes.pushes:,} pending notifications (one Android device each) added to "
            "push:jobs at once; one worker with default settings sends them to bench/fake_fcm.py "
            "(tests/push/fake_google.py: OAuth2 token endpoint and FCM HTTP v1, answering 200 at "
            "once). pushes_per_s = pushes answered 200 / seconds from the XADD to the last one.",
            "target": ">= 1,000 pushes/s",
            "verdict": verdict({">= 1,000/s": at_least(median(runs, "pushes_per_s"), 1000)}),
            "runs": runs,
            "medians": medians(runs),
        },
    )
