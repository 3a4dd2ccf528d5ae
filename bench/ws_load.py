"""WebSocket load generator: one process, many walkers, driven line by line on stdin.

Both partners of every walk live in this process, so a location's latency is one clock's
difference: the sender's sequence number rides in `lng` (126 + seq * 1e-6, exact through any JSON
round trip) and the receiver looks its send time up. The first stdin line is the job (the walkers'
URLs, which carry tokens, so they never touch the disk); then commands, one JSON reply line each:

    connect            open every socket (bounded concurrency), count those that got `hello`
                       (with `"hello": false` in the job, a server that says none: the open)
    start RATE         each socket sends RATE locations/s until `stop`; a measured window opens
    window             the window so far is closed (and answered, after the grace for
                       stragglers) and the next one opens; the sockets keep sending
    stop               stop sending; answer the last window, after the grace for stragglers
    readmit SECONDS    wait (at most SECONDS) until every walker given a fallback URL has been
                       displaced and admitted again; answer the reconnects' figures
    close              close every socket
    exit

The newest age: each receiver holds the newest location it has had from its partner (the highest
sender seq); every arrival newer than that one is a sample, now minus its send time. An older one
arriving after a newer (out of order) is not a sample: the receiver already shows a newer position.

A walker given a fallback URL reconnects there as docs/realtime-protocol.md tells apps to: after a
1001 (the gateway shutting down) after a uniform random delay within one location interval (5 s),
so a drained instance's walkers arrive spread out; after a 1006, a lost connection or a 1011,
and after each failed attempt, with exponential backoff 1 s, 2 s, 4 s ... up to 30 s, with
equal jitter (half fixed, half random: the push worker's retry_delay). Any other close code ends
the walker.

The process exits by itself after `max_seconds` (its argument) whatever it is told, so no run can
hang. Nothing it writes (replies, its stderr log) carries a URL: tokens stay out of the logs.
"""

from __future__ import annotations

import asyncio
import gc
import random
import re
import sys
import time
import traceback
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from services.api.push_worker.backoff import retry_delay

LNG0 = 126.0
SEQ_SCALE = 1e6
GRACE_S = 3.0
CONNECT_TIMEOUT_S = 30.0
SLOW_MS = 50.0  # locations slower than this are reported with their send time (stall timeline)
JOB_LINE_LIMIT = 256 * 1024 * 1024

GOING_AWAY = 1001
GOING_AWAY_SPREAD_S = 5.0  # one location interval
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
# None and 1006: the connection dropped without a close frame; 1011: the gateway's stores failed.
RECONNECT_CODES = frozenset({None, GOING_AWAY, 1006, 1011})
_TOKEN = re.compile(r"token=[^&\s'\"]+")


def redact(text: str) -> str:
    return _TOKEN.sub("token={token}", text)


@dataclass
class Walker:
    url: str
    fallback: str | None = None
    ws: aiohttp.ClientWebSocketResponse | None = None
    reader: asyncio.Task[None] | None = None
    hello: asyncio.Event = field(default_factory=asyncio.Event)
    hello_at: float = 0.0  # time.monotonic() of the last hello (comparable across processes)
    newest: int = -1  # the highest seq this walker has received from its partner
    displaced_at: float | None = None
    readmitted_at: float | None = None
    reconnect_attempts: int = 0


@dataclass
class Window:
    first_seq: int
    started: float  # perf_counter
    send_errors: int


@dataclass
class Load:
    urls: list[str]
    fallbacks: list[str | None]
    concurrency: int
    # False for a server that says no hello (the seed note's handler): the open counts as one.
    expect_hello: bool = True
    walkers: list[Walker] = field(default_factory=list)
    # Per sequence number: when it was sent, its latency once received (-1 before), and whether
    # its arrival was a newest-age sample.
    send_times: array[float] = field(default_factory=lambda: array("d"))
    latency_ms: array[float] = field(default_factory=lambda: array("d"))
    fresh: bytearray = field(default_factory=bytearray)
    close_codes: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    session: aiohttp.ClientSession | None = None
    sender: asyncio.Task[None] | None = None
    stop_sending: asyncio.Event = field(default_factory=asyncio.Event)
    send_errors: int = 0
    started_at: float = 0.0  # when the sender started: stall times are seconds after it
    window: Window = field(default_factory=lambda: Window(0, 0.0, 0))
    closing: bool = False
    reconnects: set[asyncio.Task[None]] = field(default_factory=set)
    handshakes_ms: list[float] = field(default_factory=list)
    reconnect_lags_ms: list[float] = field(default_factory=list)
    readmitted: asyncio.Event = field(default_factory=asyncio.Event)  # set at each readmission
    failed_attempts: int = 0

    async def read(self, walker: Walker) -> None:
        assert walker.ws is not None
        ws, hello = walker.ws, walker.hello
        loads = orjson.loads
        now = time.perf_counter
        send_times, latency_ms, fresh = self.send_times, self.latency_ms, self.fresh
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                body = loads(msg.data)
                kind = body.get("type", "location")
                if kind == "location":
                    seq = round((body["lng"] - LNG0) * SEQ_SCALE)
                    if 0 <= seq < len(send_times) and latency_ms[seq] < 0:
                        latency_ms[seq] = (now() - send_times[seq]) * 1000
                        if seq > walker.newest:
                            walker.newest = seq
                            fresh[seq] = 1
                elif kind == "hello":
                    walker.hello_at = time.monotonic()
                    hello.set()
                self.kinds[kind] += 1
        except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
            self.close_codes[type(exc).__name__] += 1
        finally:
            code = ws.close_code
            self.close_codes[str(code)] += 1
            if (
                walker.fallback is not None
                and hello.is_set()
                and not self.closing
                and code in RECONNECT_CODES
            ):
                walker.displaced_at = time.monotonic()
                task = asyncio.create_task(self.reconnect(walker, code))
                self.reconnects.add(task)
                task.add_done_callback(self.reconnects.discard)

    async def attempt(self, walker: Walker, url: str) -> bool:
        """One connect: True once `hello` came, False if it failed or closed before."""
        assert self.session is not None
        walker.hello = asyncio.Event()
        try:
            # No receive timeout: a walker may hear nothing for a long while (its partner not
            # yet connected); only the handshake and the close are bounded.
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                walker.ws = await self.session.ws_connect(
                    url,
                    autoping=True,
                    compress=0,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10),
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.close_codes[f"connect:{type(exc).__name__}"] += 1
            return False
        if not self.expect_hello:
            walker.hello_at = time.monotonic()
            walker.hello.set()
        walker.reader = asyncio.create_task(self.read(walker))
        hello = asyncio.create_task(walker.hello.wait())
        await asyncio.wait(
            {hello, walker.reader}, timeout=CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
        hello.cancel()
        if not walker.hello.is_set():
            await walker.ws.close()
        return walker.hello.is_set()

    async def reconnect(self, walker: Walker, code: int | None) -> None:
        assert walker.fallback is not None
        step = 0 if code == GOING_AWAY else 1
        while not self.closing:
            delay = (
                random.uniform(0, GOING_AWAY_SPREAD_S)
                if step == 0
                else retry_delay(step, None, base_s=BACKOFF_BASE_S, cap_s=BACKOFF_CAP_S)
            )
            due = time.monotonic() + delay
            await asyncio.sleep(delay)
            walker.reconnect_attempts += 1
            started = time.monotonic()
            if await self.attempt(walker, walker.fallback):
                walker.readmitted_at = walker.hello_at
                self.readmitted.set()
                self.handshakes_ms.append(round((walker.hello_at - started) * 1000, 3))
                # How late this process's own loop started the attempt: its lag, not the server's.
                self.reconnect_lags_ms.append(round((started - due) * 1000, 3))
                return
            self.failed_attempts += 1
            step += 1

    async def open_one(self, walker: Walker, gate: asyncio.Semaphore) -> bool:
        async with gate:
            return await self.attempt(walker, walker.url)

    async def connect(self) -> dict[str, Any]:
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=0, force_close=True)
            self.session = aiohttp.ClientSession(connector=connector)
        self.closing = False
        self.walkers = [
            Walker(url, fallback) for url, fallback in zip(self.urls, self.fallbacks, strict=True)
        ]
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

    async def send(self, rate_hz: float, stop: asyncio.Event) -> None:
        """Each walker connected at the start sends `rate_hz` a second, round robin, until
        `stop`; a walker between sockets (reconnecting) skips its turns."""
        walkers = [w for w in self.walkers if w.ws is not None and not w.ws.closed]
        total_rate = rate_hz * len(walkers)
        dumps = orjson.dumps
        now = time.perf_counter
        send_times, latency_ms, fresh = self.send_times, self.latency_ms, self.fresh
        turns = position = 0
        started = now()
        while walkers and not stop.is_set():
            due = int((now() - started) * total_rate) - turns
            for _ in range(due):
                walker = walkers[position]
                position = (position + 1) % len(walkers)
                turns += 1
                ws = walker.ws
                if ws is None or ws.closed:
                    continue
                seq = len(send_times)
                send_times.append(now())
                latency_ms.append(-1.0)
                fresh.append(0)
                payload = dumps(
                    {"type": "location", "lat": 37.5665, "lng": LNG0 + seq / SEQ_SCALE}
                ).decode()
                try:
                    await ws.send_str(payload)
                except (ConnectionError, RuntimeError):
                    self.send_errors += 1
            await asyncio.sleep(0.005)

    def start(self, rate_hz: float) -> dict[str, Any]:
        self.started_at = time.perf_counter()
        self.window = Window(len(self.send_times), self.started_at, self.send_errors)
        self.stop_sending = asyncio.Event()
        self.sender = asyncio.create_task(self.send(rate_hz, self.stop_sending))
        return {"event": "started"}

    def next_window(self) -> tuple[Window, int, float, int]:
        """Close the current window: (it, its end seq, its seconds, its send errors)."""
        ended, now = self.window, time.perf_counter()
        self.window = Window(len(self.send_times), now, self.send_errors)
        return (
            ended,
            len(self.send_times),
            now - ended.started,
            self.send_errors - ended.send_errors,
        )

    async def figures(self, ended: tuple[Window, int, float, int]) -> dict[str, Any]:
        """A closed window's figures, once its stragglers had `GRACE_S` to arrive."""
        await asyncio.sleep(GRACE_S)
        window, end, seconds, send_errors = ended
        seqs = range(window.first_seq, end)
        latency_ms, fresh, send_times = self.latency_ms, self.fresh, self.send_times
        received = [s for s in seqs if latency_ms[s] >= 0]
        return {
            "event": "ran",
            "sockets": sum(w.ws is not None and not w.ws.closed for w in self.walkers),
            "sent": len(seqs),
            "delivered": len(received),
            "send_errors": send_errors,
            "seconds": round(seconds, 3),
            "latencies_ms": [round(latency_ms[s], 3) for s in received],
            "ages_ms": [round(latency_ms[s], 3) for s in received if fresh[s]],
            # (seconds after the sender started that it was sent, latency): when stalls happen.
            "slow": [
                (round(send_times[s] - self.started_at, 3), round(latency_ms[s], 1))
                for s in received
                if latency_ms[s] > SLOW_MS
            ],
            "close_codes": dict(self.close_codes),
            "kinds": dict(self.kinds),
        }

    async def stop(self) -> dict[str, Any]:
        assert self.sender is not None
        self.stop_sending.set()
        await self.sender
        return await self.figures(self.next_window())

    async def readmit(self, timeout_s: float) -> dict[str, Any]:
        movers = [w for w in self.walkers if w.fallback is not None]
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not all(w.readmitted_at for w in movers):
            self.readmitted.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await self.readmitted.wait()
            except TimeoutError:
                break
        displaced = [w.displaced_at for w in movers if w.displaced_at is not None]
        readmitted = [w.readmitted_at for w in movers if w.readmitted_at is not None]
        return {
            "event": "readmitted",
            "walkers": len(movers),
            "displaced": len(displaced),
            "readmitted": len(readmitted),
            "displaced_first_at": min(displaced, default=None),
            "readmitted_last_at": max(readmitted, default=None),
            "handshakes_ms": self.handshakes_ms,
            "reconnect_lags_ms": self.reconnect_lags_ms,
            "attempts": sum(w.reconnect_attempts for w in movers),
            "failed_attempts": self.failed_attempts,
            "attempts_max": max((w.reconnect_attempts for w in movers), default=0),
            "close_codes": dict(self.close_codes),
        }

    async def close(self) -> dict[str, Any]:
        started = time.monotonic()
        self.closing = True
        for task in list(self.reconnects):
            task.cancel()
        await asyncio.gather(*self.reconnects, return_exceptions=True)
        sockets = [w.ws for w in self.walkers if w.ws is not None]
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        readers = [w.reader for w in self.walkers if w.reader is not None]
        await asyncio.gather(*readers, return_exceptions=True)
        self.walkers = []
        return {"event": "closed", "closed_s": round(time.monotonic() - started, 2)}


def reply(message: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(message) + b"\n")
    sys.stdout.buffer.flush()


def quiet_handler(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's unhandled errors, without their text: an aiohttp error quotes its URL."""
    exc = context.get("exception")
    name = type(exc).__name__ if exc is not None else "-"
    print(f"ws_load: {context.get('message', 'error')} ({name})", file=sys.stderr)


async def serve() -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(quiet_handler)
    reader = asyncio.StreamReader(limit=JOB_LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    job = orjson.loads(await reader.readline())
    urls = job["urls"]
    load = Load(
        urls=urls,
        fallbacks=job.get("fallbacks") or [None] * len(urls),
        concurrency=job.get("concurrency", 100),
        expect_hello=job.get("hello", True),
    )
    try:
        while line := (await reader.readline()).decode().split():
            command, *args = line
            if command == "connect":
                reply(await load.connect())
            elif command == "start":
                reply(load.start(float(args[0])))
            elif command == "window":
                reply(await load.figures(load.next_window()))
            elif command == "stop":
                reply(await load.stop())
            elif command == "readmit":
                reply(await load.readmit(float(args[0])))
            elif command == "close":
                reply(await load.close())
            elif command == "exit":
                break
    finally:
        await load.close()
        if load.session is not None:
            await load.session.close()


async def main_async(max_seconds: float) -> None:
    try:
        async with asyncio.timeout(max_seconds):
            await serve()
    except TimeoutError:
        print("ws_load: max_seconds reached, exiting", file=sys.stderr)


def main() -> None:
    import uvloop

    # A full GC pass over thousands of sockets stalls this process for hundreds of ms, which
    # would be charged to the server as latency: the run is bounded, so collect nothing.
    gc.disable()
    try:
        uvloop.run(main_async(float(sys.argv[1])))
    except Exception:
        print(redact(traceback.format_exc()), file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
