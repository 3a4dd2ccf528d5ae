"""User search (`GET /users?query=`) at the seed's 100,000 users, one query at a time.

The seed's nicknames are mostly Hangul, built like people's (`초코아빠`, `보리맘12`,
`maru_dad4`; bench/seed.py), so each query below exercises one shape of the ranking: a dog's
name that starts ~2,000 nicknames (the prefix tier fills the page), a suffix inside ~8,000 (the
"contains" tier does all the work), a pair spanning name and suffix, and Latin letters both
ways. A few clients only, so that p99 is the query's, not a queue's; `baseline_profile` is the
same load on `GET /users/{id}` (one row by primary key), what the machine adds to any request.
"""

from __future__ import annotations

import random
import time
from typing import Any
from urllib.parse import quote

import asyncpg

from bench import results
from bench.api import FEW_CLIENTS, LOAD_PROCESSES, load, tokens
from bench.figures import Sizes, median, medians, repeat, verdict, within
from bench.procs import Children, wait_http
from bench.seed import user_id
from bench.stack import Stack
from services.api.social.search import search_users
from tools.local_services import free_port

DATABASE_SAMPLES = 200
QUERIES = {
    "hangul_2_prefix": "초코",  # starts ~2,000 nicknames
    "hangul_2_contains": "아빠",  # inside ~8,000, at the start of none
    "hangul_2_spanning": "코아",  # 초코아빠, 코코아빠...: a pair across name and suffix
    "latin_3_prefix": "cho",
    "latin_3_contains": "dad",
}


async def in_database(stack: Stack, sizes: Sizes) -> dict[str, Any]:
    """Each query's first page straight from `search_users` on one connection, one after
    another: the queries' own cost, without HTTP, the event loop or a client queue."""
    conn = await asyncpg.connect(stack.database_url)
    figures: dict[str, Any] = {}
    try:
        # A search costs up to four round trips (the lowered text, then a query a tier):
        # what four `SELECT 1`s cost on this machine now is the floor under every figure.
        floor = []
        for _ in range(DATABASE_SAMPLES):
            started = time.perf_counter()
            for _ in range(4):
                await conn.fetchval("SELECT 1")
            floor.append((time.perf_counter() - started) * 1000)
        figures["four_round_trips"] = results.percentiles(floor)
        rng = random.Random(11)
        for name, query in QUERIES.items():
            samples = []
            for _ in range(DATABASE_SAMPLES):
                viewer = user_id(rng.randrange(sizes.seed.users))
                started = time.perf_counter()
                await search_users(conn, viewer, query, None, 21)
                samples.append((time.perf_counter() - started) * 1000)
            found = await search_users(conn, user_id(0), query, None, 21)
            figures[name] = {
                **results.percentiles(samples),
                "tiers_on_first_page": sorted({tier.name.lower() for tier, _ in found}),
            }
    finally:
        await conn.close()
    return figures


async def measure(stack: Stack, sizes: Sizes) -> dict[str, Any]:
    database = await in_database(stack, sizes)
    children = Children(stack.log_dir)
    try:
        port = free_port()
        api = await children.start(
            "api", ["-m", "services.api"], stack.service_env(API_PORT=str(port))
        )
        base = f"http://127.0.0.1:{port}"
        await wait_http(base + "/healthz", api)
        user_tokens = tokens(stack, sizes.seed.users)
        # The same load on a one-row lookup first: what the shared machine adds to any request.
        profile = [
            {"path": f"/users/{user_id(0)}", "headers": {"Authorization": f"Bearer {t}"}}
            for t in user_tokens
        ]
        figures: dict[str, Any] = {
            "baseline_profile": await load(
                children, stack, base, profile, FEW_CLIENTS, sizes.http_seconds, "search-baseline"
            )
        }
        for name, query in QUERIES.items():
            rng = random.Random(name)
            requests = [
                {
                    "path": f"/users?query={quote(query)}",
                    "headers": {"Authorization": f"Bearer {rng.choice(user_tokens)}"},
                }
                for _ in range(len(user_tokens))
            ]
            figures[name] = await load(
                children, stack, base, requests, FEW_CLIENTS, sizes.http_seconds, f"search-{name}"
            )
    finally:
        await children.stop_all()
    return {**figures, "database": database}


async def suite(stack: Stack, sizes: Sizes, n: int) -> None:
    runs = await repeat(n, lambda: measure(stack, sizes))
    judged = ("hangul_2_contains", "hangul_2_prefix", "latin_3_prefix", "latin_3_contains")
    checks = {
        **{f"{name} p99 <= 20 ms": within(median(runs, name, "p99_ms"), 20) for name in judged},
        **{
            f"{name} in the database p99 <= 20 ms": within(
                median(runs, "database", name, "lat_p99_ms"), 20
            )
            for name in judged
        },
    }
    results.write(
        "api_search",
        {
            "about": f"GET /users?query= (first page, 20 items) at {sizes.seed.users:,} users, "
            f"with {FEW_CLIENTS * LOAD_PROCESSES} clients over {LOAD_PROCESSES} load processes, "
            f"{sizes.http_seconds:g} s a query. Queries: "
            + ", ".join(f"{name} = {query!r}" for name, query in QUERIES.items())
            + ". baseline_profile: GET /users/{id} under the same load. database: each query's "
            f"first page from search_users on one connection, {DATABASE_SAMPLES} times in a row "
            "(lat_*_ms), and the tiers it came from; database.four_round_trips: four SELECT 1 "
            "in a row, the floor under those figures. The machine was shared with other work "
            "while measuring.",
            "target": "p99 <= 20 ms for a two-letter Hangul query and a three-letter Latin one",
            "verdict": verdict(checks),
            "runs": runs,
            "medians": medians(runs),
        },
    )
