"""Gateway scenarios: memory per socket, latency at the real pace, throughput, churn.

Each runs the real gateway (`python -m services.realtime`, one process per instance) and, in the
same run, the bare relay (bench/bare_relay.py) under the same load. The load is split over
several ws_load processes (one process may hold at most 20,000 open files), each holding both
partners of its walks; with two instances, partner A connects to the first and partner B to the
second, so every location crosses Redis. The gateway does not report its GC pauses, so the
client-side maximum latency is the pause proxy: with a location in flight every fraction of a
millisecond, any stall of the gateway's event loop shows up in it.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.procs import Children, rss_mb, wait_http
from bench.results import percentiles
from bench.seed import invitation_id, user_id
from bench.stack import Stack
from shared.tokens import issue_token
from tools.local_services import free_port

TOKEN_TTL_S = 3600
PROBE_RATE_HZ = 1.5
SETTLE_S = 5.0  # after the last connect: hellos and presence traffic die down before measuring


@dataclass(frozen=True)
class Server:
    proc: asyncio.subprocess.Process
    port: int

    def url(self, walk: int, user: int, secret: str) -> str:
        token, _ = issue_token(
            secret, user_id(user), "access", TOKEN_TTL_S, session_id=uuid.uuid4()
        )
        return f"ws://127.0.0.1:{self.port}/ws/walk-together/{invitation_id(walk)}?token={token}"


async def start_servers(children: Children, stack: Stack, kind: str, count: int) -> list[Server]:
    """`count` gateway instances (kind "gateway") or bare relays (kind "bare")."""
    servers = []
    for i in range(count):
        port = free_port()
        module = "services.realtime" if kind == "gateway" else "bench.bare_relay"
        proc = await children.start(
            f"{kind}-{i}", ["-m", module], stack.service_env(REALTIME_PORT=str(port))
        )
        await wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        servers.append(Server(proc, port))
    await asyncio.sleep(1.0)  # let start-up allocations settle before the idle RSS
    return servers


class Loads:
    """The ws_load processes of one measurement, commanded together."""

    def __init__(self, procs: list[asyncio.subprocess.Process]) -> None:
        self.procs = procs

    async def command(self, line: str) -> list[dict[str, Any]]:
        async def one(proc: asyncio.subprocess.Process) -> dict[str, Any]:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(line.encode() + b"\n")
            await proc.stdin.drain()
            answer = await proc.stdout.readline()
            if not answer:
                raise RuntimeError(f"ws_load {proc.pid} died (see its log)")
            reply: dict[str, Any] = orjson.loads(answer)
            return reply

        return list(await asyncio.gather(*(one(p) for p in self.procs)))


async def start_loads(
    children: Children,
    stack: Stack,
    urls: list[str],
    processes: int,
    name: str,
    max_seconds: float,
) -> Loads:
    """Split `urls` (partners adjacent) over `processes` ws_load processes, pairs kept whole."""
    pairs = [urls[i : i + 2] for i in range(0, len(urls), 2)]
    procs = []
    job_dir = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    for p in range(processes):
        mine = [url for pair in pairs[p::processes] for url in pair]
        job = job_dir / f"{name}-{p}.json"
        job.write_bytes(orjson.dumps({"urls": mine, "concurrency": 50, "max_seconds": max_seconds}))
        procs.append(
            await children.start(
                f"ws_load-{name}-{p}",
                ["-m", "bench.ws_load", str(job)],
                stack.service_env(),
                pipes=True,
            )
        )
    return Loads(procs)


def walk_urls(servers: list[Server], walks: range, secret: str, *, cross: bool = True) -> list[str]:
    """Both partners of each walk: A (user 2k) on one server, B (2k+1) on the next when `cross`
    (the bare relay has no Redis, so its partners must share a process)."""
    urls = []
    for k in walks:
        first = servers[k % len(servers)]
        second = servers[(k + 1) % len(servers)] if cross else first
        urls += [first.url(k, 2 * k, secret), second.url(k, 2 * k + 1, secret)]
    return urls


def merge_connect(replies: list[dict[str, Any]]) -> dict[str, Any]:
    codes: dict[str, int] = {}
    for r in replies:
        for code, n in r["close_codes"].items():
            codes[code] = codes.get(code, 0) + n
    return {
        "connected": sum(r["connected"] for r in replies),
        "connect_failed": sum(r["failed"] for r in replies),
        "connect_s": max(r["connect_s"] for r in replies),
        **({"connect_close_codes": codes} if codes else {}),
    }


def merge_run(replies: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [v for r in replies for v in r["latencies_ms"]]
    codes: dict[str, int] = {}
    kinds: dict[str, int] = {}
    for r in replies:
        for code, n in r["close_codes"].items():
            codes[code] = codes.get(code, 0) + n
        for kind, n in r["kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + n
    sent = sum(r["sent"] for r in replies)
    delivered = sum(r["delivered"] for r in replies)
    seconds = max(r["seconds"] for r in replies)
    return {
        "sent": sent,
        "delivered": delivered,
        "delivered_ratio": round(delivered / sent, 5) if sent else None,
        "delivered_per_s": round(delivered / seconds) if seconds else None,
        **percentiles(latencies),
        "stall_max_ms": percentiles(latencies)["lat_max_ms"],
        "stalls_over_100ms_at_s": stall_times([s for r in replies for s in r["slow"]]),
        "send_errors": sum(r["send_errors"] for r in replies),
        "closed_sockets": codes,
        "frames_received": kinds,
    }


def stall_times(slow: list[tuple[float, float]], over_ms: float = 100.0) -> list[list[float]]:
    """Episodes of locations slower than `over_ms`: [sent at s, worst ms], one per 0.5 s window,
    so a stall that delays thousands of locations reads as one line (at most 20 listed)."""
    episodes: dict[int, float] = {}
    for sent_at, ms in slow:
        if ms > over_ms:
            window = int(sent_at * 2)
            episodes[window] = max(episodes.get(window, 0.0), ms)
    return [[w / 2, ms] for w, ms in sorted(episodes.items())][:20]


@asynccontextmanager
async def scenario(stack: Stack) -> AsyncIterator[Children]:
    children = Children(stack.log_dir)
    try:
        yield children
    finally:
        await children.stop_all()


async def steady(
    stack: Stack,
    kind: str,
    instances: int,
    sockets: int,
    phases: list[tuple[str, float, float]],
    load_processes: int,
    watch: Callable[[list[int], float], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Connect `sockets` walkers over `instances` servers, then run each (name, rate, seconds).

    `watch(pids, seconds)`, when given, runs beside each phase (bench/profile.py's profiler)."""
    walks = range(sockets // 2)
    budget = 120 + sum(seconds + 10 for _, _, seconds in phases)
    async with scenario(stack) as children:
        servers = await start_servers(children, stack, kind, instances)
        idle = [rss_mb(s.proc.pid) for s in servers]
        loads = await start_loads(
            children,
            stack,
            walk_urls(servers, walks, stack.jwt_secret, cross=kind == "gateway"),
            load_processes,
            kind,
            budget,
        )
        result: dict[str, Any] = {
            "sockets": sockets,
            "instances": instances,
            **merge_connect(await loads.command("connect")),
        }
        await asyncio.sleep(SETTLE_S)
        connected_rss = [rss_mb(s.proc.pid) for s in servers]
        per_socket = (
            [
                (after - before) * 1024 / (result["connected"] / instances)
                for before, after in zip(idle, connected_rss, strict=True)
            ]
            if result["connected"]
            else [0.0]
        )
        result.update(
            rss_mb_idle=[round(v, 1) for v in idle],
            rss_mb=[round(v, 1) for v in connected_rss],
            rss_per_socket_kib=round(max(per_socket), 2),
        )
        for name, rate, seconds in phases:
            watching = (
                asyncio.create_task(watch([s.proc.pid for s in servers], seconds))
                if watch
                else None
            )
            figures = merge_run(await loads.command(f"run {rate} {seconds}"))
            if watching is not None:
                await watching
            figures["interval_s"] = round(1 / rate, 3)
            figures["offered_per_s"] = round(rate * result["connected"])
            figures["rss_mb_after"] = [round(rss_mb(s.proc.pid), 1) for s in servers]
            result[name] = figures
        await loads.command("close")
    return result


async def churn(
    stack: Stack,
    kind: str,
    sockets: int,
    waves: int,
    load_processes: int,
    watch_close: Callable[[int], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """`waves` times: connect `sockets` walkers to one instance, then close them all.

    Meanwhile 100 probe walkers send 1.5 locations/s each (the gateway's rate limit allows 2/s),
    a location in flight every ~7 ms: their maximum latency is the pause proxy (a stall of the
    gateway during the connect and close storms). `watch_close(pid)`, when given, runs beside
    each close storm (bench/profile.py's profiler).
    """
    probe_walks = range(sockets // 2, sockets // 2 + 50)
    async with scenario(stack) as children:
        (server,) = await start_servers(children, stack, kind, 1)
        idle = rss_mb(server.proc.pid)
        loads = await start_loads(
            children,
            stack,
            walk_urls([server], range(sockets // 2), stack.jwt_secret),
            load_processes,
            f"{kind}-churn",
            120 + waves * 90,
        )
        probes = await start_loads(
            children,
            stack,
            walk_urls([server], probe_walks, stack.jwt_secret),
            1,
            f"{kind}-probe",
            120 + waves * 90,
        )
        await probes.command("connect")
        rss_after: list[float] = []
        rss_peak: list[float] = []
        connect_s: list[float] = []
        stalls: list[dict[str, Any]] = []
        timelines: list[dict[str, Any]] = []
        for _ in range(waves):
            await probes.command(f"start {PROBE_RATE_HZ}")
            started = time.monotonic()
            connected = merge_connect(await loads.command("connect"))
            connected_at = time.monotonic() - started
            connect_s.append(connected["connect_s"])
            rss_peak.append(round(rss_mb(server.proc.pid), 1))
            watching = asyncio.create_task(watch_close(server.proc.pid)) if watch_close else None
            await loads.command("close")
            if watching is not None:
                await watching
            closed_at = time.monotonic() - started
            await asyncio.sleep(2.0)
            stalls.append(merge_run(await probes.command("stop")))
            rss_after.append(round(rss_mb(server.proc.pid), 1))
            # Seconds into the wave, on the probes' clock (give or take a command's round trip):
            # a stall between connected_at and closed_at is the close storm's, before it the
            # connect storm's.
            timelines.append(
                {
                    "connected_at_s": round(connected_at, 2),
                    "closed_at_s": round(closed_at, 2),
                    "stalls_over_100ms_at_s": stalls[-1]["stalls_over_100ms_at_s"],
                }
            )
        await probes.command("close")
    first = rss_after[0]
    return {
        "sockets_per_wave": sockets,
        "waves": waves,
        "rss_mb_idle": round(idle, 1),
        "rss_mb_connected": rss_peak,
        "rss_mb_after_wave": rss_after,
        "rss_growth_after_first_pct": round((max(rss_after) - first) / first * 100, 1),
        "connect_s": connect_s,
        "probe_lat_p99_ms": max(s["lat_p99_ms"] or 0 for s in stalls),
        "gc_pause_max_ms": max(s["lat_max_ms"] or 0 for s in stalls),
        "probe_stalls": timelines,
    }
