"""Gateway scenarios: memory per socket, latency at the real pace, throughput, churn, storms.

Each runs the real gateway (`python -m services.realtime`, one process per instance) and, in the
same run (but for the storms), the bare relay (bench/bare_relay.py) under the same load. The load
is split over several ws_load processes (one process may hold at most 20,000 open files), each
holding both partners of its walks; with two instances, partner A connects to the first and
partner B to the second, so every location crosses Redis. The gateway does not report its GC
pauses, so the client-side maximum latency is the pause proxy: with a location in flight every
fraction of a millisecond, any stall of the gateway's event loop shows up in it. Beside each
phase, bench/observe.py records the CPU every process used, the gateway's own counters and
Redis's pub/sub connections.

The load generator is bench/ws_load_node/ws_load.js (Node.js) where node and its packages are
installed, else bench/ws_load.py: the same protocol on stdin/stdout. BENCH_LOAD=python or node
chooses; every point records which ran (`load_generator`).

The peers (bench/peers.py: Socket.IO with its Redis adapter, the seed note's FastAPI handler) run
through the same functions, as server kinds "socketio" and "seed".
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from bench import peers
from bench.observe import CpuMeter, ServerCounters, listen_overflows, redis_pid
from bench.procs import ROOT, Children, rss_mb, wait_http
from bench.results import percentiles
from bench.seed import invitation_id, user_id
from bench.stack import Stack
from shared.tokens import issue_token
from tools.local_services import free_port

TOKEN_TTL_S = 3600
PROBE_RATE_HZ = 1.5
PACE_HZ = 0.2  # the protocol's `interval_s`: a location every 5 s
SETTLE_S = 5.0  # after the last connect: hellos and presence traffic die down before measuring
CLOSE_TAIL_S = 2.0  # the close window lasts this long after the last close returned
READMIT_TIMEOUT_S = 60.0
# The idle CPU window (every socket connected, none sending): longer than Socket.IO's 25 s ping
# interval and the gateway's 30 s heartbeat after silence, so each server's keep-alive is in it.
IDLE_S = 30.0
NODE_LOAD = ROOT / "bench" / "ws_load_node"


# Children.start runs Python: this one replaces itself with node (same pid, so the CPU meter and
# the parent-death signal still hold for it).
@dataclass(frozen=True)
class Server:
    name: str
    proc: asyncio.subprocess.Process
    port: int
    metrics_port: int | None  # the gateway's internal listener (the others have none)
    kind: str = "gateway"

    def url(self, path: str) -> str:
        """A walker's URL on this server, from its gateway path (walker_path)."""
        if self.kind == "socketio":
            return peers.socketio_url(self.port, path)
        return f"ws://127.0.0.1:{self.port}{path}"


def walker_path(walk: int, user: int, secret: str) -> str:
    """A walker's path and query: its walk and a token of its own (kept on reconnects)."""
    token, _ = issue_token(secret, user_id(user), "access", TOKEN_TTL_S, session_id=uuid.uuid4())
    return f"/ws/walk-together/{invitation_id(walk)}?token={token}"


async def start_servers(children: Children, stack: Stack, kind: str, count: int) -> list[Server]:
    """`count` gateway instances (kind "gateway"), bare relays ("bare") or instances of a peer
    ("socketio", "seed")."""
    servers = []
    for i in range(count):
        port = free_port()
        metrics_port = free_port() if kind == "gateway" else None
        if kind in ("gateway", "bare"):
            module = "services.realtime" if kind == "gateway" else "bench.bare_relay"
            program, args = sys.executable, ["-m", module]
            env = stack.service_env(REALTIME_PORT=str(port))
        else:
            program, args, env = peers.server_command(kind, stack, port)
        if metrics_port is not None:
            env["REALTIME_METRICS_PORT"] = str(metrics_port)
        proc = await children.start(f"{kind}-{i}", args, env, program=program)
        await wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        servers.append(Server(f"{kind}-{i}", proc, port, metrics_port, kind))
    await asyncio.sleep(1.0)  # let start-up allocations settle before the idle RSS
    return servers


class Loads:
    """The ws_load processes of one measurement, commanded together."""

    def __init__(self, procs: list[asyncio.subprocess.Process], generator: str) -> None:
        self.procs = procs
        self.generator = generator  # "node" or "python"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

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


def load_command(max_seconds: float, kind: str = "gateway") -> tuple[str, str, list[str]]:
    """Which load generator runs ("python" or "node"), its program and its arguments:
    BENCH_LOAD when set, else the Python one. The Node port (`make bench-gateway` installs its
    packages) costs the same CPU a frame, so it moves no figure (bench/RESULTS.md, "A lighter
    load generator"); it stays to check that claim again. The Socket.IO peer has its own
    (node, socket.io-client)."""
    own = peers.load_program(kind)
    if own is not None:
        program, args = own
        return "node+socket.io-client", program, [*args, str(max_seconds)]
    node = shutil.which("node")
    node_ready = node is not None and all(
        (NODE_LOAD / "node_modules" / package).is_dir() for package in ("ws", "bufferutil")
    )
    choice = os.environ.get("BENCH_LOAD") or "python"
    if choice == "python":
        return choice, sys.executable, ["-m", "bench.ws_load", str(max_seconds)]
    if choice != "node":
        raise ValueError(f"BENCH_LOAD={choice!r}: python or node")
    if node is None or not node_ready:
        raise RuntimeError(
            "BENCH_LOAD=node: node or bench/ws_load_node/node_modules is missing "
            "(make bench-gateway installs them)"
        )
    return choice, node, [str(NODE_LOAD / "ws_load.js"), str(max_seconds)]


async def start_loads(
    children: Children,
    stack: Stack,
    urls: list[str],
    processes: int,
    name: str,
    max_seconds: float,
    fallbacks: list[str] | None = None,
    kind: str = "gateway",
) -> Loads:
    """Split `urls` (partners adjacent; `fallbacks`, when given, aligned with them) over
    `processes` ws_load processes, pairs kept whole, speaking to servers of `kind`. The job goes
    down each process's stdin: its URLs carry tokens, which stay off the disk."""
    generator, program, args = load_command(max_seconds, kind)
    procs = []
    for p in range(processes):
        mine = [i for pair in range(p, len(urls) // 2, processes) for i in (2 * pair, 2 * pair + 1)]
        job = {
            "urls": [urls[i] for i in mine],
            "fallbacks": [fallbacks[i] for i in mine] if fallbacks else None,
            "concurrency": 50,
            # The seed's handler says no hello: the open is the walker's admission.
            "hello": kind != "seed",
        }
        proc = await children.start(
            f"ws_load-{name}-{p}", args, stack.service_env(), pipes=True, program=program
        )
        assert proc.stdin is not None
        proc.stdin.write(orjson.dumps(job) + b"\n")
        await proc.stdin.drain()
        procs.append(proc)
    return Loads(procs, generator)


def walk_urls(servers: list[Server], walks: range, secret: str, *, cross: bool = True) -> list[str]:
    """Both partners of each walk: A (user 2k) on one server, B (2k+1) on the next when `cross`
    (the bare relay and the seed have no Redis, so their partners must share a process)."""
    urls = []
    for k in walks:
        first = servers[k % len(servers)]
        second = servers[(k + 1) % len(servers)] if cross else first
        urls += [
            first.url(walker_path(k, 2 * k, secret)),
            second.url(walker_path(k, 2 * k + 1, secret)),
        ]
    return urls


def cpu_groups(servers: list[Server], loads: Sequence[Loads], redis: int) -> dict[str, list[int]]:
    """What a phase's CPU share is reported for: the load generators together, each server,
    Redis."""
    return {
        "load": [pid for group in loads for pid in group.pids],
        **{s.name: [s.proc.pid] for s in servers},
        "redis": [redis],
    }


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
    latency = percentiles(latencies)
    return {
        "sent": sent,
        "delivered": delivered,
        "delivered_ratio": round(delivered / sent, 5) if sent else None,
        "delivered_per_s": round(delivered / seconds) if seconds else None,
        **latency,
        **percentiles([v for r in replies for v in r["ages_ms"]], "newest_age"),
        "stall_max_ms": latency["lat_max_ms"],
        "stalls_over_100ms_at_s": stall_times([s for r in replies for s in r["slow"]]),
        "send_errors": sum(r["send_errors"] for r in replies),
        "closed_sockets": codes,
        "frames_received": kinds,
    }


def merge_readmit(replies: list[dict[str, Any]], stopped_at: float) -> dict[str, Any]:
    """The displaced walkers' reconnects; times in seconds after `stopped_at` (monotonic)."""

    def after_stop(stamps: list[float | None], pick: Callable[[list[float]], float]) -> Any:
        known = [t for t in stamps if t is not None]
        return round(pick(known) - stopped_at, 3) if known else None

    walkers = sum(r["walkers"] for r in replies)
    readmitted = sum(r["readmitted"] for r in replies)
    last = after_stop([r["readmitted_last_at"] for r in replies], max)
    lags = [v for r in replies for v in r.get("reconnect_lags_ms", [])]
    codes: dict[str, int] = {}
    for r in replies:
        for code, n in r["close_codes"].items():
            codes[code] = codes.get(code, 0) + n
    return {
        "walkers": walkers,
        "displaced": sum(r["displaced"] for r in replies),
        "readmitted": readmitted,
        # None unless every displaced walker came back (within READMIT_TIMEOUT_S).
        "readmitted_s": last if readmitted == walkers else None,
        "last_readmitted_s": last,
        "first_displaced_s": after_stop([r["displaced_first_at"] for r in replies], min),
        **percentiles([v for r in replies for v in r["handshakes_ms"]], "handshake"),
        # How late the load generator's own loop started the attempts (null if it does not say).
        **percentiles(lags, "load_lag"),
        "attempts": sum(r["attempts"] for r in replies),
        "failed_attempts": sum(r["failed_attempts"] for r in replies),
        "attempts_max": max(r["attempts_max"] for r in replies),
        "close_codes": codes,
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


async def phase(
    stack: Stack,
    servers: list[Server],
    loads: Loads,
    rate: float,
    seconds: float,
    watch: Callable[[list[int], float], Coroutine[Any, Any, None]] | None,
) -> dict[str, Any]:
    """Every socket sends `rate` a second for `seconds`: the load's figures, the CPU share of
    every process over the sending, and (gateway) its counters and Redis's pub/sub over the
    phase and its grace."""
    ports = {s.name: s.metrics_port for s in servers if s.metrics_port is not None}
    counters = await ServerCounters(stack.redis_url, ports, pubsub=True).begin() if ports else None
    cpu = CpuMeter(cpu_groups(servers, [loads], await redis_pid(stack.redis_url)))
    await loads.command(f"start {rate}")
    watching = asyncio.create_task(watch([s.proc.pid for s in servers], seconds)) if watch else None
    await asyncio.sleep(seconds)
    cpu_share = cpu.share()
    figures = merge_run(await loads.command("stop"))
    if watching is not None:
        await watching
    figures["cpu_share"] = cpu_share
    figures["load_generator"] = loads.generator
    if counters is not None:
        figures.update(await counters.end())
    return figures


async def steady(
    stack: Stack,
    kind: str,
    instances: int,
    sockets: int,
    phases: list[tuple[str, float, float]],
    load_processes: int,
    watch: Callable[[list[int], float], Coroutine[Any, Any, None]] | None = None,
    idle_s: float = 0.0,
) -> dict[str, Any]:
    """Connect `sockets` walkers over `instances` servers, then run each (name, rate, seconds).

    `watch(pids, seconds)`, when given, runs beside each phase (bench/profile.py's profiler).
    With `idle_s`, the servers' CPU is taken over that long first, every socket connected and
    none sending (`idle_cpu_pct`, percent of one core, summed over the servers): what holding
    sockets costs (heartbeats, timers) before any location moves."""
    walks = range(sockets // 2)
    budget = 120 + sum(seconds + 10 for _, _, seconds in phases)
    async with scenario(stack) as children:
        servers = await start_servers(children, stack, kind, instances)
        idle = [rss_mb(s.proc.pid) for s in servers]
        loads = await start_loads(
            children,
            stack,
            walk_urls(servers, walks, stack.jwt_secret, cross=kind in ("gateway", "socketio")),
            load_processes,
            kind,
            budget + idle_s,
            kind=kind,
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
        if idle_s:
            cpu = CpuMeter({"servers": [s.proc.pid for s in servers]})
            await asyncio.sleep(idle_s)
            share = cpu.share()["servers"]
            cores = os.cpu_count() or 1
            result["idle_cpu_pct"] = None if share is None else round(share * cores * 100, 2)
        for name, rate, seconds in phases:
            figures = await phase(stack, servers, loads, rate, seconds, watch)
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
    watch_close: Callable[[int], Coroutine[Any, Any, None]] | None = None,
) -> dict[str, Any]:
    """`waves` times: connect `sockets` walkers to one instance, then close them all at once.

    Meanwhile 100 probe walkers send 1.5 locations/s each (the gateway's rate limit allows 2/s),
    a location in flight every ~7 ms: their maximum latency is the pause proxy (a stall of the
    gateway during the connect and close storms). Each wave's close window runs from just
    before the closes to CLOSE_TAIL_S after the last; the CPU share is over that window.
    `watch_close(pid)`, when given, runs beside each close storm (bench/profile.py's profiler).
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
            kind=kind,
        )
        probes = await start_loads(
            children,
            stack,
            walk_urls([server], probe_walks, stack.jwt_secret),
            1,
            f"{kind}-probe",
            120 + waves * 90,
            kind=kind,
        )
        groups = cpu_groups([server], [loads, probes], await redis_pid(stack.redis_url))
        await probes.command("connect")
        rss_after: list[float] = []
        rss_peak: list[float] = []
        connect_s: list[float] = []
        windows: list[dict[str, Any]] = []
        timelines: list[dict[str, Any]] = []
        for _ in range(waves):
            await probes.command(f"start {PROBE_RATE_HZ}")
            started = time.monotonic()
            connected = merge_connect(await loads.command("connect"))
            connected_at = time.monotonic() - started
            connect_s.append(connected["connect_s"])
            rss_peak.append(round(rss_mb(server.proc.pid), 1))
            # The probes' window so far (the connect storm) ends here; the close window opens.
            connects = asyncio.create_task(probes.command("window"))
            cpu = CpuMeter(groups)
            watching = asyncio.create_task(watch_close(server.proc.pid)) if watch_close else None
            closing = time.monotonic()
            await loads.command("close")
            close_s = time.monotonic() - closing
            if watching is not None:
                await watching
            closed_at = time.monotonic() - started
            await asyncio.sleep(CLOSE_TAIL_S)
            cpu_share = cpu.share()
            during_connects = merge_run(await connects)
            during_close = merge_run(await probes.command("stop"))
            windows += [during_connects, during_close]
            rss_after.append(round(rss_mb(server.proc.pid), 1))
            # Seconds into the wave, on the probes' clock (give or take a command's round trip):
            # a stall between connected_at and closed_at is the close storm's, before it the
            # connect storm's.
            timelines.append(
                {
                    "connected_at_s": round(connected_at, 2),
                    "closed_at_s": round(closed_at, 2),
                    "close_s": round(close_s, 2),
                    "close_stall_max_ms": during_close["lat_max_ms"],
                    "close_lat_p99_ms": during_close["lat_p99_ms"],
                    "close_cpu_share": cpu_share,
                    "stalls_over_100ms_at_s": [
                        *during_connects["stalls_over_100ms_at_s"],
                        *during_close["stalls_over_100ms_at_s"],
                    ][:20],
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
        "probe_lat_p99_ms": max(w["lat_p99_ms"] or 0 for w in windows),
        "gc_pause_max_ms": max(w["lat_max_ms"] or 0 for w in windows),
        "close_stall_max_ms": max(t["close_stall_max_ms"] or 0 for t in timelines),
        "probe_stalls": timelines,
        "load_generator": loads.generator,
    }


async def _stop_timed(children: Children, server: Server, since: float) -> float:
    """SIGTERM `server` and wait for it to exit: seconds from `since` to its exit."""
    await children.stop(server.proc, timeout_s=30)
    return round(time.monotonic() - since, 2)


async def reconnect_storm(
    stack: Stack,
    per_instance: int,
    load_processes: int,
    kind: str = "gateway",
    watch_storm: Callable[[int], Coroutine[Any, Any, None]] | None = None,
) -> dict[str, Any]:
    """Two gateway instances with `per_instance` walkers each, both partners of a walk on the
    same instance (so the survivor's own walkers keep a latency figure of their own), all
    sending at the 5 s pace. After a pace period the first instance gets SIGTERM (it closes
    its sockets with 1001) and its walkers reconnect to the second as bench/ws_load.py says
    (the protocol's jittered backoff), with the tokens they had.

    The storm window, over which the survivor's walkers' latency and the CPU shares are
    taken, runs from the SIGTERM until the last displaced walker's hello, and at least one
    pace period (so every survivor walker sends in it). `watch_storm(pid)`, when given, runs
    beside the storm from the SIGTERM on, with the survivor's pid (bench/profile.py)."""
    walks = per_instance // 2
    processes = max(1, load_processes // 2)
    budget = 180 + READMIT_TIMEOUT_S
    secret = stack.jwt_secret
    staying = [walker_path(k, u, secret) for k in range(walks) for u in (2 * k, 2 * k + 1)]
    moving = [
        walker_path(k, u, secret) for k in range(walks, 2 * walks) for u in (2 * k, 2 * k + 1)
    ]
    async with scenario(stack) as children:
        stopped, survivor = await start_servers(children, stack, kind, 2)
        survivors = await start_loads(
            children,
            stack,
            [survivor.url(p) for p in staying],
            processes,
            f"{kind}-survivors",
            budget,
            kind=kind,
        )
        movers = await start_loads(
            children,
            stack,
            [stopped.url(p) for p in moving],
            processes,
            f"{kind}-displaced",
            budget,
            fallbacks=[survivor.url(p) for p in moving],
            kind=kind,
        )
        connects = await asyncio.gather(survivors.command("connect"), movers.command("connect"))
        await asyncio.sleep(SETTLE_S)
        await asyncio.gather(
            survivors.command(f"start {PACE_HZ}"), movers.command(f"start {PACE_HZ}")
        )
        await asyncio.sleep(1 / PACE_HZ)
        counters = (
            await ServerCounters(
                stack.redis_url, {survivor.name: survivor.metrics_port}, pubsub=False
            ).begin()
            if survivor.metrics_port is not None
            else None
        )
        cpu = CpuMeter(
            cpu_groups([survivor], [survivors, movers], await redis_pid(stack.redis_url))
        )
        overflows = listen_overflows()
        before = asyncio.create_task(survivors.command("window"))
        stopped_at = time.monotonic()
        stopping = asyncio.create_task(_stop_timed(children, stopped, stopped_at))
        watching = asyncio.create_task(watch_storm(survivor.proc.pid)) if watch_storm else None
        readmit = merge_readmit(await movers.command(f"readmit {READMIT_TIMEOUT_S}"), stopped_at)
        await asyncio.sleep(max(0.0, stopped_at + 1 / PACE_HZ - time.monotonic()))
        window_s = time.monotonic() - stopped_at
        cpu_share = cpu.share()
        overflowed = listen_overflows()
        steady_before = merge_run(await before)
        during = merge_run(await survivors.command("stop"))
        displaced = merge_run(await movers.command("stop"))
        shutdown_s = await stopping
        if watching is not None:
            await watching
        ended = await counters.end() if counters is not None else {}
        survivor_counters = ended.get("gateway_counters", {})
        survivor_handshakes = ended.get("server_handshake_le_ms", {})
        await asyncio.gather(survivors.command("close"), movers.command("close"))
    return {
        "walkers_per_instance": per_instance,
        "connected": sum(merge_connect(c)["connected"] for c in connects),
        **{k: v for k, v in readmit.items() if k != "close_codes"},
        "survivors_p50_ms": during["lat_p50_ms"],
        "survivors_p99_ms": during["lat_p99_ms"],
        "survivors_max_ms": during["lat_max_ms"],
        "survivors_delivered_ratio": during["delivered_ratio"],
        "survivors_p99_before_ms": steady_before["lat_p99_ms"],
        "displaced_delivered_ratio": displaced["delivered_ratio"],
        "window_s": round(window_s, 2),
        "shutdown_s": shutdown_s,
        "cpu_share": cpu_share,
        "listen_overflows": None
        if overflows is None or overflowed is None
        else overflowed - overflows,
        # The survivor's own handshake times (its histogram), without the load generator's lag.
        "server_handshake_p50_le_ms": survivor_handshakes.get("p50"),
        "server_handshake_p99_le_ms": survivor_handshakes.get("p99"),
        "survivor_counters": survivor_counters,
        "close_codes": readmit["close_codes"],
        "load_generator": movers.generator,
    }
