"""`GET /me/export` of the contract's heaviest account: 1,000 walks of 2,000 points each
(targets: peak RSS < 64 MB above idle, < 10 s to the last byte).

Runs on its own database (`withbowwow_bench_export`), built once per run: the account's 1,000
walks (half with their times as ISO strings, half as epoch seconds, the two forms a phone may
send), 1,000 notifications, 10 dogs, and a small second account that warms the API up. One API
process (LOG_LEVEL=WARNING); the client streams the archive to a file, then checks it (every
walk's GPX present, one read back). Memory: the API's RSS idle after the warm-up, and its peak
while exporting, from the kernel's high-water mark (VmHWM, reset before the export through
/proc/<pid>/clear_refs) and from psutil sampled every 10 ms, whichever is higher. A probe asks
`/healthz` every 50 ms meanwhile: its slowest answer shows how long the event loop was held.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil

from bench import results
from bench.figures import Sizes, median, medians, repeat, verdict, within
from bench.procs import Children, wait_http
from bench.stack import BENCH_DATA, Stack, ensure_database
from shared.tokens import issue_token
from tools.local_services import free_port

DATABASE = "withbowwow_bench_export"
POINTS, NOTIFICATIONS, DOGS = 2_000, 1_000, 10
CHUNK = 1 << 16


async def build_account(conn: asyncpg.Connection, walks: int) -> tuple[uuid.UUID, uuid.UUID]:
    """The heavy account and a small one; every earlier account is gone first."""
    await conn.execute("TRUNCATE users CASCADE")
    heavy, small = uuid.uuid4(), uuid.uuid4()
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO users (id, email, password_hash, nickname)
               VALUES ($1, $2, 'not a hash', $3)""",
            [
                (heavy, f"{heavy}@bench.invalid", "무거운 산책러"),
                (small, f"{small}@bench.invalid", "s"),
            ],
        )
        # A ~5 km loop of POINTS points, 2 s apart; each walk 8 hours before the next.
        await conn.execute(
            f"""INSERT INTO walks
                       (user_id, started_at, ended_at, distance_m, memo, path, created_at)
                SELECT $1, t, t + interval '2 seconds' * {POINTS}, 5000, 'walk ' || i,
                       (SELECT jsonb_agg(jsonb_build_object(
                                   'lat', 37.5665 + 0.006 * sin(2 * pi() * k / {POINTS}) + i * 1e-6,
                                   'lng', 126.978 + 0.012 * (1 - cos(2 * pi() * k / {POINTS})),
                                   't', CASE WHEN i % 2 = 0
                                        THEN to_jsonb(to_char((t + interval '2 seconds' * k)
                                                              AT TIME ZONE 'UTC',
                                                              'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))
                                        ELSE to_jsonb(extract(epoch FROM t)::bigint + 2 * k) END)
                               ORDER BY k)
                          FROM generate_series(0, {POINTS} - 1) AS k),
                       t
                  FROM generate_series(0, $2 - 1) AS i,
                       LATERAL (SELECT date_trunc('second', now()) - interval '8 hours' * i
                                AS t) ts""",
            heavy,
            walks,
        )
        await conn.execute(
            """INSERT INTO dogs (owner_id, name, breed)
               SELECT $1, 'dog ' || i, 'jindo' FROM generate_series(1, $2) AS i""",
            heavy,
            DOGS,
        )
        await conn.execute(
            """INSERT INTO notifications (user_id, type, data, push_state)
               SELECT $1, 'badge_earned', jsonb_build_object('code', 'first_walk'), 'sent'
               FROM generate_series(1, $2)""",
            heavy,
            NOTIFICATIONS,
        )
        await conn.execute(
            """INSERT INTO walks (user_id, started_at, ended_at, distance_m, path)
               VALUES ($1, now() - interval '1 hour', now(), 100,
                       '[{"t": 1764000000, "lat": 37.5, "lng": 127.0}]')""",
            small,
        )
    return heavy, small


def _peak_rss_mb(pid: int) -> float | None:
    """The kernel's RSS high-water mark of `pid` (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def _reset_peak_rss(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def _export(
    session: aiohttp.ClientSession, url: str, token: str, into: Path
) -> dict[str, float]:
    started = time.perf_counter()
    first_byte = None
    size = 0
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        if resp.status != 200:
            raise RuntimeError(f"GET /me/export answered {resp.status}: {await resp.text()}")
        with into.open("wb") as out:
            async for chunk in resp.content.iter_chunked(CHUNK):
                if first_byte is None:
                    first_byte = time.perf_counter()
                out.write(chunk)
                size += len(chunk)
    ended = time.perf_counter()
    return {
        "total_s": round(ended - started, 2),
        "first_byte_ms": round(((first_byte or ended) - started) * 1000, 1),
        "archive_mb": round(size / 2**20, 1),
    }


def _check_archive(path: Path, walks: int) -> dict[str, int]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        gpx = [n for n in names if n.endswith(".gpx")]
        points = archive.read(gpx[0]).count(b"<trkpt ")
    if len(gpx) != walks or points != POINTS:
        raise RuntimeError(f"the archive holds {len(gpx)} GPX files, the first {points} points")
    return {"entries": len(names), "gpx_files": len(gpx), "points_in_a_gpx": points}


async def measure(stack: Stack, database_url: str, walks: int) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        built = time.monotonic()
        heavy, small = await build_account(conn, walks)
        build_s = time.monotonic() - built
    finally:
        await conn.close()
    children = Children(stack.log_dir)
    archive = BENCH_DATA / "export.zip"
    try:
        port = free_port()
        env = stack.service_env(API_PORT=str(port), DATABASE_URL=database_url)
        api = await children.start("api-export", ["-m", "services.api"], env)
        base = f"http://127.0.0.1:{port}"
        await wait_http(base + "/healthz", api)
        process = psutil.Process(api.pid)
        async with aiohttp.ClientSession() as session:
            warm_token, _ = issue_token(
                stack.jwt_secret, small, "access", 3600, session_id=uuid.uuid4()
            )
            await _export(session, f"{base}/me/export", warm_token, archive)
            await asyncio.sleep(1.0)
            idle_mb = process.memory_info().rss / 2**20
            hwm_reset = _reset_peak_rss(api.pid)
            sampled_peak = idle_mb
            healthz_max_ms = 0.0
            done = asyncio.Event()

            async def sample() -> None:
                nonlocal sampled_peak
                while not done.is_set():
                    sampled_peak = max(sampled_peak, process.memory_info().rss / 2**20)
                    await asyncio.sleep(0.01)

            async def probe() -> None:
                nonlocal healthz_max_ms
                while not done.is_set():
                    asked = time.perf_counter()
                    async with session.get(base + "/healthz") as resp:
                        await resp.read()
                    healthz_max_ms = max(healthz_max_ms, (time.perf_counter() - asked) * 1000)
                    await asyncio.sleep(0.05)

            watchers = [asyncio.create_task(sample()), asyncio.create_task(probe())]
            token, _ = issue_token(stack.jwt_secret, heavy, "access", 3600, session_id=uuid.uuid4())
            try:
                run = await _export(session, f"{base}/me/export", token, archive)
            finally:
                done.set()
                await asyncio.gather(*watchers)
            kernel_peak = _peak_rss_mb(api.pid) if hwm_reset else None
    finally:
        await children.stop_all()
    peak_mb = max(sampled_peak, kernel_peak or 0.0)
    checked = _check_archive(archive, walks)
    archive.unlink()
    return {
        "account_built_s": round(build_s, 1),
        **run,
        "idle_rss_mb": round(idle_mb, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "peak_above_idle_mb": round(peak_mb - idle_mb, 1),
        "peak_from": "VmHWM" if kernel_peak and kernel_peak >= sampled_peak else "sampled",
        "healthz_max_ms": round(healthz_max_ms, 1),
        **checked,
    }


async def suite(stack: Stack, sizes: Sizes, n: int, admin_url: str) -> None:
    database_url = await ensure_database(admin_url, DATABASE)
    walks = sizes.export_walks
    runs = await repeat(n, lambda: measure(stack, database_url, walks))
    results.write(
        "api_export",
        {
            "about": f"GET /me/export of an account with {walks:,} walks of {POINTS:,} points "
            f"(half the times ISO strings, half epoch seconds), {NOTIFICATIONS:,} "
            f"notifications and {DOGS} dogs, on its own database; one API process at "
            "LOG_LEVEL=WARNING, the client writing the archive to a file. total_s: request to "
            "last byte; first_byte_ms: to the first byte of the body. idle_rss_mb: the API "
            "after a warm-up export of a small account; peak_rss_mb: the higher of the "
            "kernel's high-water mark (VmHWM, reset before the export) and psutil sampled "
            "every 10 ms. healthz_max_ms: the slowest /healthz of a probe asking every 50 ms "
            "during the export (how long the event loop was held). The machine was shared "
            "with other engineers' test suites while measuring.",
            "target": "peak RSS < 64 MB above idle; < 10 s",
            "verdict": verdict(
                {
                    "< 64 MB above idle": within(median(runs, "peak_above_idle_mb"), 63.999),
                    "< 10 s": within(median(runs, "total_s"), 9.999),
                }
            ),
            "runs": runs,
            "medians": medians(runs),
        },
    )
