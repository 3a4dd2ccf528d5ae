"""Profile a service under bench load with py-spy (`pip install -e '.[bench]'`).

    python -m bench.profile api-poll | api-page | gateway [--seconds S] [--sockets N] [--rate R]
    python -m bench.profile gateway-churn [--seconds S] [--sockets N]
    python -m bench.profile gateway-storm [--seconds S] [--sockets N]

Starts the service and the load as the benchmark does, records the service with py-spy for the
load's duration, and prints the hottest functions (self and total share of samples), also kept
in bench/results/profiles/<which>.txt; the raw collapsed stacks (flame-graph input) stay in
.data/bench/profiles/.

`--native` adds the C frames (uvloop, libuv, the kernel's calls) to the Python ones: py-spy then
stops the process for each sample, so the shares lean towards system calls; the summary goes
to <which>-native.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import shutil
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from bench import api, gateway
from bench.procs import Children, raise_open_files_limit, wait_http
from bench.results import RESULTS_DIR, command_line
from bench.seed import SeedSize, seed
from bench.stack import BENCH_DATA, Stack, bench_servers, ensure_database, new_jwt_secret
from tools.local_services import free_port

PROFILES = BENCH_DATA / "profiles"
SUMMARIES = RESULTS_DIR / "profiles"


NATIVE = False  # --native


async def record(pid: int, seconds: float, out: Path) -> None:
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    proc = await asyncio.create_subprocess_exec(
        spy,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--rate",
        "250",
        "--format",
        "raw",
        "--output",
        str(out),
        # Native frames can only be read from a stopped process.
        "--native" if NATIVE else "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await proc.wait()


def summarize(path: Path, top: int = 25) -> str:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        samples += n
        own[_short(frames[-1])] += n
        for frame in {_short(f) for f in frames}:
            total[frame] += n
    lines = [f"{path.name}: {samples} samples", "", "self %  | function"]
    lines += [f"{100 * n / samples:6.1f}  | {f}" for f, n in own.most_common(top)]
    lines += ["", "total % | function"]
    lines += [f"{100 * n / samples:6.1f}  | {f}" for f, n in total.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """`func (path/to/module.py:123)` -> `func (module.py)`."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.split(':')[0]).name})" if where else name


async def profile_api(stack: Stack, which: str, seconds: float) -> Path:
    children = Children(stack.log_dir)
    try:
        port = free_port()
        proc = await children.start(
            "api", ["-m", "services.api"], stack.service_env(API_PORT=str(port))
        )
        base = f"http://127.0.0.1:{port}"
        await wait_http(base + "/healthz", proc)
        tokens = api.tokens(stack, SeedSize().users)
        if which == "api-poll":
            since = quote(dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"))
            requests = await api.etags(base, f"/feed?since={since}", tokens)
        else:
            requests = [
                {"path": "/feed", "headers": {"Authorization": f"Bearer {t}"}} for t in tokens
            ]
        out = PROFILES / f"{which}.txt"
        load = asyncio.create_task(
            api.load(children, stack, base, requests, api.BUSY_CLIENTS, seconds + 4, which)
        )
        await asyncio.sleep(3)
        await record(proc.pid, seconds, out)
        print(await load)
        return out
    finally:
        await children.stop_all()


async def profile_gateway(stack: Stack, sockets: int, seconds: float, rate: float) -> Path:
    """`rate`: locations a second per socket (0.2 is the 5 s pace, 1 the throughput test)."""
    out = PROFILES / ("gateway.txt" if rate == 0.2 else f"gateway-{rate:g}-per-s.txt")

    async def watch(pids: list[int], phase_s: float) -> None:
        await asyncio.sleep(1)
        await record(pids[0], phase_s - 2, out)

    await stack.refresh()
    figures = await gateway.steady(
        stack, "gateway", 2, sockets, [("pace", rate, seconds)], 4, watch=watch
    )
    print({k: v for k, v in figures.items() if k != "pace"}, figures["pace"])
    return out


async def profile_churn(stack: Stack, sockets: int, seconds: float) -> Path:
    """One wave of `sockets` connects and closes; py-spy records from the start of the closes."""
    out = PROFILES / "gateway-churn-close.txt"

    async def watch_close(pid: int) -> None:
        await record(pid, seconds, out)

    await stack.refresh()
    figures = await gateway.churn(stack, "gateway", sockets, 1, 4, watch_close=watch_close)
    print(figures)
    return out


async def profile_storm(stack: Stack, sockets: int, seconds: float) -> Path:
    """The reconnect storm (`sockets` walkers an instance): py-spy records the survivor from the
    other instance's SIGTERM on, while the displaced walkers' handshakes arrive."""
    out = PROFILES / "gateway-storm-survivor.txt"

    async def watch_storm(pid: int) -> None:
        await record(pid, seconds, out)

    await stack.refresh()
    figures = await gateway.reconnect_storm(stack, sockets, 4, watch_storm=watch_storm)
    print({k: v for k, v in figures.items() if k not in ("survivor_counters", "close_codes")})
    return out


async def main_async(which: str, seconds: float, sockets: int, rate: float) -> None:
    raise_open_files_limit()
    PROFILES.mkdir(parents=True, exist_ok=True)
    with bench_servers() as (admin_url, redis_url):
        database_url = await ensure_database(admin_url)
        import asyncpg

        conn = await asyncpg.connect(database_url)
        try:
            await seed(conn, SeedSize())
        finally:
            await conn.close()
        stack = Stack(database_url, redis_url, new_jwt_secret(), BENCH_DATA / "logs")
        if which == "gateway":
            out = await profile_gateway(stack, sockets, seconds, rate)
        elif which == "gateway-churn":
            out = await profile_churn(stack, sockets, seconds)
        elif which == "gateway-storm":
            out = await profile_storm(stack, sockets, seconds)
        else:
            out = await profile_api(stack, which, seconds)
    summary = summarize(out)
    SUMMARIES.mkdir(parents=True, exist_ok=True)
    name = f"{out.stem}-native{out.suffix}" if NATIVE else out.name
    (SUMMARIES / name).write_text(f"$ {command_line()}\n{summary}\n")
    print(summary)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "which", choices=["api-poll", "api-page", "gateway", "gateway-churn", "gateway-storm"]
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--native", action="store_true", help="C frames too (stops the process)")
    args = parser.parse_args()
    global NATIVE
    NATIVE = args.native
    asyncio.run(main_async(args.which, args.seconds, args.sockets, args.rate))


if __name__ == "__main__":
    main()
