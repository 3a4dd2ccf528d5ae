"""What the measured processes did during a phase, beside what the load generators saw.

- CPU: psutil's user + system seconds of each group of processes over the phase, as a share of
  all the machine's cores (1.0: every core busy the whole phase); `machine` is the whole
  machine's busy share, other people's work on a shared machine included.
- The gateway's own counters (`withbowwow_ws_*_total`), scraped from each instance's internal
  metrics listener before and after, as deltas summed over the instances.
- Redis's pub/sub connections: Redis 7.0's INFO counts no output-buffer disconnections, so a
  pub/sub reader Redis dropped is one whose CLIENT LIST id is `gone` after the phase (a gateway
  remaking its own connection is gone too; its `pubsub_reconnects` says which). A connection
  that unsubscribed from everything leaves pub/sub mode but stays: it is looked for among all
  clients. The largest output buffer (`omem`) any pub/sub client had, sampled every 0.25 s, says
  how near Redis's limit it came.
- Listen queue overflows: the kernel's TcpExt ListenOverflows (machine-wide), a connect dropped
  because a listener's accept queue was full; its client retries the SYN after 1 s.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

import aiohttp
import psutil
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

OMEM_SAMPLE_S = 0.25
SCRAPE_TIMEOUT_S = 30.0
PREFIX, SUFFIX = "withbowwow_ws_", "_total"


class CpuMeter:
    """CPU used by each named group of processes from its creation to `share()`."""

    def __init__(self, groups: Mapping[str, list[int]]) -> None:
        self.groups = {name: [psutil.Process(pid) for pid in pids] for name, pids in groups.items()}
        self.started = time.monotonic()
        self.machine = psutil.cpu_times()
        self.before = {name: _cpu_seconds(procs) for name, procs in self.groups.items()}

    def share(self) -> dict[str, float | None]:
        """Per group (None if one of its processes ended meanwhile), then `machine`."""
        capacity = (time.monotonic() - self.started) * (os.cpu_count() or 1)
        out: dict[str, float | None] = {}
        for name, procs in self.groups.items():
            before, after = self.before[name], _cpu_seconds(procs)
            out[name] = (
                None if before is None or after is None else round((after - before) / capacity, 3)
            )
        before_busy, before_all = _busy(self.machine)
        after_busy, after_all = _busy(psutil.cpu_times())
        out["machine"] = round((after_busy - before_busy) / max(after_all - before_all, 1e-9), 3)
        return out


def _cpu_seconds(procs: list[psutil.Process]) -> float | None:
    try:
        return sum(sum(p.cpu_times()[:2]) for p in procs)  # user + system
    except psutil.NoSuchProcess:
        return None


def _busy(times: Any) -> tuple[float, float]:
    """(busy, total) seconds of the machine; guest time is already counted in user."""
    guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    total = sum(times) - guest
    return total - times.idle - getattr(times, "iowait", 0.0), total


def listen_overflows() -> int | None:
    """TcpExt ListenOverflows since boot (None where /proc/net/netstat has none)."""
    try:
        with open("/proc/net/netstat") as f:
            lines = [line.split() for line in f if line.startswith("TcpExt:")]
    except OSError:
        return None
    if len(lines) < 2 or "ListenOverflows" not in lines[0]:
        return None
    return int(lines[1][lines[0].index("ListenOverflows")])


async def redis_pid(redis_url: str) -> int:
    client = aioredis.from_url(redis_url)
    try:
        return int((await client.info("server"))["process_id"])
    finally:
        await client.aclose()


HANDSHAKE_BUCKET = "withbowwow_ws_handshake_duration_seconds_bucket"
HANDSHAKE_LE = "handshake_seconds_le_"  # scrape's key of each bucket, its bound appended


async def scrape(session: aiohttp.ClientSession, port: int) -> dict[str, float]:
    """The gateway's counters: `locations_received`, `pubsub_reconnects`, `handshakes_accepted`,
    ... (`withbowwow_ws_<name>_total{label=value}` as `<name>_<value>`)."""
    url = f"http://127.0.0.1:{port}/metrics"
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT_S)) as resp:
        text = await resp.text()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith(PREFIX) and sample.name.endswith(SUFFIX):
                name = "_".join([sample.name[len(PREFIX) : -len(SUFFIX)], *sample.labels.values()])
                counts[name] = counts.get(name, 0.0) + sample.value
            elif sample.name == HANDSHAKE_BUCKET:
                counts[HANDSHAKE_LE + sample.labels["le"]] = sample.value
    return counts


def handshake_quantile_le_ms(buckets: Mapping[float, float], q: float) -> float | None:
    """The bound (ms) of the handshake-duration bucket (upper bound -> handshakes at or under
    it) holding quantile `q`: the server's own p`q` is at most this."""
    bounds = sorted(buckets.items())
    wanted = q * bounds[-1][1]
    upper = next(bound for bound, count in bounds if count >= wanted)
    return None if upper == float("inf") else round(upper * 1000)


class ServerCounters:
    """The gateways' counters (`metrics_ports`: instance name -> its listener's port) and,
    with `pubsub`, Redis's pub/sub connections, from `begin()` to `end()`."""

    def __init__(self, redis_url: str, metrics_ports: Mapping[str, int], *, pubsub: bool) -> None:
        self.redis = aioredis.from_url(redis_url, decode_responses=True)
        self.ports = dict(metrics_ports)
        self.pubsub = pubsub
        self.session = aiohttp.ClientSession()
        self.before: dict[str, dict[str, float]] = {}
        self.pubsub_ids: set[str] = set()
        self.omem_max = 0
        self.sampler: asyncio.Task[None] | None = None

    async def _counts(self) -> dict[str, dict[str, float]] | None:
        try:
            return {name: await scrape(self.session, port) for name, port in self.ports.items()}
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def _clients(self, kind: str | None = "pubsub") -> list[dict[str, Any]]:
        clients: list[dict[str, Any]] = await self.redis.client_list(_type=kind)
        return clients

    async def _sample_omem(self) -> None:
        while True:
            for client in await self._clients():
                self.omem_max = max(self.omem_max, int(client["omem"]))
            await asyncio.sleep(OMEM_SAMPLE_S)

    async def begin(self) -> ServerCounters:
        self.before = await self._counts() or {}
        if self.pubsub:
            self.pubsub_ids = {c["id"] for c in await self._clients()}
            self.sampler = asyncio.create_task(self._sample_omem())
        return self

    async def end(self) -> dict[str, Any]:
        """`gateway_counters` (deltas summed over the instances; `locations_unaccounted` is
        received - delivered - superseded), `server_handshake_le_ms` (p50 and p99 of the
        handshakes made meanwhile, from the gateways' histogram; absent if none) and, with
        `pubsub`, `redis_pubsub`."""
        out: dict[str, Any] = {}
        try:
            after = await self._counts()
            if after is not None and self.before:
                deltas: dict[str, float] = {}
                for name, counts in after.items():
                    for key, value in counts.items():
                        deltas[key] = deltas.get(key, 0) + value - self.before[name].get(key, 0)
                deltas["locations_unaccounted"] = deltas.get("locations_received", 0) - sum(
                    deltas.get(f"locations_{e}", 0) for e in ("delivered", "superseded")
                )
                buckets = {
                    float(key.removeprefix(HANDSHAKE_LE)): deltas.pop(key)
                    for key in list(deltas)
                    if key.startswith(HANDSHAKE_LE)
                }
                out["gateway_counters"] = {k: round(v) for k, v in sorted(deltas.items())}
                if buckets and max(buckets.values()) > 0:
                    out["server_handshake_le_ms"] = {
                        "p50": handshake_quantile_le_ms(buckets, 0.5),
                        "p99": handshake_quantile_le_ms(buckets, 0.99),
                    }
            if self.pubsub:
                if self.sampler is not None:
                    self.sampler.cancel()
                    with suppress(asyncio.CancelledError):
                        await self.sampler
                now = {c["id"] for c in await self._clients(None)}
                out["redis_pubsub"] = {
                    "connections_at_start": len(self.pubsub_ids),
                    "gone": len(self.pubsub_ids - now),
                    "omem_max_mb": round(self.omem_max / 2**20, 2),
                }
        finally:
            await self.session.close()
            await self.redis.aclose()
        return out
