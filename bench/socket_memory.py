"""What one open socket of the gateway holds, part by part (issue 23).

`gateway_memory` (bench/RESULTS.md) says how much RSS a socket costs, not what it is made of.
Here the gateway runs inside a measuring process on uvloop, served as `python -m
services.realtime` serves it (the same runner and connection class), and N sockets (both walkers
of N/2 accepted walks, all joined) are opened from a separate bench/ws_load.py process, so no
client object is counted. Once every `hello` has arrived it reports, per socket:

- tracemalloc: what was allocated between the two snapshots and is still alive, by allocating
  line and by file. A line is the innermost Python frame: what C code allocates (the HTTP
  parser, multidict, uvloop) is charged to the Python line that called into it. A block is
  charged where it was first allocated, and CPython's free lists hand a dict or list freed by
  one step (the token check's) to the next: ~0.3 KB a socket shows at PyJWT's lines.
- sys.getsizeof: every object the sockets keep reachable, from each one's Connection, response,
  request, protocol, transport and tasks, charged to the first of those parts it hangs from;
  what existed before the sockets (the app, the loop, modules) is not counted.
- VmRSS before and after. tracemalloc's own bookkeeping inflates a traced process's RSS, so the
  RSS figure comes from a second measuring process, untraced.

    nice -n 19 .venv/bin/python -m bench.socket_memory [--walks 1000]

Runs against the local PostgreSQL (a scratch database, dropped at the end) and Redis, and writes
bench/results/gateway_socket_memory.json. Figures assume CPython 3.11's object layout.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import logging
import os
import re
import secrets
import sys
import tracemalloc
import types
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import uvloop
from aiohttp import web

from bench.gateway import walker_path
from bench.procs import Children, raise_open_files_limit
from bench.results import RESULTS_DIR, machine
from bench.seed import SeedSize, seed
from services.api.migrate import migrate
from services.realtime.app import create_app
from services.realtime.gc_policy import NO_AUTOMATIC_FULL_PASS
from services.realtime.keys import rooms_key
from services.realtime.upgrade_url import GatewayRequestHandler
from shared.logging_setup import configure_logging
from shared.runner import LISTEN_BACKLOG, make_runner
from shared.settings import Settings
from tools.local_services import LOCAL_POSTGRES_URL, LOCAL_REDIS_URL, free_port

log = logging.getLogger("bench.socket_memory")
ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / ".data" / "bench" / "socket_memory"
RESULT = "gateway_socket_memory"
WARMUP_WALKS = 25  # 50 sockets
LOAD_MAX_S = 600
SETTLE_S = 2.0
TOP_SITES = 40

# CPython 3.11: an instance of a class without __slots__ keeps its attributes in a values array
# sized for the class's shared keys until something asks for its __dict__ (Py_TPFLAGS_MANAGED_DICT),
# and two pointers (dict, values) ahead of its GC header, which sys.getsizeof leaves out.
MANAGED_DICT = 1 << 4
MANAGED_DICT_POINTERS = 16
EMPTY_DICT_BYTES = sys.getsizeof({})
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+")
JWT_BYTES = re.compile(JWT.pattern.encode())
NOT_PER_SOCKET = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.CodeType,
)


# --- the scratch database and the walkers (the parent process) ---------------------------


async def walker_paths(dsn: str, walks: int, secret: str) -> list[str]:
    """`walks` accepted walks written by the big benches' seed (bench/seed.py, its users and
    invitations only), and each walker's path with a token, as the gateway benches mint them."""
    conn = await asyncpg.connect(dsn)
    try:
        await seed(conn, SeedSize(users=2 * walks, walks=0, follows_per_user=1, invitations=walks))
    finally:
        await conn.close()
    return [walker_path(k, u, secret) for k in range(walks) for u in (2 * k, 2 * k + 1)]


async def run_measurement(mode: str, job: dict[str, Any]) -> dict[str, Any]:
    """One measuring process (`--measure traced|untraced`); the job, tokens included, goes
    through its stdin, never its arguments."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / f"gateway-{mode}.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.socket_memory",
            "--measure",
            mode,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        out, _ = await proc.communicate(orjson.dumps(job))
    if proc.returncode != 0:
        raise RuntimeError(f"the {mode} measurement failed (see {LOG_DIR}/gateway-{mode}.log)")
    figures: dict[str, Any] = orjson.loads(out)
    return figures


async def orchestrate(walks: int, frames: int, warmup_concurrency: int) -> dict[str, Any]:
    admin = os.environ.get("TEST_POSTGRES_URL") or LOCAL_POSTGRES_URL
    name = f"withbowwow_sockmem_{os.getpid()}"
    base, _, query = admin.partition("?")
    dsn = f"{base.rpartition('/')[0]}/{name}" + (f"?{query}" if query else "")
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        await migrate(dsn)
        secret = secrets.token_urlsafe(48)
        paths = await walker_paths(dsn, WARMUP_WALKS + walks, secret)
        job = {
            "database_url": dsn,
            "jwt_secret": secret,
            "frames": frames,
            "warmup_concurrency": warmup_concurrency,
            "warmup": paths[: 2 * WARMUP_WALKS],
            "measured": paths[2 * WARMUP_WALKS :],
        }
        traced = await run_measurement("traced", job)
        untraced = await run_measurement("untraced", job)
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
    return {"traced": traced, "untraced": untraced}


# --- the measuring process -----------------------------------------------------------------


def vm_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class Load:
    """One bench/ws_load.py process holding a set of sockets open."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(
        cls, children: Children, name: str, urls: list[str], concurrency: int = 100
    ) -> Load:
        proc = await children.start(
            name, ["-m", "bench.ws_load", str(LOAD_MAX_S)], dict(os.environ), pipes=True
        )
        load = cls(proc)
        await load.send(orjson.dumps({"urls": urls, "concurrency": concurrency}))
        return load

    async def send(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        await self.proc.stdin.drain()

    async def command(self, command: str) -> dict[str, Any]:
        assert self.proc.stdout is not None
        await self.send(command.encode())
        reply = await self.proc.stdout.readline()
        if not reply:
            raise RuntimeError(f"ws_load died (see {LOG_DIR})")
        answer: dict[str, Any] = orjson.loads(reply)
        return answer

    async def connect(self, expected: int) -> dict[str, Any]:
        reply = await self.command("connect")
        if reply["connected"] != expected:
            raise RuntimeError(f"{reply['connected']} of {expected} sockets got their hello")
        return reply


async def measure(mode: str, job: dict[str, Any]) -> dict[str, Any]:
    traced = mode == "traced"
    if traced:
        tracemalloc.start(job["frames"])
    configure_logging()  # as the service: INFO, so aiohttp times each request for its log
    # As services/realtime/gc_policy.py leaves it: no automatic full pass.
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, NO_AUTOMATIC_FULL_PASS)
    settings = Settings(
        _env_file=None,
        app_env="test",
        database_url=job["database_url"],
        redis_url=LOCAL_REDIS_URL,
        jwt_secret=job["jwt_secret"],
        realtime_metrics_port=0,
        db_pool_max_size=5,
    )
    app = create_app(settings)
    runner = make_runner(app, settings, handler_class=GatewayRequestHandler)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=LISTEN_BACKLOG).start()
    children = Children(LOG_DIR)
    try:
        urls = [f"ws://127.0.0.1:{port}{path}" for path in job["measured"]]
        warm = [f"ws://127.0.0.1:{port}{path}" for path in job["warmup"]]
        # Warm-up sockets stay open: caches, pools, the batch writer's and the probes' Redis
        # connections are made before the first snapshot. 100 at a time by default, as after a
        # restart: CPython 3.11 closes a class's shared attribute keys after a few instances,
        # so if many responses existed before the first had set all its attributes, every
        # later one would get a dict of its own (`instances_with_their_own_dict` says when;
        # services/realtime/direct_ws.py sets them all in `__init__` so that none does).
        warmup = await Load.start(children, "ws_load-warmup", warm, job["warmup_concurrency"])
        await warmup.connect(len(warm))
        measured = await Load.start(children, "ws_load-measured", urls)
        await asyncio.sleep(SETTLE_S)
        gc.collect()
        old = gc.get_objects() if traced else []
        old_ids = {id(o) for o in old}
        server = runner.server
        assert server is not None
        broker = app[rooms_key].broker
        containers = {
            "broker._members": broker._members,
            "broker._placed": broker._placed,
            "aiohttp Server._connections": server._connections,
        }
        sizes_before = {name: sys.getsizeof(c) for name, c in containers.items()}
        rss_before, tm_before = vm_rss(), tracemalloc.get_tracemalloc_memory()
        before = tracemalloc.take_snapshot() if traced else None
        connected = await measured.connect(len(urls))
        log.info("%d sockets connected in %.1f s", len(urls), connected["connect_s"])
        await asyncio.sleep(SETTLE_S)  # presence replies, the partners' presence events
        with_garbage = tracemalloc.get_traced_memory()[0]
        rss_with_garbage = vm_rss()
        garbage_kinds = cyclic_garbage()
        garbage = with_garbage - tracemalloc.get_traced_memory()[0]
        rss_after, tm_after = vm_rss(), tracemalloc.get_tracemalloc_memory()
        after = tracemalloc.take_snapshot() if traced else None
        tracemalloc.stop()  # the breakdown runs several times faster untraced
        log.info("measured; the breakdown follows")
        n = len(urls)
        figures: dict[str, Any] = {
            "sockets": n,
            "connect_s": connected["connect_s"],
            "rss_bytes_before": rss_before,
            "rss_bytes_after": rss_after,
            "rss_per_socket": round((rss_after - rss_before) / n, 1),
            "rss_per_socket_before_gc": round((rss_with_garbage - rss_before) / n, 1),
        }
        if before is not None and after is not None:
            figures["tracemalloc_own_per_socket"] = round((tm_after - tm_before) / n, 1)
            figures["garbage_per_socket"] = round(garbage / n, 1)
            figures["garbage_objects_per_socket"] = {
                kind: round(count / n, 2) for kind, count in garbage_kinds.most_common(15)
            }
            figures.update(traced_figures(before, after, n))
            figures["containers"] = {
                name: round((sys.getsizeof(c) - sizes_before[name]) / n, 1)
                for name, c in containers.items()
            }
            log.info("tracemalloc figures done")
            objects = figures["objects"] = reachable(broker, old_ids, n)
            log.info("objects' census done")
            own_dicts = objects["instances_with_their_own_dict"]
            figures["responses_with_their_own_dict"] = own_dicts.get("DirectWebSocketResponse", 0)
        else:  # whether this process's responses got a dict each (the warm-up above says why)
            members = broker.all_members()
            figures["responses_with_their_own_dict"] = round(
                sum(has_own_dict(c.ws) for c in members) / len(members), 2
            )
        del old
        await measured.command("close")
        return figures
    finally:
        await children.stop_all()
        await runner.cleanup()


def cyclic_garbage() -> Counter[str]:
    """Collect what only a full pass frees (the gateway runs none while it holds many
    sockets, services/realtime/gc_policy.py); the kinds of objects it was."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        kinds = Counter(type(o).__qualname__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    gc.collect()
    return kinds


# --- tracemalloc ---------------------------------------------------------------------------


def short(filename: str) -> str:
    """A path from the project's root, or from site-packages / the standard library."""
    for marker in ("/site-packages/", f"/python{sys.version_info[0]}.{sys.version_info[1]}/"):
        if marker in filename:
            return filename.rsplit(marker, 1)[1]
    root = f"{ROOT}/"
    return filename[len(root) :] if filename.startswith(root) else filename


# The frames every callback the loop runs sits on: allocated with nothing above them, it was
# C code the loop ran (uvloop accepting, reading, writing).
LOOP_FILES = ("asyncio/runners.py", "uvloop/__init__.py", "bench/socket_memory.py")
FROM_THE_LOOP = "(C code the loop ran: uvloop, no Python frame)"


def python_frames(traceback: tracemalloc.Traceback) -> list[str]:
    """`file:line` of the frames above the loop, innermost first."""
    frames = []
    for frame in reversed(list(traceback)):  # a traceback lists the oldest first
        name = short(frame.filename)
        if name in LOOP_FILES:
            break
        frames.append(f"{name}:{frame.lineno}")
    return frames


def under(frames: list[str]) -> str:
    """Who the allocation was made for: the gateway (any of its frames on the stack),
    aiohttp's connection handling without it, or the loop's C code."""
    if any(f.startswith("services/realtime/") for f in frames):
        return "services/realtime on the stack"
    if any(f.startswith("aiohttp/web_protocol.py") for f in frames):
        return "aiohttp's connection handling, no gateway frame"
    return FROM_THE_LOOP if not frames else "elsewhere"


def traced_figures(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, n: int
) -> dict[str, Any]:
    """Bytes and blocks a socket, by line, file and caller. Left out: what tracemalloc itself
    and this module allocated (the snapshots, the objects' census): their innermost frame.
    (Not any frame: this module's `main` is under every callback the loop runs.)"""
    exclude = [tracemalloc.Filter(False, f) for f in (tracemalloc.__file__, __file__)]
    diff = after.filter_traces(exclude).compare_to(before.filter_traces(exclude), "traceback")
    by_line: Counter[str] = Counter()
    blocks_by_line: Counter[str] = Counter()
    callers: dict[str, Counter[str]] = {}
    by_file: Counter[str] = Counter()
    by_caller: Counter[str] = Counter()
    for stat in diff:
        frames = python_frames(stat.traceback)
        line = frames[0] if frames else FROM_THE_LOOP
        by_line[line] += stat.size_diff
        blocks_by_line[line] += stat.count_diff
        callers.setdefault(line, Counter())[" < ".join(frames[1:4])] += stat.size_diff
        by_file[line.rpartition(":")[0] if frames else line] += stat.size_diff
        by_caller[under(frames)] += stat.size_diff
    return {
        "traced_per_socket": round(sum(by_line.values()) / n, 1),
        "traced_blocks_per_socket": round(sum(blocks_by_line.values()) / n, 2),
        "by_line": [
            {
                "line": line,
                "bytes": round(size / n, 1),
                "blocks": round(blocks_by_line[line] / n, 2),
                "called_from": callers[line].most_common(1)[0][0],
            }
            for line, size in by_line.most_common(TOP_SITES)
        ],
        "by_file": {f: round(size / n, 1) for f, size in by_file.most_common() if abs(size) >= n},
        "by_caller": {c: round(size / n, 1) for c, size in by_caller.most_common()},
    }


# --- sys.getsizeof over what each socket keeps reachable -----------------------------------


def has_own_dict(obj: Any) -> bool:
    """A 3.11 instance whose attributes went to a dict of its own (not asked for here)."""
    refs = gc.get_referents(obj)
    attrs = obj.__dict__
    return any(ref is attrs for ref in refs)


def own_bytes(obj: Any, refs: list[Any]) -> tuple[int, dict[str, Any] | None]:
    """sys.getsizeof, plus an instance's attribute storage: its dict when it has one, else
    (3.11) the values array, which asking for `__dict__` turns into a dict here."""
    size = sys.getsizeof(obj)
    if not type(obj).__flags__ & MANAGED_DICT:
        return size, None
    size += MANAGED_DICT_POINTERS
    attrs: dict[str, Any] = obj.__dict__
    if any(ref is attrs for ref in refs):
        return size + sys.getsizeof(attrs), attrs
    slots = (sys.getsizeof(attrs) - EMPTY_DICT_BYTES) // 8
    prefix = -(-(slots + 2) // 8) * 8
    return size + 8 * slots + prefix, attrs


def holds_jwt(obj: Any) -> bool:
    """A token's text (a JWT's header and claims, each `eyJ...`): the sockets' URLs should
    hold none."""
    if isinstance(obj, str):
        return JWT.search(obj) is not None
    return isinstance(obj, bytes | bytearray) and JWT_BYTES.search(obj) is not None


def dynamic_label(obj: Any) -> str | None:
    if isinstance(obj, asyncio.Task):
        return f"Task running {obj.get_coro().__qualname__}"  # type: ignore[union-attr]
    if isinstance(obj, asyncio.Future):
        return "Future"
    if type(obj).__name__ == "coroutine":  # Python's, or a compiled (Cython) one
        return f"coroutine frame {obj.__qualname__}"
    return None


OURS = "ours (Connection, broker)"
REQUEST = "the parsed upgrade request"
RESPONSE = "the WebSocket response"
PROTOCOL = "aiohttp's connection (protocol, HTTP writer)"
TRANSPORT = "uvloop's transport"
TASKS = "tasks, futures, coroutine frames"


def socket_parts(connection: Any, broker: Any) -> list[tuple[str, str, Any]]:
    """(group, part, object): the parts objects are charged to, in the order they claim
    what they share."""
    ws = connection.ws
    request = ws._req
    message = request._message
    return [
        (OURS, "Connection (services/realtime/connection.py)", connection),
        (OURS, "broker: the walk's member set", broker._members.get(connection.channel)),
        (RESPONSE, "WebSocketResponse (DirectWebSocketResponse)", ws),
        (RESPONSE, "response headers (CIMultiDict)", ws._headers),
        (RESPONSE, "WebSocketWriter", ws._writer),
        (RESPONSE, "frame queue (_TextToCallback)", ws._reader),
        (RESPONSE, "frame parser (WebSocketReader)", ws._parser),
        (PROTOCOL, "StreamWriter (the upgrade's HTTP writer)", ws._payload_writer),
        (REQUEST, "Request", request),
        (REQUEST, "RawRequestMessage", message),
        (REQUEST, "request headers (CIMultiDictProxy)", message.headers),
        (REQUEST, "request raw_headers", message.raw_headers),
        (REQUEST, "request URL (yarl)", message.url),
        (REQUEST, "match_info", request._match_info),
        (PROTOCOL, "RequestHandler (protocol)", request._protocol),
        (TRANSPORT, "transport (uvloop TCPTransport)", connection.transport),
    ]


def reachable(broker: Any, old_ids: set[int], n: int) -> dict[str, Any]:
    """Every object reachable from the sockets that did not exist before them, once each."""
    roots: list[tuple[Any, str]] = []
    labels: dict[int, str] = {}
    group_of: dict[str, str] = {}
    for connection in broker.all_members():
        if connection.connection_id and id(connection.ws) not in old_ids:
            for group, label, obj in socket_parts(connection, broker):
                group_of[label] = group
                if obj is not None:
                    roots.append((obj, label))
                    labels.setdefault(id(obj), label)
    sockets = len({id(obj) for obj, label in roots if label.startswith("Connection")})
    by_part: Counter[str] = Counter()
    objects: Counter[str] = Counter()
    by_type: Counter[tuple[str, str]] = Counter()
    credentials: Counter[str] = Counter()
    own_dicts: Counter[str] = Counter()
    seen: set[int] = set()
    stack = list(reversed(roots))
    while stack:
        obj, label = stack.pop()
        key = id(obj)
        if key in seen or key in old_ids or isinstance(obj, NOT_PER_SOCKET):
            continue
        seen.add(key)
        label = labels.get(key) or dynamic_label(obj) or label
        refs = gc.get_referents(obj)
        size, attrs = own_bytes(obj, refs)
        if attrs is not None:
            seen.add(id(attrs))
            if any(ref is attrs for ref in refs):
                own_dicts[type(obj).__qualname__] += 1
                refs = [ref for ref in refs if ref is not attrs] + gc.get_referents(attrs)
        if holds_jwt(obj):
            credentials[label] += 1
        by_part[label] += size
        objects[label] += 1
        by_type[(label, type(obj).__qualname__)] += size
        stack.extend((ref, label) for ref in reversed(refs))
    return {
        "sockets": sockets,
        "total_per_socket": round(sum(by_part.values()) / n, 1),
        "by_group": {
            group: round(
                sum(v for k, v in by_part.items() if group_of.get(k, TASKS) == group) / n, 1
            )
            for group in (REQUEST, TASKS, PROTOCOL, RESPONSE, TRANSPORT, OURS)
        },
        "by_part": {
            label: {
                "group": group_of.get(label, TASKS),
                "bytes": round(size / n, 1),
                "objects": round(objects[label] / n, 2),
            }
            for label, size in by_part.most_common()
        },
        "by_type": [
            {"part": label, "type": name, "bytes": round(size / n, 1)}
            for (label, name), size in by_type.most_common()
            if size >= 8 * n
        ],
        "strings_holding_a_jwt": dict(credentials),
        # Instances whose attributes outgrew their class's shared keys (CPython 3.11 then
        # gives each one a dict of its own, ~1.5 KB for a WebSocketResponse).
        "instances_with_their_own_dict": {
            name: round(count / n, 2) for name, count in own_dicts.most_common()
        },
    }


# --- report --------------------------------------------------------------------------------


def markdown(figures: dict[str, Any]) -> str:
    traced, untraced = figures["traced"], figures["untraced"]
    objects = traced["objects"]
    containers = sum(traced["containers"].values())

    def row(*cells: Any) -> str:
        return (
            "| "
            + " | ".join(f"{c:,.0f}" if isinstance(c, float | int) else c for c in cells)
            + " |"
        )

    lines = [
        f"Bytes a socket, {traced['sockets']:,} sockets ({traced['sockets'] // 2:,} walks x 2):",
        "",
        "| figure | bytes a socket |",
        "|---|---|",
        row("RSS (VmRSS after - before, untraced process)", untraced["rss_per_socket"]),
        row("traced by tracemalloc, still alive", traced["traced_per_socket"]),
        row("reachable objects (sys.getsizeof)", objects["total_per_socket"]),
        row("growth of shared dicts (broker, aiohttp Server)", containers),
        row(
            "traced, not in the two lines above",
            traced["traced_per_socket"] - objects["total_per_socket"] - containers,
        ),
        row(
            "RSS not traced (allocator, libuv)",
            untraced["rss_per_socket"] - traced["traced_per_socket"],
        ),
        row("cyclic garbage a full GC pass frees", traced["garbage_per_socket"]),
        row("tracemalloc's own, in the traced process", traced["tracemalloc_own_per_socket"]),
        "",
        "| part | group | bytes a socket | objects |",
        "|---|---|---|---|",
    ]
    for label, part in objects["by_part"].items():
        lines.append(row(label, part["group"], part["bytes"], f"{part['objects']:.1f}"))
    jwts = sum(objects["strings_holding_a_jwt"].values())
    lines += [
        "",
        f"Strings holding a JWT reachable from the {objects['sockets']:,} sockets: {jwts}.",
    ]
    lines += ["", "| group | bytes a socket |", "|---|---|"]
    lines += [row(group, size) for group, size in objects["by_group"].items()]
    lines += [
        "",
        "| allocating line (innermost frame) | bytes a socket | blocks | called from |",
        "|---|---|---|---|",
    ]
    for site in traced["by_line"]:
        lines.append(row(site["line"], site["bytes"], f"{site['blocks']:.1f}", site["called_from"]))
    lines += ["", "| file (innermost frame) | bytes a socket |", "|---|---|"]
    lines += [row(name, size) for name, size in traced["by_file"].items()]
    lines += ["", "| allocated with | bytes a socket |", "|---|---|"]
    lines += [row(name, size) for name, size in traced["by_caller"].items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walks", type=int, default=1000, help="walks measured (2 sockets each)")
    parser.add_argument("--frames", type=int, default=10, help="tracemalloc frames a trace")
    parser.add_argument(
        "--warmup-concurrency",
        type=int,
        default=100,
        help="warm-up sockets opened at once (100: a crowded start, as after a restart)",
    )
    parser.add_argument("--measure", choices=["traced", "untraced"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_open_files_limit()
    if args.measure:
        job = orjson.loads(sys.stdin.buffer.read())
        figures = uvloop.run(measure(args.measure, job))
        sys.stdout.buffer.write(orjson.dumps(figures))
        return
    logging.basicConfig(level=logging.WARNING)
    figures = uvloop.run(orchestrate(args.walks, args.frames, args.warmup_concurrency))
    report = {
        "name": RESULT,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.socket_memory", *sys.argv[1:]]),
        "machine": machine(),
        "about": (
            f"What one open gateway socket holds: {args.walks:,} walks x 2 joined sockets on one"
            " in-process gateway (uvloop, the service's runner and connection class), opened from"
            f" a separate bench/ws_load.py process, after {2 * WARMUP_WALKS} warm-up sockets opened"
            f" {args.warmup_concurrency} at a time. traced: tracemalloc snapshots before and after"
            " (bytes still alive, by innermost line and file); objects: sys.getsizeof of every"
            " object reachable from the sockets that did not exist before them, by part; RSS from"
            " a second, untraced process (VmRSS after - before). All figures are bytes a socket."
            " See the module's docstring for what each figure leaves out."
        ),
        "warmup_concurrency": args.warmup_concurrency,
        "runs": [
            {
                "rss_per_socket": figures["untraced"]["rss_per_socket"],
                "traced_per_socket": figures["traced"]["traced_per_socket"],
                "objects_per_socket": figures["traced"]["objects"]["total_per_socket"],
                "garbage_per_socket": figures["traced"]["garbage_per_socket"],
                "responses_with_their_own_dict": max(
                    figures[mode]["responses_with_their_own_dict"] for mode in figures
                ),
            }
        ],
        **figures,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{RESULT}.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    print(markdown(figures))
    print(f"\nwritten to {short(str(path))}")


if __name__ == "__main__":
    main()
