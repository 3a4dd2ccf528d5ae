"""`make bench`: run the scenarios, write bench/results/*.json and bench/RESULTS.md.

    python -m bench.runner [all|gateway|api|search|deletion|push|zones|export|filtering|cluster]
                           [--repeat N] [--quick] [--database NAME] [--no-peers]

Raises the open-file limit, starts its own database (`withbowwow_bench`, seeded once) and its own
Redis, starts every process it measures and stops them all, on Ctrl-C too. `--quick` shrinks
every size (a smoke run of the harness; its figures mean nothing and go to
.data/bench/quick-results/ instead).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import logging
import time
from dataclasses import replace
from typing import Any

import asyncpg

from bench import (
    api,
    cluster,
    deletion,
    export,
    gateway,
    peers,
    privacy_zones,
    push,
    results,
    search,
)
from bench.figures import (
    QUICK,
    Sizes,
    at_least,
    every,
    median,
    medians,
    repeat,
    under,
    verdict,
    within,
)
from bench.procs import raise_open_files_limit
from bench.seed import seed
from bench.stack import BENCH_DATA, Stack, bench_servers, ensure_database, new_jwt_secret
from shared.settings import Settings

log = logging.getLogger("bench")

# The suites that run on the big seeded database (`zones`, `export` and `filtering` bring
# their own).
SEEDED_SUITES_IN_ORDER = ("gateway", "api", "search", "deletion", "push")
# `api` (`make bench-api`) runs the feed, user search and account deletion scenarios.
API_SUITES = ["api", "search", "deletion"]
# `cluster` (`make bench-cluster`) runs only when asked for: it brings up a Redis Cluster.
SEEDED_SUITES = frozenset({*SEEDED_SUITES_IN_ORDER, "cluster"})
# A drained gateway's walkers are all back within its drain and one location interval.
DRAIN_S = Settings.model_fields["shutdown_drain_s"].default
READMIT_BOUND_S = DRAIN_S + 5.0
# Descriptors a server process holds besides its sockets (stores, listeners, epoll, logs).
FD_HEADROOM = 200


async def gateway_suite(stack: Stack, sizes: Sizes, n: int, with_peers: bool = True) -> None:
    """The gateway's points, each beside the bare relay and (`with_peers`) the peers measured in
    the same run (bench/peers.py), whose figures go to gateway_peers."""
    compared = peers.PEERS if with_peers else ()
    if compared:
        peers.prepare(max(sizes.steady_sockets, sizes.memory_sockets) // 2)
    # Per run, each server's points: {"steady", "memory", "reconnect"} (gateway_peers).
    points: list[dict[str, dict[str, Any]]] = [
        {server: {} for server in ("gateway", *compared)} for _ in range(n)
    ]
    phases = [
        ("pace", 0.2, sizes.pace_s),
        # 1/s and 2/s a socket: 20,000 and 40,000 offered/s at full size (--quick offers less
        # rather than exceed the gateway's 2/s a socket, which closes the socket with 4008).
        ("at_20k_per_s", 1.0, sizes.throughput_s),
        ("at_40k_per_s", 2.0, sizes.throughput_s),
    ]

    async def steady_pair() -> dict[str, Any]:
        await stack.refresh()
        log.info("    gateway: %d sockets on 2 instances", sizes.steady_sockets)
        ours = await gateway.steady(
            stack, "gateway", 2, sizes.steady_sockets, phases, sizes.load_processes
        )
        log.info("    bare relay: %d sockets on 2 processes", sizes.steady_sockets)
        bare = await gateway.steady(
            stack, "bare", 2, sizes.steady_sockets, phases, sizes.load_processes
        )
        run = next(steady_slots)
        run["gateway"]["steady"] = copy.deepcopy(ours)
        for peer in compared:
            instances = peers.TWO_INSTANCES[peer]
            if instances is None:
                continue
            log.info("    %s: %d sockets on %d instances", peer, sizes.steady_sockets, instances)
            run[peer]["steady"] = await gateway.steady(
                stack, peer, instances, sizes.steady_sockets, phases, sizes.load_processes
            )
        return {"gateway": ours, "bare": bare}

    log.info("gateway latency and throughput")
    steady_slots = iter(points)
    runs = await repeat(n, steady_pair)
    pace = [
        {
            k: {
                **r[k].pop("pace"),
                "sockets": r[k]["sockets"],
                "connected": r[k]["connected"],
                "instances": r[k]["instances"],
                "rss_mb": r[k]["rss_mb"],
                "rss_per_socket_kib": r[k]["rss_per_socket_kib"],
                "gc_pause_max_ms": None,
            }
            for k in ("gateway", "bare")
        }
        for r in runs
    ]
    for run in pace:
        for side in run.values():
            side["gc_pause_max_ms"] = side["lat_max_ms"]
    results.write(
        "gateway_latency",
        {
            "about": "20,000 sockets (10,000 walks) over two gateway instances, partners on "
            "different instances (every location crosses Redis), each socket sending a location "
            "every 5 s; the bare relay runs the same load on two processes with partners "
            "together. gc_pause_max_ms is a client-side proxy (the gateway does not report its "
            "GC pauses): the largest latency of any location, with one in flight every 0.25 ms. "
            f"{CPU_SHARE}",
            "target": "every location delivered, p99 <= 50 ms, no pause over 100 ms",
            "verdict": verdict(
                {
                    "all delivered": at_least(median(pace, "gateway", "delivered_ratio"), 1.0),
                    "p99 <= 50 ms": within(median(pace, "gateway", "lat_p99_ms"), 50),
                    "no pause > 100 ms": within(median(pace, "gateway", "lat_max_ms"), 100),
                }
            ),
            "runs": pace,
            "medians": medians(pace),
        },
    )
    throughput: list[dict[str, Any]] = [
        {
            "gateway": {k: r["gateway"][k] for k in r["gateway"] if k.startswith("at_")},
            "bare": {k: r["bare"][k] for k in r["bare"] if k.startswith("at_")},
        }
        for r in runs
    ]
    for point in throughput:
        point["ratio_delivered_per_s_at_20k"] = _ratio(
            point["gateway"]["at_20k_per_s"]["delivered_per_s"],
            point["bare"]["at_20k_per_s"]["delivered_per_s"],
        )
    overload = [r["gateway"][p] for r in throughput for p in ("at_20k_per_s", "at_40k_per_s")]
    at_20k = median(throughput, "gateway", "at_20k_per_s", "delivered_per_s")
    at_40k = median(throughput, "gateway", "at_40k_per_s", "delivered_per_s")
    results.write(
        "gateway_throughput",
        {
            "about": f"The same {sizes.steady_sockets:,} connected sockets, each sending 1 "
            "location/s, then 2/s (the gateway's limit to a partner), for "
            f"{sizes.throughput_s:g} s each: offered {sizes.steady_sockets:,} and "
            f"{2 * sizes.steady_sockets:,} locations/s. "
            f"{NEWEST_AGE} gateway_counters: the deltas of the gateways' own "
            "withbowwow_ws_*_total counters over the phase and its 3 s grace, summed over both "
            "instances (locations_unaccounted = received - delivered - superseded). "
            "redis_pubsub: the pub/sub connections Redis had at the phase's start, how many "
            "were gone at its end, the largest output buffer any had (omem, sampled every "
            f"0.25 s). {CPU_SHARE}",
            "target": "at 20,000 offered/s: >= 10,000 delivered/s, newest age p99 < 1 s, no "
            "pub/sub connection dropped by Redis, every replaced location counted as "
            "superseded; at 40,000 offered/s: delivered/s not below the 20,000 figure",
            "verdict": verdict(
                {
                    ">= 10,000/s at 20k": at_least(at_20k, 10_000),
                    "newest age p99 < 1 s at 20k": under(
                        median(throughput, "gateway", "at_20k_per_s", "newest_age_p99_ms"), 1000
                    ),
                    "no pub/sub dropped": every(
                        [p.get("redis_pubsub", {}).get("gone") for p in overload],
                        lambda gone: gone == 0,
                    ),
                    "replaced counted as superseded": every(
                        [
                            p.get("gateway_counters", {}).get("locations_unaccounted")
                            for p in overload
                        ],
                        lambda unaccounted: unaccounted == 0,
                    ),
                    "40k not below 20k": None
                    if at_20k is None or at_40k is None
                    else at_40k >= at_20k,
                }
            ),
            "runs": throughput,
            "medians": medians(throughput),
        },
    )

    async def memory_pair() -> dict[str, Any]:
        await stack.refresh()
        one = [("pace", 0.2, 10.0)]
        log.info("    gateway: %d sockets on 1 instance", sizes.memory_sockets)
        ours = await gateway.steady(
            stack, "gateway", 1, sizes.memory_sockets, one, sizes.load_processes, idle_s=idle
        )
        log.info("    bare relay: %d sockets on 1 process", sizes.memory_sockets)
        bare = await gateway.steady(
            stack, "bare", 1, sizes.memory_sockets, one, sizes.load_processes, idle_s=idle
        )
        run = next(memory_slots)
        run["gateway"]["memory"] = ours
        for peer in compared:
            log.info("    %s: %d sockets on 1 process", peer, sizes.memory_sockets)
            run[peer]["memory"] = await gateway.steady(
                stack, peer, 1, sizes.memory_sockets, one, sizes.load_processes, idle_s=idle
            )
        return {"gateway": ours, "bare": bare}

    log.info("gateway memory")
    idle = gateway.IDLE_S
    memory_slots = iter(points)
    memory = await repeat(n, memory_pair)
    results.write(
        "gateway_memory",
        {
            "about": f"{sizes.memory_sockets:,} sockets on ONE process (gateway, then bare "
            "relay), measured with psutil 5 s after the last connect; rss_per_socket_kib = "
            "(RSS connected - RSS idle) / sockets. idle_cpu_pct: the process's CPU over the "
            f"next {gateway.IDLE_S:g} s, every socket connected and none sending, in percent of "
            "one core. Then 10 s at the 5 s pace.",
            "target": "<= 20 KiB RSS per socket; 19,000 sockets within 512 MB",
            "verdict": verdict(
                {
                    "<= 20 KiB/socket": within(median(memory, "gateway", "rss_per_socket_kib"), 20),
                    "19,000 sockets in 512 MB": None
                    if median(memory, "gateway", "connected") != sizes.memory_sockets
                    else all(max(r["gateway"]["rss_mb"]) <= 512 for r in memory),
                }
            ),
            "runs": memory,
            "medians": medians(memory),
        },
    )

    async def churn_run() -> dict[str, Any]:
        await stack.refresh()
        return await gateway.churn(stack, "gateway", sizes.churn_sockets, 3, sizes.load_processes)

    log.info("gateway churn")
    churn = await repeat(n, churn_run)
    results.write(
        "gateway_churn",
        {
            "about": f"Three waves of {sizes.churn_sockets:,} connects then closes on one "
            "gateway instance, 100 probe walkers sending throughout. gc_pause_max_ms is the "
            "probes' largest latency (client-side proxy; the gateway does not report its GC); "
            "probe_lat_p99_ms the largest p99 of a wave's connect or close window; a wave's "
            "close window runs from just before the closes to 2 s after the last, and its "
            f"close_cpu_share is over that window. {CPU_SHARE}",
            "target": "RSS after each wave within 15% of after the first; no pause over 100 ms",
            "verdict": verdict(
                {
                    "RSS within 15%": within(median(churn, "rss_growth_after_first_pct"), 15),
                    "no pause > 100 ms": within(median(churn, "gc_pause_max_ms"), 100),
                }
            ),
            "runs": churn,
            "medians": medians(churn),
        },
    )
    await storms_point(stack, sizes, n, points, compared)
    if compared:
        peers_point(sizes, points)


async def storms_point(
    stack: Stack,
    sizes: Sizes,
    n: int,
    points: list[dict[str, dict[str, Any]]] | None = None,
    compared: tuple[str, ...] = (),
) -> None:
    """The reconnect and close storms; with `points`, each run's reconnect storm goes there too,
    beside the same storm on each of `compared` that runs on two instances."""
    slots = iter(points or [])

    async def storms_run() -> dict[str, Any]:
        await stack.refresh()
        log.info("    reconnect storm: %d walkers on each of 2 instances", sizes.storm_walkers)
        reconnect = await gateway.reconnect_storm(stack, sizes.storm_walkers, sizes.load_processes)
        if points is not None:
            run = next(slots)
            run["gateway"]["reconnect"] = reconnect
            for peer in compared:
                if peers.TWO_INSTANCES[peer] is None:
                    continue
                log.info("    %s reconnect storm: %d walkers each", peer, sizes.storm_walkers)
                run[peer]["reconnect"] = await gateway.reconnect_storm(
                    stack, sizes.storm_walkers, sizes.load_processes, kind=peer
                )
        await stack.refresh()
        log.info("    close storm: %d sockets on 1 instance", sizes.churn_sockets)
        wave = await gateway.churn(stack, "gateway", sizes.churn_sockets, 1, sizes.load_processes)
        (closing,) = wave["probe_stalls"]
        close = {
            "sockets": sizes.churn_sockets,
            "stall_max_ms": closing["close_stall_max_ms"],
            "lat_p99_ms": closing["close_lat_p99_ms"],
            "close_s": closing["close_s"],
            "cpu_share": closing["close_cpu_share"],
            "stalls_over_100ms_at_s": closing["stalls_over_100ms_at_s"],
        }
        return {"reconnect": reconnect, "close": close}

    log.info("gateway storms")
    storms = await repeat(n, storms_run)
    # A run in which some displaced walker never came back has no readmission time.
    all_back = all(r["reconnect"]["readmitted_s"] is not None for r in storms)
    summary = medians(storms)
    if not all_back:
        summary["reconnect"]["readmitted_s"] = None
    results.write(
        "gateway_storms",
        {
            "about": f"Reconnect storm: two gateway instances with {sizes.storm_walkers:,} "
            "walkers each (both partners of a walk on the same instance), all sending a "
            "location every 5 s; one instance gets SIGTERM (it drains: its sockets close with "
            f"1001 in turns over SHUTDOWN_DRAIN_S, {DRAIN_S:g} s) and its walkers reconnect to "
            "the other with docs/realtime-protocol.md's backoff: after a 1001 with a random "
            "delay within the location interval (5 s), after a failed attempt or a "
            "lost connection 1 s, 2 s, 4 s ... 30 s with equal jitter; same tokens. "
            "readmitted_s: from the SIGTERM to the last displaced walker's hello (null when "
            f"one was not back within {gateway.READMIT_TIMEOUT_S:g} s); handshake_*_ms: from "
            "the start of a successful reconnect attempt to its hello; load_lag_*_ms: how late "
            "the load generator's own loop started those attempts after their backoff (its "
            "CPU starvation, which the handshake times include); survivors_*_ms: latency "
            "of the survivor's own walkers' locations sent in the storm window (the SIGTERM to "
            "the last readmission, at least 5 s), survivors_p99_before_ms the 5 s before it; "
            "server_handshake_p50/p99_le_ms: the survivor's own handshake times over the "
            "storm (withbowwow_ws_handshake_duration_seconds, from the upgrade request "
            "reaching its handler to the hello), as the bound of the histogram bucket that "
            "holds the percentile (null for the peers, which have no such histogram); "
            "survivor_counters: the survivor's withbowwow_ws_*_total deltas over the storm; "
            "listen_overflows: the kernel's TcpExt ListenOverflows over the storm window "
            "(connects dropped for a full accept queue, retried by the client after 1 s). "
            f"Close storm: {sizes.churn_sockets:,} sockets on one instance closed at once by "
            "their clients while 100 probe walkers send 1.5 locations/s (gateway_churn's wave); "
            "stall_max_ms is the probes' largest latency in the close window (just before the "
            f"closes to 2 s after the last). {CPU_SHARE}",
            "target": f"all readmitted within SHUTDOWN_DRAIN_S + 5 s ({READMIT_BOUND_S:g} s), "
            "handshake p99 <= 1 s, the survivor's walkers p99 <= 100 ms meanwhile; close "
            "storm: no stall over 500 ms",
            "verdict": verdict(
                {
                    f"readmitted within {READMIT_BOUND_S:g} s": within(
                        summary["reconnect"]["readmitted_s"], READMIT_BOUND_S
                    )
                    if all_back
                    else False,
                    "handshake p99 <= 1 s": within(
                        median(storms, "reconnect", "handshake_p99_ms"), 1000
                    ),
                    "survivors p99 <= 100 ms": within(
                        median(storms, "reconnect", "survivors_p99_ms"), 100
                    ),
                    "close stall <= 500 ms": within(median(storms, "close", "stall_max_ms"), 500),
                }
            ),
            "runs": storms,
            "medians": summary,
        },
    )


def peers_point(sizes: Sizes, points: list[dict[str, dict[str, Any]]]) -> None:
    """gateway_peers: the gateway's figures beside each peer's, from the same runs."""
    runs = [
        {server: peers.figures(run.get(server, {})) for server in peers.SERVERS} for run in points
    ]
    summary = peers.medians(runs)
    ratios = peers.ratios(summary)
    socketio = ratios["gateway/socketio"]
    results.write(
        "gateway_peers",
        {
            "about": "The gateway beside its peers, in the same run: `socketio` is Socket.IO "
            "4 with @socket.io/redis-adapter (bench/socketio_peer/server.js, one Node process "
            "an instance), driven by socket.io-client (bench/sio_load_node/sio_load.js, "
            "WebSocket transport only) with the same walks, pace and reconnect policy; `seed` "
            "is the seed note's FastAPI handler as the note wrote it (bench/seed_peer/, one "
            "uvicorn process; no Redis, so partners share it; its invitation check answers "
            "from memory, not PostgreSQL). rss_per_socket_kib and idle_cpu_pct: "
            f"gateway_memory's point ({sizes.memory_sockets:,} sockets on one process; idle "
            f"CPU over {gateway.IDLE_S:g} s with no location sent, percent of one core); "
            "pace_p99_ms: "
            f"gateway_latency's point ({sizes.steady_sockets:,} sockets on two instances, "
            "partners on different ones); at_20k_per_s/at_40k_per_s: gateway_throughput's "
            f"phases (1/s and 2/s a socket); reconnect: gateway_storms' reconnect storm "
            f"({sizes.storm_walkers:,} walkers leave a stopped instance for the other). The "
            "seed cannot run a point on two instances: those figures are null. ratios: ours "
            "over the peer's median, below 1 better except delivered_per_s. detail: the pace "
            "phase's delivered ratio and longest stall, what connected, the load generator.",
            "target": "ahead of Socket.IO on every figure (memory: at most 0.8x its RSS a "
            "socket), and of the seed wherever it runs the point",
            "verdict": verdict(
                {
                    "RSS a socket <= 0.8x Socket.IO": within(socketio["rss_per_socket_kib"], 0.8),
                    "delivered/s at 40k >= Socket.IO": at_least(
                        socketio["at_40k_per_s"]["delivered_per_s"], 1.0
                    ),
                    "pace p99 <= Socket.IO": within(socketio["pace_p99_ms"], 1.0),
                    "handshake p99 <= Socket.IO": within(
                        socketio["reconnect"]["handshake_p99_ms"], 1.0
                    ),
                }
            ),
            "runs": runs,
            "medians": summary,
            "ratios": ratios,
        },
    )


CPU_SHARE = (
    "cpu_share: user + system CPU seconds over the phase (psutil) as a share of all the "
    "machine's cores (1.0 = every core busy throughout): load = the ws_load processes together, "
    "then each server, redis, and machine = the whole machine's busy share (others' work too)."
)
NEWEST_AGE = (
    "newest_age_*_ms: each receiver holds the newest location it has had from its partner (the "
    "highest sender seq); every arrival newer than that one is a sample, its receive time minus "
    "its send time; an older location arriving after a newer one (out of order) is no sample."
)


def _ratio(ours: float | None, bare: float | None) -> float | None:
    return round(ours / bare, 3) if ours and bare else None


async def run(
    suites: list[str], sizes: Sizes, n: int, database: str, with_peers: bool = True
) -> None:
    limit = raise_open_files_limit()
    log.info("open-file limit: %d", limit)
    if 2 * sizes.storm_walkers + FD_HEADROOM > limit:
        # The storm's survivor ends up holding both instances' walkers: with a hard limit of
        # 20,000, 2 x 10,000 sockets and the process's own descriptors do not fit, and the
        # last walkers' connects wait in the accept queue until they are reset (EMFILE).
        sizes = replace(sizes, storm_walkers=(limit - FD_HEADROOM) // 2)
        log.warning(
            "reconnect storm: %d walkers an instance, to fit the open-file limit",
            sizes.storm_walkers,
        )
    with bench_servers() as (admin_url, redis_url):
        seeded = bool(set(suites) & SEEDED_SUITES)
        # Alone, `zones` or `export` leaves the seeded database untouched (not even migrated).
        database_url = await ensure_database(
            admin_url, database if seeded else privacy_zones.DATABASE
        )
        if seeded:
            conn = await asyncpg.connect(database_url)
            try:
                started = time.monotonic()
                if await seed(conn, sizes.seed):
                    log.info("seeded in %.0f s", time.monotonic() - started)
            finally:
                await conn.close()
        stack = Stack(database_url, redis_url, new_jwt_secret(), BENCH_DATA / "logs")
        if "gateway" in suites:
            await gateway_suite(stack, sizes, n, with_peers)
        if "api" in suites:
            await api.suite(stack, sizes, n)
        if "search" in suites:
            await search.suite(stack, sizes, n)
        if "deletion" in suites:
            await deletion.suite(stack, sizes, n)
        if "push" in suites:
            await push.suite(stack, sizes, n)
        if "cluster" in suites:
            await cluster.suite(stack, sizes, n)
        if "zones" in suites:
            await privacy_zones.suite(stack, sizes, n, admin_url)
        if "export" in suites:
            await export.suite(stack, sizes, n, admin_url)
        if "filtering" in suites:
            from bench import filtering

            await filtering.suite(stack, sizes, n, admin_url)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "suite",
        nargs="?",
        default="all",
        choices=["all", *SEEDED_SUITES_IN_ORDER, "zones", "export", "filtering", "cluster"],
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    # Another name keeps this run's seed apart from a concurrent run's (on a shared server).
    parser.add_argument("--database", help="the seeded database (default: withbowwow_bench)")
    # The peers (Socket.IO, the seed's handler) about double the gateway suite's time.
    parser.add_argument("--no-peers", action="store_true", help="skip gateway_peers")
    args = parser.parse_args()
    if args.suite == "all":
        suites = [*SEEDED_SUITES_IN_ORDER, "zones", "export", "filtering"]
    else:
        suites = API_SUITES if args.suite == "api" else [args.suite]
    sizes = QUICK if args.quick else Sizes()
    if args.quick:
        results.RESULTS_DIR = BENCH_DATA / "quick-results"
        results.RESULTS_MD = results.RESULTS_DIR / "RESULTS.md"
    database = args.database or ("withbowwow_bench_quick" if args.quick else "withbowwow_bench")
    try:
        asyncio.run(run(suites, sizes, args.repeat, database, not args.no_peers))
    except KeyboardInterrupt:
        log.warning("interrupted: every process this run started has been stopped")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
