"""The gateway's peers (issue 23): what an app team would deploy instead, measured beside it.

- `socketio`: Socket.IO 4 with @socket.io/redis-adapter (bench/socketio_peer/server.js), two
  instances on the bench's Redis, driven by bench/sio_load_node/sio_load.js (socket.io-client):
  the gateway's walks, pace and reconnect policy over Socket.IO's protocol.
- `seed`: the seed note's FastAPI handler, as the note wrote it (bench/seed_peer/), one process
  (it has no Redis, so partners must share it), driven by the same load generator as the
  gateway. It runs the one-process point (memory, idle CPU); the points on two instances (pace,
  throughput, the reconnect storm to the other instance) it cannot run: those figures are null.

This module says how to start each peer and address its walkers, installs the seed's packages
(pinned, from PyPI, into their own venv: none of it is the project's), and turns the points'
figures into `gateway_peers`' shape.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from bench.procs import ROOT
from bench.results import median_of
from bench.seed import invitation_id, user_id
from bench.stack import BENCH_DATA, Stack

PEERS = ("socketio", "seed")
SERVERS = ("gateway", *PEERS)
# How many instances each server runs in the points on two instances (None: it cannot).
TWO_INSTANCES = {"gateway": 2, "socketio": 2, "seed": None}

SOCKETIO_SERVER = ROOT / "bench" / "socketio_peer" / "server.js"
SIO_LOAD = ROOT / "bench" / "sio_load_node" / "sio_load.js"
SEED_DIR = ROOT / "bench" / "seed_peer"
SEED_VENV = BENCH_DATA / "seed_peer_venv"
SEED_INVITATIONS = BENCH_DATA / "seed_peer_invitations.json"
PYPI = "https://pypi.org/simple"

# gateway_peers' figures: (key in the JSON, where it comes from).
FIGURES = (
    ("rss_per_socket_kib", ("memory", "rss_per_socket_kib")),
    ("idle_cpu_pct", ("memory", "idle_cpu_pct")),
    ("pace_p99_ms", ("steady", "pace", "lat_p99_ms")),
    ("at_20k_per_s.delivered_per_s", ("steady", "at_20k_per_s", "delivered_per_s")),
    ("at_20k_per_s.newest_age_p99_ms", ("steady", "at_20k_per_s", "newest_age_p99_ms")),
    ("at_40k_per_s.delivered_per_s", ("steady", "at_40k_per_s", "delivered_per_s")),
    ("at_40k_per_s.newest_age_p99_ms", ("steady", "at_40k_per_s", "newest_age_p99_ms")),
    ("reconnect.readmitted_s", ("reconnect", "readmitted_s")),
    ("reconnect.handshake_p99_ms", ("reconnect", "handshake_p99_ms")),
)


def socketio_url(port: int, path: str) -> str:
    """The gateway's walker path (/ws/walk-together/ID?token=T) as sio_load.js's URL: the walk
    and the token go in the Socket.IO handshake."""
    parts = urlsplit(path)
    walk = parts.path.rstrip("/").rsplit("/", 1)[-1]
    (token,) = parse_qs(parts.query)["token"]
    return f"http://127.0.0.1:{port}/?walk={walk}&token={token}"


def server_command(kind: str, stack: Stack, port: int) -> tuple[str, list[str], dict[str, str]]:
    """(program, arguments, environment) of one instance of peer `kind`."""
    env = stack.service_env(REALTIME_PORT=str(port))
    if kind == "socketio":
        return "node", [str(SOCKETIO_SERVER)], env
    if kind == "seed":
        env["SEED_PEER_INVITATIONS"] = str(SEED_INVITATIONS)
        args = ["-m", "uvicorn", "app.main:app", "--app-dir", str(SEED_DIR)]
        args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        return str(SEED_VENV / "bin" / "python"), [*args, "--no-access-log"], env
    raise ValueError(f"no peer {kind!r}")


def load_program(kind: str) -> tuple[str, list[str]] | None:
    """The Socket.IO peer's own load generator (node, sio_load.js); None for the others, which
    speak the gateway's WebSocket protocol."""
    if kind != "socketio":
        return None
    modules = [SIO_LOAD.parent / "node_modules", ROOT / "bench" / "ws_load_node" / "node_modules"]
    if not all(m.is_dir() for m in modules):
        raise RuntimeError("the Socket.IO peer's node_modules are missing (make bench-gateway)")
    return "node", [str(SIO_LOAD)]


def prepare(walks: int) -> None:
    """Before the peers run: the seed's venv (reinstalled when its requirements change) and the
    invitations it answers from (walk k: bench users 2k and 2k + 1)."""
    requirements = SEED_DIR / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = SEED_VENV / ".installed"
    if not stamp.exists() or stamp.read_text() != digest:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(SEED_VENV)], check=True)
        # From PyPI itself, whatever this machine's pip configuration points at.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
        pip = [str(SEED_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--index-url", PYPI, "-r", str(requirements)], check=True, env=env)
        stamp.write_text(digest)
    invitations = {
        str(invitation_id(k)): [str(user_id(2 * k)), str(user_id(2 * k + 1))] for k in range(walks)
    }
    SEED_INVITATIONS.write_bytes(orjson.dumps(invitations))


def _pick(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, last = key.split(".")
        node = out
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = value
    return out


def _servers_cpu(phase: dict[str, Any] | None) -> float | None:
    """The servers' CPU share over a phase, summed over the instances (what a relay costs: the
    load generators', Redis's and the machine's shares left out)."""
    shares = (phase or {}).get("cpu_share") or {}
    servers = [v for k, v in shares.items() if k not in ("load", "redis", "machine")]
    if not servers or any(v is None for v in servers):
        return None
    return round(sum(servers), 3)


def figures(points: dict[str, Any]) -> dict[str, Any]:
    """One server's figures in one run, from its points ({"steady", "memory", "reconnect"}, a
    missing one None), in gateway_peers' shape; plus `detail`, what else says how it went."""
    shaped = _nest({key: _pick(points, path) for key, path in FIGURES})
    steady, memory, reconnect = (points.get(k) or {} for k in ("steady", "memory", "reconnect"))
    # What else says how it went; the per-point figures of the gateway itself are in
    # gateway_latency, gateway_throughput, gateway_memory and gateway_storms.
    shaped["detail"] = {
        "instances": steady.get("instances"),
        "connected": steady.get("connected"),
        "pace_delivered_ratio": _pick(steady, ("pace", "delivered_ratio")),
        "pace_stall_max_ms": _pick(steady, ("pace", "lat_max_ms")),
        "memory_sockets": memory.get("sockets"),
        "memory_connected": memory.get("connected"),
        "memory_pace_p99_ms": _pick(memory, ("pace", "lat_p99_ms")),
        "servers_cpu_share_at_20k_per_s": _servers_cpu(_pick(steady, ("at_20k_per_s",))),
        "servers_cpu_share_at_40k_per_s": _servers_cpu(_pick(steady, ("at_40k_per_s",))),
        # The load generators share the cores: near 1 - servers, they, not the server, set the pace.
        "load_cpu_share_at_40k_per_s": _pick(steady, ("at_40k_per_s", "cpu_share", "load")),
        "readmitted": reconnect.get("readmitted"),
        "reconnect_survivors_p99_ms": reconnect.get("survivors_p99_ms"),
        "load_generator": _pick(steady or memory, ("pace", "load_generator")),
    }
    return shaped


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure of each server over the runs; `readmitted_s` only when every
    run readmitted every walker (as gateway_storms)."""
    out: dict[str, Any] = {}
    for server in SERVERS:
        flat: dict[str, Any] = {}
        for key, _ in FIGURES:
            path = (server, *key.split("."))
            flat[key] = median_of(runs, path)
            if key == "reconnect.readmitted_s" and any(_pick(r, path) is None for r in runs):
                flat[key] = None
        out[server] = _nest(flat)
    return out


def ratios(medians_: dict[str, Any]) -> dict[str, Any]:
    """Ours over each peer, figure by figure (null where either is): below 1 is better for
    every figure but delivered_per_s."""
    out: dict[str, Any] = {}
    for peer in PEERS:
        flat: dict[str, Any] = {}
        for key, _ in FIGURES:
            path = tuple(key.split("."))
            ours, theirs = _pick(medians_["gateway"], path), _pick(medians_[peer], path)
            flat[key] = round(ours / theirs, 3) if ours is not None and theirs else None
        out[f"gateway/{peer}"] = _nest(flat)
    return out
