"""REST scenarios: the feed's 30-second poll (304) and a full feed page, beside a bare endpoint.

The API (`python -m services.api`) runs on the seeded database (100,000 users, 1,000,000 walks,
~50 follows each); the bare endpoint (bench/bare_json.py) checks the same JWT and answers a
constant JSON. Load: http_load processes, a closed loop of clients; the throughput points use
many clients, the full-page latency point a few (so its p99 is the query, not the queue).
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from bench import results
from bench.figures import Sizes, at_least, median, medians, repeat, verdict, within
from bench.procs import Children, wait_http
from bench.seed import user_id
from bench.stack import Stack
from shared.tokens import issue_token
from tools.local_services import free_port

USERS_IN_PLAY = 2_000
LOAD_PROCESSES = 2
BUSY_CLIENTS = 32  # per load process
FEW_CLIENTS = 4  # per load process


async def load(
    children: Children,
    stack: Stack,
    base: str,
    requests: list[dict[str, Any]],
    clients: int,
    seconds: float,
    name: str,
) -> dict[str, Any]:
    job_dir = Path(tempfile.mkdtemp(prefix="bench-http-"))
    start_at = time.time() + 2.0
    procs = []
    for p in range(LOAD_PROCESSES):
        job = job_dir / f"{name}-{p}.json"
        job.write_bytes(
            orjson.dumps(
                {
                    "base": base,
                    "requests": requests[p::LOAD_PROCESSES],
                    "concurrency": clients,
                    "seconds": seconds,
                    "start_at": start_at,
                }
            )
        )
        procs.append(
            await children.start(
                f"http_load-{name}-{p}",
                ["-m", "bench.http_load", str(job)],
                stack.service_env(),
                pipes=True,
            )
        )
    replies = []
    for proc in procs:
        out, _ = await proc.communicate()
        replies.append(orjson.loads(out))
    latencies = [v for r in replies for v in r["latencies_ms"]]
    statuses: dict[str, int] = {}
    for r in replies:
        for code, n in r["status_counts"].items():
            statuses[code] = statuses.get(code, 0) + n
    seconds_max = max(r["seconds"] for r in replies)
    figures = results.percentiles(latencies)
    return {
        "clients": clients * LOAD_PROCESSES,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / seconds_max),
        "p50_ms": figures["lat_p50_ms"],
        "p99_ms": figures["lat_p99_ms"],
        "max_ms": figures["lat_max_ms"],
        "status_counts": statuses,
    }


def tokens(stack: Stack, users: int) -> list[str]:
    rng = random.Random(7)
    picked = rng.sample(range(users), min(USERS_IN_PLAY, users))
    return [
        issue_token(stack.jwt_secret, user_id(n), "access", 3600, session_id=uuid.uuid4())[0]
        for n in picked
    ]


async def etags(base: str, path: str, user_tokens: list[str]) -> list[dict[str, Any]]:
    """Each user's current ETag for `path`: the 304 requests a polling app would send."""
    requests = []
    async with aiohttp.ClientSession() as session:
        for token in user_tokens:
            auth = {"Authorization": f"Bearer {token}"}
            async with session.get(base + path, headers=auth) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"GET {path} answered {resp.status}")
                requests.append(
                    {"path": path, "headers": {**auth, "If-None-Match": resp.headers["ETag"]}}
                )
    return requests


async def measure(stack: Stack, sizes: Sizes) -> dict[str, Any]:
    children = Children(stack.log_dir)
    try:
        api_port, bare_port = free_port(), free_port()
        api = await children.start(
            "api", ["-m", "services.api"], stack.service_env(API_PORT=str(api_port))
        )
        bare = await children.start(
            "bare_json", ["-m", "bench.bare_json"], stack.service_env(API_PORT=str(bare_port))
        )
        api_base, bare_base = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{bare_port}"
        await wait_http(api_base + "/healthz", api)
        await wait_http(bare_base + "/healthz", bare)
        user_tokens = tokens(stack, sizes.seed.users)
        since = quote(dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"))
        poll = await etags(api_base, f"/feed?since={since}", user_tokens)
        page = [{"path": "/feed", "headers": {"Authorization": f"Bearer {t}"}} for t in user_tokens]
        bare_requests = [{"path": "/feed", "headers": r["headers"]} for r in page]
        seconds = sizes.http_seconds
        bare_busy = await load(
            children, stack, bare_base, bare_requests, BUSY_CLIENTS, seconds, "bare"
        )
        poll_busy = await load(children, stack, api_base, poll, BUSY_CLIENTS, seconds, "poll304")
        page_few = await load(children, stack, api_base, page, FEW_CLIENTS, seconds, "page")
        page_busy = await load(children, stack, api_base, page, BUSY_CLIENTS, seconds, "page-busy")
    finally:
        await children.stop_all()
    return {
        "bare_json": bare_busy,
        "feed_poll_304": poll_busy,
        "feed_page": page_few,
        "feed_page_busy": page_busy,
        "ratio_304_to_bare": round(poll_busy["requests_per_s"] / bare_busy["requests_per_s"], 3),
    }


async def suite(stack: Stack, sizes: Sizes, n: int) -> None:
    runs = await repeat(n, lambda: measure(stack, sizes))
    s = sizes.seed
    results.write(
        "api_feed",
        {
            "about": f"Seed: {s.users:,} users, {s.walks:,} walks, {s.follows_per_user} follows "
            f"each. {USERS_IN_PLAY:,} users' tokens in play. feed_poll_304: GET /feed?since=<now> "
            "with each user's current ETag in If-None-Match (answered 304); bare_json: the bare "
            f"endpoint with the same JWT check; both with {BUSY_CLIENTS * LOAD_PROCESSES} "
            f"clients over {LOAD_PROCESSES} load processes. feed_page: GET /feed (20 walks) with "
            f"{FEW_CLIENTS * LOAD_PROCESSES} clients; feed_page_busy: with "
            f"{BUSY_CLIENTS * LOAD_PROCESSES}. {sizes.http_seconds:g} s each. The API runs at "
            "LOG_LEVEL=WARNING (no access-log line per request), as does the bare endpoint.",
            "target": "304 at >= 0.5x the bare endpoint's requests/s; full page p99 <= 50 ms",
            "verdict": verdict(
                {
                    "304 >= half of bare": at_least(median(runs, "ratio_304_to_bare"), 0.5),
                    "page p99 <= 50 ms": within(median(runs, "feed_page", "p99_ms"), 50),
                }
            ),
            "runs": runs,
            "medians": medians(runs),
        },
    )
