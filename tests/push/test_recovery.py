"""No push is lost when the worker dies mid-send or Redis restarts empty."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from services.api.notifications.push_jobs import PUSH_STREAM, PushJobEmitter, add_push_jobs
from services.api.push_worker.job_stream import CONSUMER_GROUP, RETRY_KEY
from shared.settings import Settings
from tests.push.conftest import (
    FAST_PUSH,
    PROJECT_ID,
    add_device,
    create_notification,
    create_user,
    eventually,
    running_worker,
    settled,
)
from tests.push.fake_google import FakeGoogle, slow, unavailable
from tools.local_services import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[2]


async def test_a_job_survives_a_worker_killed_mid_send(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings: Settings,
    database_url: str,
    redis_url: str,
    service_account_file: Path,
    fake_base_url: str,
) -> None:
    never = asyncio.Event()
    user = await create_user(db, "보리")
    await add_device(db, user, "phone")
    fake_google.script("phone", slow(never))
    nid = await create_notification(db, user, "followed", None, {"follower_id": "f"})
    await add_push_jobs(redis, [nid])
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET": secrets.token_urlsafe(48),
        "FCM_PROJECT_ID": PROJECT_ID,
        "FCM_CREDENTIALS_FILE": str(service_account_file),
        "FCM_BASE_URL": fake_base_url,
        **{name.upper(): str(value) for name, value in FAST_PUSH.items()},
    }
    doomed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.api.push_worker", cwd=ROOT, env=env
    )
    try:
        await eventually(lambda: fake_google.to("phone"), timeout_s=60, what="first send")
        pending = await redis.xpending(PUSH_STREAM, CONSUMER_GROUP)
        assert pending["pending"] == 1  # read, not acknowledged
    finally:
        doomed.kill()
        await doomed.wait()

    async with running_worker(push_settings):
        await eventually(settled(db, nid), timeout_s=30)

    assert [s.status for s in fake_google.to("phone")] == [None, 200]
    assert (await redis.xpending(PUSH_STREAM, CONSUMER_GROUP))["pending"] == 0
    never.set()


@pytest.fixture
async def private_redis() -> AsyncIterator[EmbeddedRedis]:
    """A Redis of our own to restart (the shared one serves other tests). Short path: unix
    socket paths are limited to about 100 bytes."""
    data_dir = Path(tempfile.mkdtemp(prefix="wbw-redis-"))
    server = EmbeddedRedis(data_dir).start()
    yield server
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


async def test_jobs_survive_a_redis_restart_that_loses_everything(
    db: asyncpg.Connection,
    fake_google: FakeGoogle,
    push_settings_for: Callable[..., Settings],
    private_redis: EmbeddedRedis,
) -> None:
    user = await create_user(db, "보리")
    await add_device(db, user, "phone")
    fake_google.script("phone", unavailable(retry_after="2"))
    waiting = await create_notification(db, user, "followed", None, {"follower_id": "f"})
    client = aioredis.Redis.from_url(private_redis.url)
    settings = push_settings_for(redis_url=private_redis.url, push_sweep_grace_s=1.0)
    try:
        await add_push_jobs(client, [waiting])
        async with running_worker(settings):
            # The first attempt is throttled: the job now waits in the retry set, in Redis only.
            await eventually(lambda: client.zscore(RETRY_KEY, str(waiting)))
            await asyncio.to_thread(private_redis.stop)

            # Created while Redis is down: the API's emit fails quietly.
            unsent = await create_notification(db, user, "walk_liked", None, {"walk_id": "w"})
            emitter = PushJobEmitter(client)
            emitter.emit([unsent])
            await emitter.drain()

            await asyncio.to_thread(private_redis.start)
            for nid in (waiting, unsent):
                await eventually(settled(db, nid), timeout_s=30)
    finally:
        await client.aclose()

    pushed = [m["data"]["notification_id"] for m in fake_google.delivered("phone")]
    assert sorted(pushed) == sorted([str(waiting), str(unsent)])
