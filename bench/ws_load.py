"""WebSocket load generator: one process, many walkers, driven line by line on stdin.

Both partners of every walk live in this process, so a location's latency is one clock's
difference: the sender's sequence number rides in `lng` (126 + seq * 1e-6, exact through any JSON
round trip) and the receiver looks its send time up. Commands (one JSON reply line each):

    connect            open every socket (bounded concurrency), count those that got `hello`
    run RATE SECONDS   each socket sends RATE locations/s for SECONDS, then waits for stragglers
    start RATE / stop  the same, open-ended: `stop` answers what `run` would
    close              close every socket
    exit

The process exits by itself after `max_seconds` whatever it is told, so no run can hang.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

LNG0 = 126.0
SEQ_SCALE = 1e6
GRACE_S = 3.0
CONNECT_TIMEOUT_S = 30.0
SLOW_MS = 50.0  # locations slower than this are reported with their send time (stall timeline)


@dataclass
class Walker:
    url: str
    ws: aiohttp.ClientWebSocketResponse | None = None
    reader: asyncio.Task[None] | None = None
    hello: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Load:
    urls: list[str]
    concurrency: int
    walkers: list[Walker] = field(default_factory=list)
    send_times: list[float] = field(default_factory=list)
    received: bytearray = field(default_factory=bytearray)
    latencies_ms: list[float] = field(default_factory=list)
    slow: list[tuple[int, float]] = field(default_factory=list)
    close_codes: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    session: aiohttp.ClientSession | None = None
    sender: asyncio.Task[tuple[int, int, int]] | None = None
    stop_sending: asyncio.Event = field(default_factory=asyncio.Event)
    first_seq: int = 0
    started_at: float = 0.0

    async def read(self, walker: Walker) -> None:
        assert walker.ws is not None
        ws = walker.ws
        loads = orjson.loads
        now = time.perf_counter
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                body = loads(msg.data)
                kind = body.get("type", "location")
                if kind == "location":
                    seq = round((body["lng"] - LNG0) * SEQ_SCALE)
                    if 0 <= seq < len(self.send_times) and not self.received[seq]:
                        self.received[seq] = 1
                        latency_ms = (now() - self.send_times[seq]) * 1000
                        self.latencies_ms.append(latency_ms)
                        if latency_ms > SLOW_MS:
                            self.slow.append((seq, latency_ms))
                elif kind == "hello":
                    walker.hello.set()
                self.kinds[kind] += 1
        except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
            self.close_codes[type(exc).__name__] += 1
        finally:
            self.close_codes[str(ws.close_code)] += 1

    async def open_one(self, walker: Walker, gate: asyncio.Semaphore) -> bool:
        assert self.session is not None
        async with gate:
            try:
                # No receive timeout: a walker may hear nothing for a long while (its partner not
                # yet connected); only the handshake and the close are bounded.
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    walker.ws = await self.session.ws_connect(
                        walker.url,
                        autoping=True,
                        compress=0,
                        timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10),
                    )
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.close_codes[f"connect:{type(exc).__name__}"] += 1
                return False
            walker.reader = asyncio.create_task(self.read(walker))
            try:
                await asyncio.wait_for(walker.hello.wait(), 30)
            except TimeoutError:
                return False
            return True

    async def connect(self) -> dict[str, Any]:
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=0, force_close=True)
            self.session = aiohttp.ClientSession(connector=connector)
        self.walkers = [Walker(url) for url in self.urls]
        self.close_codes.clear()
        gate = asyncio.Semaphore(self.concurrency)
        started = time.monotonic()
        ok = await asyncio.gather(*(self.open_one(w, gate) for w in self.walkers))
        gc.collect()
        return {
            "event": "connected",
            "connected": sum(ok),
            "failed": len(ok) - sum(ok),
            "connect_s": round(time.monotonic() - started, 2),
            "close_codes": dict(self.close_codes),
        }

    async def send(self, rate_hz: float, stop: asyncio.Event) -> tuple[int, int, int]:
        """Send until `stop`; return (sockets, sent, send errors)."""
        live = [w.ws for w in self.walkers if w.ws is not None and not w.ws.closed]
        total_rate = rate_hz * len(live)
        dumps = orjson.dumps
        now = time.perf_counter
        sent = send_errors = position = 0
        started = now()
        while live and not stop.is_set():
            due = int((now() - started) * total_rate) - sent
            for _ in range(due):
                ws = live[position]
                position = (position + 1) % len(live)
                seq = len(self.send_times)
                self.send_times.append(now())
                self.received.append(0)
                payload = dumps(
                    {"type": "location", "lat": 37.5665, "lng": LNG0 + seq / SEQ_SCALE}
                ).decode()
                try:
                    await ws.send_str(payload)
                except (ConnectionError, RuntimeError):
                    send_errors += 1
                sent += 1
            await asyncio.sleep(0.005)
        return len(live), sent, send_errors

    def start(self, rate_hz: float) -> dict[str, Any]:
        self.latencies_ms = []
        self.slow = []
        self.first_seq = len(self.send_times)
        self.started_at = time.perf_counter()
        self.stop_sending = asyncio.Event()
        self.sender = asyncio.create_task(self.send(rate_hz, self.stop_sending))
        return {"event": "started"}

    async def stop(self) -> dict[str, Any]:
        assert self.sender is not None
        self.stop_sending.set()
        sockets, sent, send_errors = await self.sender
        seconds = time.perf_counter() - self.started_at
        await asyncio.sleep(GRACE_S)
        delivered = sum(self.received[self.first_seq :])
        return {
            "event": "ran",
            "sockets": sockets,
            "sent": sent,
            "delivered": delivered,
            "send_errors": send_errors,
            "seconds": round(seconds, 3),
            "latencies_ms": [round(v, 3) for v in self.latencies_ms],
            # (seconds after the phase started that it was sent, latency): when stalls happen.
            "slow": [
                (round(self.send_times[seq] - self.started_at, 3), round(ms, 1))
                for seq, ms in self.slow
            ],
            "close_codes": dict(self.close_codes),
            "kinds": dict(self.kinds),
        }

    async def run(self, rate_hz: float, seconds: float) -> dict[str, Any]:
        self.start(rate_hz)
        await asyncio.sleep(seconds)
        return await self.stop()

    async def close(self) -> dict[str, Any]:
        started = time.monotonic()
        sockets = [w.ws for w in self.walkers if w.ws is not None]
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        readers = [w.reader for w in self.walkers if w.reader is not None]
        await asyncio.gather(*readers, return_exceptions=True)
        self.walkers = []
        return {"event": "closed", "closed_s": round(time.monotonic() - started, 2)}


def reply(message: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(message) + b"\n")
    sys.stdout.buffer.flush()


async def serve(job: dict[str, Any]) -> None:
    load = Load(urls=job["urls"], concurrency=job.get("concurrency", 100))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := (await reader.readline()).decode().split():
            command, *args = line
            if command == "connect":
                reply(await load.connect())
            elif command == "run":
                reply(await load.run(float(args[0]), float(args[1])))
            elif command == "start":
                reply(load.start(float(args[0])))
            elif command == "stop":
                reply(await load.stop())
            elif command == "close":
                reply(await load.close())
            elif command == "exit":
                break
    finally:
        await load.close()
        if load.session is not None:
            await load.session.close()


async def main_async(job: dict[str, Any]) -> None:
    try:
        async with asyncio.timeout(job.get("max_seconds", 600)):
            await serve(job)
    except TimeoutError:
        print("ws_load: max_seconds reached, exiting", file=sys.stderr)


def main() -> None:
    import uvloop

    # A full GC pass over thousands of sockets stalls this process for hundreds of ms, which
    # would be charged to the server as latency: the run is bounded, so collect nothing.
    gc.disable()

    with open(sys.argv[1], "rb") as f:
        job = orjson.loads(f.read())
    uvloop.run(main_async(job))


if __name__ == "__main__":
    main()
