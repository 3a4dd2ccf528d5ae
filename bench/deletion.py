"""Deleting a heavy account (`DELETE /me`) on the seeded database, with others' requests running.

The account (written straight into the database, fresh each run): 1,000 walks, 10,000 likes
received (and the 10,000 `walk_liked` notifications they made), 500 followers, 50 followees,
200 likes and 100 comments on those followees' walks, two devices, three badges. While it is
deleted, probes send one request after another and record how long each took:

- `feed_poll` / `feed_page`: a follower of the account polls and reads the feed;
- `like_shared_walk`: another user likes and unlikes a walk the account liked and commented on
  (the row whose counters the deletion must change: the worst case for a lock wait);
- `like_other_walk`: the same on a walk the account never touched.

A sampler reads `pg_stat_activity` every 5 ms for backends waiting on a lock, so the longest
lock wait is seen in PostgreSQL itself, not only as a slower response.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
import asyncpg

from bench import results
from bench.figures import Sizes, median, medians, repeat, verdict, within
from bench.procs import Children, wait_http
from bench.seed import user_id
from bench.stack import Stack
from services.api.accounts.passwords import hash_password, verify_password
from shared.tokens import issue_token
from tools.local_services import free_port

PASSWORD = "bench: delete me"
WALKS, LIKES_PER_WALK, FOLLOWERS, FOLLOWING = 1_000, 10, 500, 50
LIKES_GIVEN, COMMENTS_GIVEN = 200, 100
# Probes run this long before the deletion (their baseline) and after it.
MARGIN_S = 1.0
SAMPLE_S = 0.005


async def build_account(
    conn: asyncpg.Connection, users: int, password_hash: str
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Write the heavy account; its id and the ids of the followees' walks it liked."""
    account = uuid.uuid4()
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO users (id, email, password_hash, nickname)
               VALUES ($1, $2, $3, '무거운 산책러')""",
            account,
            f"{account}@bench.example.com",
            password_hash,
        )
        await conn.execute(
            """INSERT INTO walks (user_id, started_at, ended_at, distance_m, memo, like_count,
                                  created_at, updated_at)
               SELECT $1, t - interval '40 minutes', t, 1000 + i, 'heavy ' || i, $3, t, t
               FROM generate_series(0, $2 - 1) AS i,
                    LATERAL (SELECT now() - interval '8 hours' * i AS t) AS ts""",
            account,
            WALKS,
            LIKES_PER_WALK,
        )
        await conn.execute(
            """INSERT INTO likes (walk_id, user_id)
               SELECT w.id, md5('bench-user-' || ((w.n * $3 + k) % $2))::uuid
               FROM (SELECT id, row_number() OVER (ORDER BY id) AS n
                     FROM walks WHERE user_id = $1) AS w,
                    generate_series(0, $3 - 1) AS k""",
            account,
            users,
            LIKES_PER_WALK,
        )
        await conn.execute(
            """INSERT INTO notifications (user_id, type, actor_id, data, push_state)
               SELECT $1, 'walk_liked', l.user_id, jsonb_build_object('walk_id', l.walk_id), 'sent'
               FROM likes l JOIN walks w ON w.id = l.walk_id WHERE w.user_id = $1""",
            account,
        )
        await conn.execute(
            """INSERT INTO follows (follower_id, followee_id)
               SELECT md5('bench-user-' || (k * 197) % $2)::uuid, $1
               FROM generate_series(0, $3 - 1) AS k""",
            account,
            users,
            FOLLOWERS,
        )
        await conn.execute(
            """INSERT INTO notifications (user_id, type, actor_id, data, push_state)
               SELECT $1, 'followed', f.follower_id,
                      jsonb_build_object('follower_id', f.follower_id), 'sent'
               FROM follows f WHERE f.followee_id = $1""",
            account,
        )
        await conn.execute(
            """INSERT INTO follows (follower_id, followee_id)
               SELECT $1, md5('bench-user-' || (k * 1999 + 7) % $2)::uuid
               FROM generate_series(0, $3 - 1) AS k""",
            account,
            users,
            FOLLOWING,
        )
        liked = [
            row["id"]
            for row in await conn.fetch(
                """SELECT w.id FROM walks w JOIN follows f ON f.followee_id = w.user_id
                   WHERE f.follower_id = $1 AND w.visibility = 'public'
                   ORDER BY w.id LIMIT $2""",
                account,
                LIKES_GIVEN,
            )
        ]
        await conn.execute(
            """INSERT INTO likes (walk_id, user_id) SELECT unnest($2::uuid[]), $1""",
            account,
            liked,
        )
        await conn.execute(
            """INSERT INTO comments (walk_id, user_id, body)
               SELECT unnest($2::uuid[]), $1, '같이 걸어요'""",
            account,
            liked[:COMMENTS_GIVEN],
        )
        await conn.execute(
            """UPDATE walks SET like_count = like_count + 1,
                                comment_count = comment_count + (id = ANY($2::uuid[]))::int
               WHERE id = ANY($1::uuid[])""",
            liked,
            liked[:COMMENTS_GIVEN],
        )
        await conn.execute(
            """INSERT INTO notifications (user_id, type, actor_id, data, push_state)
               SELECT w.user_id, 'walk_liked', $1, jsonb_build_object('walk_id', w.id), 'sent'
               FROM walks w WHERE w.id = ANY($2::uuid[])""",
            account,
            liked,
        )
        await conn.execute(
            """INSERT INTO devices (token, user_id, platform)
               VALUES ($2, $1, 'ios'), ($3, $1, 'android')""",
            account,
            f"{account}-phone",
            f"{account}-tablet",
        )
        await conn.execute(
            """INSERT INTO badges (user_id, code)
               SELECT $1, unnest(ARRAY['first_walk', 'walks_10', 'walks_100'])""",
            account,
        )
    return account, liked


async def untouched_walk(conn: asyncpg.Connection, account: uuid.UUID) -> uuid.UUID:
    """A public walk the account neither owns, liked nor commented on."""
    walk_id: uuid.UUID = await conn.fetchval(
        """SELECT w.id FROM walks w
           WHERE w.visibility = 'public' AND w.user_id <> $1
             AND NOT EXISTS (SELECT 1 FROM likes l WHERE l.walk_id = w.id AND l.user_id = $1)
           ORDER BY w.created_at DESC LIMIT 1""",
        account,
    )
    return walk_id


class Probe:
    """One request after another until stopped; each one's start and latency."""

    def __init__(self, name: str, requests: list[tuple[str, str]], token: str) -> None:
        self.name = name
        self.requests = requests  # (method, path), in turn
        self.headers = {"Authorization": f"Bearer {token}"}
        self.samples: list[tuple[float, float]] = []
        self.statuses: dict[str, int] = {}
        self.stopped = asyncio.Event()

    async def run(self, session: aiohttp.ClientSession, base: str) -> None:
        turn = 0
        while not self.stopped.is_set():
            method, path = self.requests[turn % len(self.requests)]
            turn += 1
            started = time.monotonic()
            async with session.request(method, base + path, headers=self.headers) as resp:
                await resp.read()
                key = str(resp.status)
                self.statuses[key] = self.statuses.get(key, 0) + 1
            self.samples.append((started, (time.monotonic() - started) * 1000))

    def report(self, window: tuple[float, float]) -> dict[str, Any]:
        """Latencies of the requests that overlapped the deletion, beside those before it."""
        start, end = window
        during = [ms for at, ms in self.samples if at <= end and at + ms / 1000 >= start]
        before = [ms for at, ms in self.samples if at + ms / 1000 < start]
        return {
            "requests_during": len(during),
            "max_ms_during": round(max(during), 1) if during else None,
            "max_ms_before": round(max(before), 1) if before else None,
            "p50_ms_before": results.percentiles(before)["lat_p50_ms"],
            "status_counts": self.statuses,
        }


async def sample_lock_waits(dsn: str, stop: asyncio.Event) -> dict[str, Any]:
    """The longest wait on a lock that any backend was seen in, and its query."""
    conn = await asyncpg.connect(dsn)
    longest: dict[str, Any] = {"ms": 0.0, "query": None}
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                """SELECT extract(epoch FROM clock_timestamp() - state_change) * 1000 AS ms,
                          left(query, 120) AS query
                   FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'"""
            )
            for row in rows:
                if row["ms"] > longest["ms"]:
                    longest = {"ms": round(float(row["ms"]), 1), "query": row["query"]}
            await asyncio.sleep(SAMPLE_S)
    finally:
        await conn.close()
    return longest


async def measure(stack: Stack, sizes: Sizes) -> dict[str, Any]:
    users = sizes.seed.users
    conn = await asyncpg.connect(stack.database_url)
    try:
        password_hash = await hash_password(PASSWORD)
        built = time.monotonic()
        account, liked = await build_account(conn, users, password_hash)
        build_s = time.monotonic() - built
        other_walk = await untouched_walk(conn, account)
        await conn.execute("VACUUM ANALYZE walks, likes, comments, notifications, follows")
    finally:
        await conn.close()

    def token(user: uuid.UUID) -> str:
        return issue_token(stack.jwt_secret, user, "access", 3600, session_id=uuid.uuid4())[0]

    follower, liker = user_id(0), user_id(users // 2 + 1)
    probes = [
        Probe("feed_poll", [("GET", "/feed?since=2026-01-01T00:00:00%2B00:00")], token(follower)),
        Probe("feed_page", [("GET", "/feed")], token(follower)),
        Probe(
            "like_shared_walk",
            [("POST", f"/walks/{liked[0]}/likes"), ("DELETE", f"/walks/{liked[0]}/likes")],
            token(liker),
        ),
        Probe(
            "like_other_walk",
            [("POST", f"/walks/{other_walk}/likes"), ("DELETE", f"/walks/{other_walk}/likes")],
            token(liker),
        ),
    ]
    children = Children(stack.log_dir)
    try:
        port = free_port()
        api = await children.start(
            "api", ["-m", "services.api"], stack.service_env(API_PORT=str(port))
        )
        base = f"http://127.0.0.1:{port}"
        await wait_http(base + "/healthz", api)
        stop_sampling = asyncio.Event()
        async with aiohttp.ClientSession() as session:
            sampler = asyncio.create_task(sample_lock_waits(stack.database_url, stop_sampling))
            running = [asyncio.create_task(p.run(session, base)) for p in probes]
            await asyncio.sleep(MARGIN_S)
            started = time.monotonic()
            async with session.delete(
                base + "/me",
                json={"password": PASSWORD},
                headers={"Authorization": f"Bearer {token(account)}"},
            ) as resp:
                status = resp.status
            ended = time.monotonic()
            await asyncio.sleep(MARGIN_S)
            for probe in probes:
                probe.stopped.set()
            await asyncio.gather(*running)
            stop_sampling.set()
            lock_wait = await sampler
    finally:
        await children.stop_all()
    if status != 204:
        raise RuntimeError(f"DELETE /me answered {status}")
    window = (started, ended)
    checked = time.monotonic()
    await verify_password(password_hash, PASSWORD)
    return {
        "account_built_s": round(build_s, 1),
        "delete_ms": round((ended - started) * 1000, 1),
        # What the request spent before its transaction, on this machine at this moment.
        "argon2_check_ms": round((time.monotonic() - checked) * 1000, 1),
        "longest_lock_wait_ms": lock_wait["ms"],
        "longest_lock_wait_query": lock_wait["query"],
        **{probe.name: probe.report(window) for probe in probes},
    }


async def suite(stack: Stack, sizes: Sizes, n: int) -> None:
    runs = await repeat(n, lambda: measure(stack, sizes))
    # How much longer than before the deletion the slowest request of each probe took.
    worst_extra = max(
        (run[name]["max_ms_during"] or 0.0) - (run[name]["max_ms_before"] or 0.0)
        for run in runs
        for name in ("feed_poll", "feed_page", "like_shared_walk", "like_other_walk")
    )
    results.write(
        "api_account_deletion",
        {
            "about": f"DELETE /me of an account with {WALKS:,} walks, "
            f"{WALKS * LIKES_PER_WALK:,} likes received (and as many notifications), "
            f"{FOLLOWERS} followers, {FOLLOWING} followees, {LIKES_GIVEN} likes and "
            f"{COMMENTS_GIVEN} comments given, on the seed ({sizes.seed.users:,} users, "
            f"{sizes.seed.walks:,} walks). delete_ms: the request, argon2 check included "
            "(argon2_check_ms: the same check alone, right after, on the loaded machine). "
            "Probes, one request after another during the deletion: a follower's feed poll and "
            "feed page; another user liking/unliking a walk the account liked and commented on "
            "(like_shared_walk) and one it never touched (like_other_walk). "
            "longest_lock_wait_ms: the longest lock wait seen in pg_stat_activity (sampled "
            "every 5 ms). The machine was shared with other work while measuring.",
            "target": "deletion < 2 s; no other request waits on its locks > 100 ms",
            "verdict": verdict(
                {
                    "deletion < 2 s": within(median(runs, "delete_ms"), 2000),
                    "lock wait <= 100 ms": within(
                        max(run["longest_lock_wait_ms"] for run in runs), 100
                    ),
                    "probes' slowest request <= 100 ms over their own before": within(
                        worst_extra, 100
                    ),
                }
            ),
            "runs": runs,
            "medians": medians(runs),
        },
    )
