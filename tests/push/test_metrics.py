"""The push worker's internal listener: sends by result, dead letters, retries, the backlog."""

from __future__ import annotations

import time

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from services.api.notifications.push_jobs import add_push_jobs
from services.api.push_worker.job_stream import RETRY_KEY, JobStream
from services.api.push_worker.metrics import PushMetrics
from shared.metrics import ProcessMetrics
from shared.settings import Settings
from tests.push.conftest import (
    add_device,
    create_notification,
    create_user,
    eventually,
    running_worker,
    settled,
)
from tests.push.fake_google import UNREGISTERED, FakeGoogle, unavailable
from tests.support import sample_value, scrape

PUSH_FAMILIES = {
    "withbowwow_push_sends",
    "withbowwow_push_dead_letters",
    "withbowwow_push_pending",
    "withbowwow_push_pending_age_seconds",
    "withbowwow_push_retries",
    "withbowwow_push_in_flight",
    "withbowwow_push_oauth_refreshes",
    "withbowwow_sweeper_duration_seconds",
    "withbowwow_db_pool_connections",
    "withbowwow_redis_ping_seconds",
    "process_cpu_seconds",
}


async def test_worker_metrics_count_sends_by_result_and_dead_letters(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings: Settings,
) -> None:
    jobs = []
    for device, replies in (
        ("fine", ()),
        ("gone", (UNREGISTERED,)),
        ("down", (unavailable(),) * push_settings.push_max_attempts),
    ):
        user = await create_user(db, device)
        await add_device(db, user, device)
        fake_google.script(device, *replies)
        jobs.append(await create_notification(db, user))
    await add_push_jobs(redis, jobs)
    async with running_worker(push_settings) as worker:
        await eventually(settled(db, jobs[0]))
        await eventually(settled(db, jobs[2], "dead"), timeout_s=30)
        families = await scrape(worker.metrics.port)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{worker.metrics.port}/healthz") as health,
        ):
            assert health.status == 200

    assert set(families) >= PUSH_FAMILIES
    sends = families["withbowwow_push_sends"]
    assert sample_value(sends, "withbowwow_push_sends_total", result="ok") == 1
    assert sample_value(sends, "withbowwow_push_sends_total", result="UNREGISTERED") == 1
    unavailable_sends = sample_value(sends, "withbowwow_push_sends_total", result="UNAVAILABLE")
    assert unavailable_sends == push_settings.push_max_attempts
    dead = families["withbowwow_push_dead_letters"]
    assert sample_value(dead, "withbowwow_push_dead_letters_total") == 1
    retries = families["withbowwow_push_retries"]
    assert (
        sample_value(retries, "withbowwow_push_retries_total")
        == push_settings.push_max_attempts - 1
    )
    refreshes = families["withbowwow_push_oauth_refreshes"]
    assert sample_value(refreshes, "withbowwow_push_oauth_refreshes_total", result="ok") >= 1
    sweeps = families["withbowwow_sweeper_duration_seconds"]
    assert (
        sample_value(sweeps, "withbowwow_sweeper_duration_seconds_count", sweeper="push_jobs") >= 1
    )


async def test_pending_counts_unread_and_retrying_jobs_and_the_oldest_ones_age(
    db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    metrics = PushMetrics(ProcessMetrics())
    metrics.watch(redis, lambda: 0)
    await metrics.process.refresh()
    assert (metrics.pending._value.get(), metrics.pending_age._value.get()) == (0, 0)

    stream = JobStream(redis, "nobody")
    await stream.ensure_group()
    user = await create_user(db, "보리")
    waiting = [await create_notification(db, user) for _ in range(3)]
    started = time.time()
    await add_push_jobs(redis, waiting)
    await redis.zadd(RETRY_KEY, {"00000000-0000-0000-0000-000000000001": started * 1000})
    await metrics.process.refresh()
    assert metrics.pending._value.get() == 4
    assert 0 <= metrics.pending_age._value.get() <= time.time() - started + 1

    await stream.read_new(3, 0)  # read by a worker: in flight there, no longer waiting
    await metrics.process.refresh()
    assert (metrics.pending._value.get(), metrics.pending_age._value.get()) == (1, 0)
