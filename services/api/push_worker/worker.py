"""The push worker: reads jobs, sends them, settles them, and recovers what was lost.

One process runs five loops:
- reader: XREADGROUP new entries while there is room for more jobs in flight;
- reclaimer: XAUTOCLAIM entries a crashed worker read but never acknowledged;
- promoter: moves jobs whose backoff is over from `push:retry:{push:jobs}` back into the stream;
- sweeper: re-emits pending rows that no Redis entry carries any more (the row is the truth);
- settler: records finished attempts in batches (one transaction), then acknowledges entries.
Each job is its own task and each send only waits for a send slot, so a slow device holds up
nothing but its own job; a job waiting out a backoff holds nothing at all (it is back in Redis).
Neither does a push held by its recipient's quiet hours: it waits in the retry set like a
backoff, due when they end (services/api/notifications/push_settings.py).
Once it has its slot, a send checks that it may still go out (the account, the device and the
notification are still there, and no block came between), in one query for the sends checking
together, so a change since the claim stops it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import asyncpg
from redis.exceptions import RedisError, ResponseError

from services.api.notifications.push_jobs import add_push_jobs
from services.api.push_worker.backoff import retry_delay
from services.api.push_worker.fcm import Outcome, PushSender, SendResult, token_hint
from services.api.push_worker.job_stream import Entry, JobStream, is_missing_group
from services.api.push_worker.mailer import Mailer
from services.api.push_worker.messages import Lifetimes, build_message, for_device
from services.api.push_worker.metrics import PushMetrics
from services.api.push_worker.store import (
    ClaimedJob,
    Delivery,
    DeliveryOutcome,
    Device,
    Send,
    Settlement,
    claim_jobs,
    prune_deliveries,
    record_decisions,
    settle_jobs,
    still_deliverable,
    sweep_lost_jobs,
    wait_times,
)
from shared.coalesced import CoalescedLookup
from shared.logging_setup import request_id_var
from shared.redis_client import RedisClient
from shared.settings import Settings

log = logging.getLogger(__name__)

REDIS_ERRORS = (RedisError, OSError)
# Worth waiting out: the database is unreachable, restarting, overloaded, or chose us as a
# deadlock victim. Any other database error would fail again the same way.
DB_OUTAGES = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.TransactionRollbackError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)
READ_BLOCK_MS = 1000
PROMOTE_INTERVAL_S = 0.25
SETTLE_BATCH = 500
SWEEP_BATCH = 1000
# How often old delivery records are looked for (a full batch goes on at once).
PRUNE_INTERVAL_S = 300.0
OUTAGE_PAUSE_MAX_S = 5.0
GONE_CONSUMER_IDLE_S = 3600.0
_RECORDED: dict[Outcome, DeliveryOutcome] = {
    Outcome.SENT: "sent",
    Outcome.REJECTED: "rejected",
    Outcome.UNREGISTERED: "unregistered",
}


Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _entries_of(fresh: dict[uuid.UUID, list[str]], job_ids: Iterable[uuid.UUID]) -> list[str]:
    return [entry for job_id in job_ids for entry in fresh[job_id]]


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class PushWorker:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        redis: RedisClient,
        sender: PushSender,
        metrics: PushMetrics,
        *,
        clock: Clock = utc_now,
        mailer: Mailer | None = None,
    ) -> None:
        self._settings = settings
        self.mailer = mailer  # the emails of the outbox (mailer.py), when given
        self.metrics = metrics
        self._clock = clock  # what quiet hours are measured against (tests move it)
        self._lifetimes = Lifetimes.of(settings)
        self._pool = pool
        self._redis = redis
        self._sender = sender
        self._stream = JobStream(redis, default_consumer_name())
        self._send_slots = asyncio.Semaphore(settings.push_concurrency)
        self._deliverable: CoalescedLookup[Send, bool] = CoalescedLookup(
            partial(still_deliverable, pool), "push-deliverable"
        )
        self._max_jobs = max(settings.push_batch_size, 2 * settings.push_concurrency)
        # A job's lease outlives any honest attempt (a send is bounded by its timeout), so only a
        # crashed worker's job is ever taken over.
        self._lease_s = settings.push_reclaim_idle_s + settings.push_send_timeout_s
        self._in_flight: dict[uuid.UUID, list[str]] = {}  # job -> stream entries to acknowledge
        self._job_tasks: set[asyncio.Task[None]] = set()
        self._settled: asyncio.Queue[Settlement | None] = asyncio.Queue()
        self._room = asyncio.Event()
        self._stopping = asyncio.Event()

    def jobs_in_flight(self) -> int:
        return len(self._in_flight)

    def stop(self) -> None:
        """Ask run() to stop reading, let jobs in flight finish, settle them and return."""
        self._stopping.set()

    async def run(self) -> None:
        loops = [
            asyncio.create_task(self._repeat("reader", self._read_once)),
            asyncio.create_task(self._repeat("reclaimer", self._reclaim_once)),
            asyncio.create_task(self._repeat("promoter", self._promote_once)),
            asyncio.create_task(self._repeat("sweeper", self._sweep_once)),
            asyncio.create_task(self._repeat("pruner", self._prune_once)),
        ]
        settler = asyncio.create_task(self._settle_loop())
        mail = asyncio.create_task(self.mailer.run(self._stopping)) if self.mailer else None
        try:
            await self._stopping.wait()
        finally:
            if mail is not None:  # it finishes the email in hand, then returns
                await asyncio.gather(mail, return_exceptions=True)
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self._finish_jobs_in_flight()
            await self._deliverable.close()
            self._settled.put_nowait(None)
            await settler

    async def _repeat(self, name: str, iteration: Callable[[], Awaitable[float]]) -> None:
        """Run `iteration` forever; it returns the pause before the next run. An outage of Redis
        or Postgres, or a bug, is logged and waited out: the worker outlives both. Until it is
        cancelled, even when the cancellation surfaces as another error: asyncpg, cancelled in a
        transaction, may raise its rollback's failure instead."""
        this = asyncio.current_task()
        failures = 0
        while True:
            try:
                pause = await iteration()
                failures = 0
            except ResponseError as exc:
                if not is_missing_group(exc):
                    log.exception("push %s failed", name)
                    pause = 1.0
                else:  # a fresh (or restarted, empty) Redis
                    await self._create_group()
                    pause = 0.0
            except (*REDIS_ERRORS, *DB_OUTAGES) as exc:
                failures += 1
                pause = min(OUTAGE_PAUSE_MAX_S, 0.1 * 2**failures)
                log.warning(
                    "push %s: %s (%s); again in %.1fs", name, type(exc).__name__, exc, pause
                )
            except Exception:
                log.exception("push %s failed", name)
                pause = 1.0
            if this is not None and this.cancelling():
                raise asyncio.CancelledError
            if pause:
                await asyncio.sleep(pause)

    async def _create_group(self) -> None:
        try:
            await self._stream.ensure_group()
        except REDIS_ERRORS as exc:
            log.warning("push: cannot create the consumer group yet: %s", type(exc).__name__)

    def _room_left(self) -> int:
        return self._max_jobs - len(self._in_flight)

    async def _read_once(self) -> float:
        room = self._room_left()
        if room <= 0:
            self._room.clear()
            await self._room.wait()
            return 0.0
        batch = min(room, self._settings.push_batch_size)
        await self._accept(await self._stream.read_new(batch, READ_BLOCK_MS))
        return 0.0

    async def _reclaim_once(self) -> float:
        idle_ms = int(self._settings.push_reclaim_idle_s * 1000)
        start = "0-0"
        while (room := self._room_left()) > 0:
            batch = min(room, self._settings.push_batch_size)
            start, entries = await self._stream.reclaim(idle_ms, start, batch)
            if entries:
                log.info("push: reclaimed %d unacknowledged jobs", len(entries))
                await self._accept(entries)
            if start == "0-0":
                break
        await self._stream.forget_gone_consumers(int(GONE_CONSUMER_IDLE_S * 1000))
        return max(0.1, self._settings.push_reclaim_idle_s / 4)

    async def _promote_once(self) -> float:
        moved = await self._stream.promote_due(self._settings.push_batch_size)
        return 0.0 if moved >= self._settings.push_batch_size else PROMOTE_INTERVAL_S

    async def _sweep_once(self) -> float:
        with self.metrics.process.sweep("push_jobs"):
            async with self._pool.acquire() as conn:
                lost = await sweep_lost_jobs(conn, self._settings.push_sweep_grace_s, SWEEP_BATCH)
        if lost:
            log.info("push: re-emitting %d pending jobs that Redis no longer holds", len(lost))
            await add_push_jobs(self._redis, lost)
        return 0.0 if len(lost) == SWEEP_BATCH else self._settings.push_sweep_interval_s

    async def _prune_once(self) -> float:
        retention_s = self._settings.push_delivery_retention_s
        async with self._pool.acquire() as conn:
            pruned = await prune_deliveries(conn, retention_s, SWEEP_BATCH)
        return 0.0 if pruned == SWEEP_BATCH else PRUNE_INTERVAL_S

    async def _accept(self, entries: list[Entry]) -> None:
        """Claim the jobs of freshly read entries and start them; settle duplicates."""
        fresh: dict[uuid.UUID, list[str]] = {}
        request_ids: dict[uuid.UUID, str] = {}
        unreadable: list[str] = []
        for entry_id, job_id, request_id in entries:
            if request_id is not None and job_id is not None:
                request_ids[job_id] = request_id
            if job_id is None:
                unreadable.append(entry_id)
            elif job_id in self._in_flight:  # a twin of a job running here: settled with it
                self._in_flight[job_id].append(entry_id)
            else:
                fresh.setdefault(job_id, []).append(entry_id)
        if unreadable:
            log.warning("push: dropping %d entries without a notification id", len(unreadable))
            await self._stream.ack(unreadable)
        if not fresh:
            return
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                jobs = await claim_jobs(conn, list(fresh), self._lease_s)
                to_send, held, muted = self._decide(jobs)
                await record_decisions(conn, held, muted)
            claimed = {job.notification.id for job in jobs}
            others = [job_id for job_id in fresh if job_id not in claimed]
            waits = await wait_times(conn, others) if others else {}
        for job in to_send:
            self._in_flight[job.notification.id] = fresh[job.notification.id]
            task = asyncio.create_task(self._run_job(job, request_ids.get(job.notification.id)))
            self._job_tasks.add(task)
            task.add_done_callback(self._job_tasks.discard)
        # Not claimed: finished or gone (acknowledge), not due yet (back to the retry set), or
        # leased by another worker (left unacknowledged: looked at again when reclaimed).
        # Held: back to the retry set until the quiet hours end; muted: settled.
        later = {job_id: wait for job_id, wait in waits.items() if wait > 0}
        await self._stream.schedule({**later, **held})
        done = [
            e for job_id in others if job_id not in waits or job_id in later for e in fresh[job_id]
        ]
        await self._stream.ack(done + _entries_of(fresh, [*held, *muted]))

    def _decide(
        self, jobs: list[ClaimedJob]
    ) -> tuple[list[ClaimedJob], dict[uuid.UUID, float], list[uuid.UUID]]:
        """Split claimed jobs by their recipients' settings, now: to send, to hold (seconds until
        the quiet hours end), to mute (also those a block hides)."""
        now = self._clock()
        to_send: list[ClaimedJob] = []
        held: dict[uuid.UUID, float] = {}
        muted: list[uuid.UUID] = []
        for job in jobs:
            decision = "mute" if job.hidden else job.settings.decide(job.notification.type, now)
            if decision == "send":
                to_send.append(job)
            elif decision == "mute":
                muted.append(job.notification.id)
            else:
                held[job.notification.id] = max(0.0, (decision - now).total_seconds())
                log.info("push %s held by quiet hours until %s", job.notification.id, decision)
        return to_send, held, muted

    async def _run_job(self, job: ClaimedJob, request_id: str | None) -> None:
        # Its own task: every line about this job carries the id of the request that caused it.
        request_id_var.set(request_id)
        try:
            settlement = await self._attempt(job)
        except Exception:
            log.exception("push job %s failed; retrying it", job.notification.id)
            settlement = self._retry_or_give_up(job, [], "worker error", None)
        self._settled.put_nowait(settlement)

    async def _attempt(self, job: ClaimedJob) -> Settlement:
        message = build_message(job.notification, self._lifetimes)
        job_id = job.notification.id
        results = await asyncio.gather(*(self._send(message, job_id, d) for d in job.devices))
        deliveries: list[Delivery] = []
        failing: list[SendResult] = []
        for device, result in zip(job.devices, results, strict=True):
            if result is None:  # withdrawn since the claim: nothing to record or retry
                continue
            if result.outcome is Outcome.RETRY:
                failing.append(result)
                continue
            if result.outcome is not Outcome.SENT:
                log.info(
                    "push %s to device %s: %s (%s)",
                    job.notification.id,
                    token_hint(device.token),
                    result.outcome,
                    result.detail,
                )
            deliveries.append(Delivery(device.token, _RECORDED[result.outcome], result.detail))
        if not failing:
            log.info("push %s settled: %d device(s)", job.notification.id, len(deliveries))
            return Settlement(job.notification.id, "sent", deliveries, job.attempt)
        details = ", ".join(sorted({r.detail for r in failing}))
        reason = f"{len(failing)} device(s) failing: {details}"
        retry_after = max((r.retry_after_s or 0.0) for r in failing)
        return self._retry_or_give_up(job, deliveries, reason, retry_after)

    def _retry_or_give_up(
        self, job: ClaimedJob, deliveries: list[Delivery], reason: str, retry_after: float | None
    ) -> Settlement:
        notification_id = job.notification.id
        if job.attempt >= self._settings.push_max_attempts:
            log.warning(
                "push %s set aside after %d attempts: %s", notification_id, job.attempt, reason
            )
            self.metrics.dead_letters.inc()
            return Settlement(notification_id, "dead", deliveries, job.attempt, reason=reason)
        wait = retry_delay(
            job.attempt,
            retry_after,
            base_s=self._settings.push_retry_base_s,
            cap_s=self._settings.push_retry_max_s,
        )
        log.info("push %s: %s; attempt %d in %.1fs", notification_id, reason, job.attempt + 1, wait)
        self.metrics.retries.inc()
        return Settlement(notification_id, "pending", deliveries, job.attempt, retry_in_s=wait)

    async def _send(
        self, message: dict[str, Any], job_id: uuid.UUID, device: Device
    ) -> SendResult | None:
        """The device's answer; None when the push may no longer go out."""
        async with self._send_slots:
            # After the wait for a slot, which is where a claimed job waits longest: a deletion,
            # a sign-out or a block since the claim leaves only this query's round trip in
            # which the push could still go.
            try:
                deliverable = await self._deliverable.get((job_id, device.token))
            except Exception as exc:  # sent only when known to be allowed
                log.warning("push %s: cannot check it may go (%s)", job_id, type(exc).__name__)
                return SendResult(Outcome.RETRY, f"check: {type(exc).__name__}")
            if not deliverable:
                log.info("push %s to device %s withdrawn", job_id, token_hint(device.token))
                return None
            try:
                result = await self._sender.send(for_device(message, device.token))
            except Exception:  # a sender reports failures as results; this is a bug, not an outage
                log.exception("push to device %s failed", token_hint(device.token))
                result = SendResult(Outcome.RETRY, "sender error")
        self.metrics.sent(result)
        return result

    async def _settle_loop(self) -> None:
        while True:
            first = await self._settled.get()
            if first is None:
                return
            batch = [first]
            last = False
            while len(batch) < SETTLE_BATCH and not self._settled.empty():
                item = self._settled.get_nowait()
                if item is None:
                    last = True
                    break
                batch.append(item)
            await self._settle(batch)
            if last:
                return

    async def _settle(self, batch: list[Settlement]) -> None:
        pause = 0.1
        while True:
            try:
                async with self._pool.acquire() as conn:
                    await settle_jobs(conn, batch)
                break
            except DB_OUTAGES as exc:
                if self._stopping.is_set():
                    log.warning("push: %d attempts not recorded at shutdown", len(batch))
                    self._release(batch)
                    return
                log.warning("push: cannot record attempts (%s); again", type(exc).__name__)
                await asyncio.sleep(pause)
                pause = min(OUTAGE_PAUSE_MAX_S, pause * 2)
            except asyncpg.PostgresError:
                # Unacknowledged, these jobs come back through reclaim once their leases end.
                log.exception("push: %d attempts could not be recorded", len(batch))
                self._release(batch)
                return
        entry_ids = self._release(batch)
        retries = {s.notification_id: s.retry_in_s for s in batch if s.state == "pending"}
        try:
            await self._stream.schedule(retries)
            await self._stream.ack(entry_ids)
        except REDIS_ERRORS as exc:
            # The rows are settled; reclaim or the sweeper brings the rest back.
            log.warning("push: Redis unavailable after settling (%s)", type(exc).__name__)

    def _release(self, batch: list[Settlement]) -> list[str]:
        entry_ids = [e for s in batch for e in self._in_flight.pop(s.notification_id, [])]
        self._room.set()
        return entry_ids

    async def _finish_jobs_in_flight(self) -> None:
        if not self._job_tasks:
            return
        _, unfinished = await asyncio.wait(
            self._job_tasks, timeout=self._settings.shutdown_timeout_s
        )
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
