"""The push worker against real Postgres and Redis and a fake Google speaking FCM HTTP v1."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from services.api.notifications.push_jobs import PUSH_STREAM, add_push_jobs
from services.api.push_worker.dead_letters import list_dead_letters
from services.api.push_worker.job_stream import CONSUMER_GROUP, JobStream
from services.api.push_worker.runtime import CredentialsError, open_worker
from services.api.push_worker.store import Delivery, Settlement, settle_jobs
from shared.settings import Settings
from tests.push.conftest import (
    add_device,
    create_notification,
    create_user,
    eventually,
    running_worker,
    settled,
)
from tests.push.fake_google import (
    INVALID_ARGUMENT,
    UNREGISTERED,
    FakeGoogle,
    quota_exceeded,
    slow,
    unavailable,
)
from tests.support import Api, User

ROOT = Path(__file__).resolve().parents[2]


async def device_tokens(db: asyncpg.Connection) -> set[str]:
    return {r["token"] for r in await db.fetch("SELECT token FROM devices")}


async def test_push_goes_to_every_device_with_korean_text_and_string_data(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings: Settings,
) -> None:
    choco = await create_user(db, "초코")
    bori = await create_user(db, "보리")
    await add_device(db, bori, "bori-android", "android")
    await add_device(db, bori, "bori-iphone", "ios")
    invitation_id = str(uuid.uuid4())
    nid = await create_notification(
        db, bori, "invitation_received", choco, {"invitation_id": invitation_id}
    )
    await add_push_jobs(redis, [nid])

    async with running_worker(push_settings):
        await eventually(settled(db, nid))

    for token in ("bori-android", "bori-iphone"):
        [message] = fake_google.delivered(token)
        assert message["notification"]["body"] == "초코님이 함께 산책을 제안했어요"
        assert message["data"] == {
            "type": "invitation_received",
            "notification_id": str(nid),
            "invitation_id": invitation_id,
            "actor_id": str(choco),
        }
        assert message["android"]["ttl"].endswith("s")
        assert "apns-expiration" in message["apns"]["headers"]
    row = await db.fetchrow("SELECT pushed_at, push_attempts FROM notifications WHERE id = $1", nid)
    assert row["pushed_at"] is not None
    assert row["push_attempts"] == 1
    outcomes = await db.fetch(
        "SELECT device_token, outcome FROM push_deliveries WHERE notification_id = $1", nid
    )
    assert {(r["device_token"], r["outcome"]) for r in outcomes} == {
        ("bori-android", "sent"),
        ("bori-iphone", "sent"),
    }
    assert await redis.xlen(PUSH_STREAM) == 0  # acknowledged and deleted


async def test_unregistered_token_is_deleted_and_not_retried(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings: Settings,
) -> None:
    user = await create_user(db, "보리")
    await add_device(db, user, "stale-token")
    await add_device(db, user, "live-token")
    fake_google.script("stale-token", UNREGISTERED)
    nid = await create_notification(db, user, "followed", None, {"follower_id": "f"})
    await add_push_jobs(redis, [nid])

    async with running_worker(push_settings):
        await eventually(settled(db, nid))

    assert len(fake_google.to("stale-token")) == 1
    assert len(fake_google.delivered("live-token")) == 1
    assert await device_tokens(db) == {"live-token"}


async def test_invalid_argument_is_not_retried_and_the_device_is_kept(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings: Settings,
) -> None:
    user = await create_user(db, "보리")
    await add_device(db, user, "odd-token")
    fake_google.script("odd-token", INVALID_ARGUMENT, INVALID_ARGUMENT)
    nid = await create_notification(db, user, "walk_liked", None, {"walk_id": "w"})
    await add_push_jobs(redis, [nid])

    async with running_worker(push_settings):
        await eventually(settled(db, nid))
        await asyncio.sleep(0.3)  # room for a wrong retry to show up

    assert [s.status for s in fake_google.to("odd-token")] == [400]
    assert await device_tokens(db) == {"odd-token"}
    outcome = await db.fetchval(
        "SELECT outcome FROM push_deliveries WHERE notification_id = $1", nid
    )
    assert outcome == "rejected"


@pytest.mark.parametrize(
    "first_answer",
    [quota_exceeded(retry_after="1"), unavailable(retry_after="1")],
    ids=["429", "503"],
)
async def test_throttled_send_is_retried_no_sooner_than_retry_after(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings: Settings,
    first_answer: Any,
) -> None:
    user = await create_user(db, "보리")
    await add_device(db, user, "busy-token")
    fake_google.script("busy-token", first_answer)
    nid = await create_notification(db, user, "followed", None, {"follower_id": "f"})
    await add_push_jobs(redis, [nid])

    async with running_worker(push_settings):
        await eventually(settled(db, nid))

    throttled, delivered = fake_google.to("busy-token")
    assert (throttled.status, delivered.status) == (first_answer.status, 200)
    assert throttled.answered_at is not None
    assert delivered.arrived_at - throttled.answered_at >= 1.0
    assert await db.fetchval("SELECT push_attempts FROM notifications WHERE id = $1", nid) == 2


async def test_retry_sends_only_to_devices_not_yet_pushed(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings: Settings,
) -> None:
    user = await create_user(db, "보리")
    await add_device(db, user, "flaky-token")
    await add_device(db, user, "fine-token")
    fake_google.script("flaky-token", unavailable(), unavailable())
    nid = await create_notification(db, user, "walk_commented", None, {"walk_id": "w"})
    await add_push_jobs(redis, [nid])

    async with running_worker(push_settings):
        await eventually(settled(db, nid))

    assert [s.status for s in fake_google.to("flaky-token")] == [503, 503, 200]
    assert len(fake_google.to("fine-token")) == 1


async def test_token_endpoint_failing_once_only_delays_the_push(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings: Settings,
) -> None:
    fake_google.fail_token_endpoint(times=1)
    user = await create_user(db, "보리")
    await add_device(db, user, "phone")
    nid = await create_notification(db, user, "followed", None, {"follower_id": "f"})
    await add_push_jobs(redis, [nid])

    async with running_worker(push_settings):
        await eventually(settled(db, nid))

    assert fake_google.token_requests == 2
    assert len(fake_google.delivered("phone")) == 1


async def test_a_job_that_keeps_failing_is_set_aside_and_listed_for_operators(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings: Settings,
    database_url: str,
) -> None:
    user = await create_user(db, "보리")
    await add_device(db, user, "down-token")
    await add_device(db, user, "fine-token")
    fake_google.script("down-token", *[unavailable()] * 10)
    nid = await create_notification(db, user, "badge_earned", None, {"badge_name": "첫 산책"})
    await add_push_jobs(redis, [nid])

    async with running_worker(push_settings):
        await eventually(settled(db, nid, "dead"))

    assert len(fake_google.to("down-token")) == push_settings.push_max_attempts
    assert len(fake_google.delivered("fine-token")) == 1
    [letter] = await list_dead_letters(db, 10)
    assert letter["notification_id"] == nid
    assert letter["attempts"] == push_settings.push_max_attempts
    assert "503 UNAVAILABLE" in letter["reason"]
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.api.push_worker",
        "dead",
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(command.communicate(), timeout=60)
    assert command.returncode == 0
    assert str(nid) in stdout.decode()
    assert "badge_earned" in stdout.decode()


async def test_a_slow_device_does_not_hold_up_other_pushes(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings_for: Callable[..., Settings],
) -> None:
    hold = asyncio.Event()
    slowpoke = await create_user(db, "느림보")
    await add_device(db, slowpoke, "slow-token")
    fake_google.script("slow-token", slow(hold))
    slow_nid = await create_notification(db, slowpoke, "followed", None, {"follower_id": "f"})
    others = []
    for i in range(20):
        user = await create_user(db, f"user{i}")
        await add_device(db, user, f"token-{i}")
        others.append(await create_notification(db, user, "followed", None, {"follower_id": "f"}))
    await add_push_jobs(redis, [slow_nid])
    await add_push_jobs(redis, others)

    async with running_worker(push_settings_for(push_send_timeout_s=60)):
        await eventually(lambda: fake_google.to("slow-token"), what="slow send started")
        for nid in others:
            await eventually(settled(db, nid))
        assert fake_google.to("slow-token")[0].status is None  # still waiting
        hold.set()
        await eventually(settled(db, slow_nid))

    assert len(fake_google.delivered("slow-token")) == 1


async def test_without_credentials_pushes_are_logged_not_sent(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings_for: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await create_user(db, "보리")
    actor = await create_user(db, "초코")
    await add_device(db, user, "phone")
    nid = await create_notification(db, user, "walk_liked", actor, {"walk_id": "w"})
    await add_push_jobs(redis, [nid])
    caplog.set_level(logging.INFO)

    settings = push_settings_for(fcm_project_id=None, fcm_credentials_file=None)
    async with running_worker(settings):
        await eventually(settled(db, nid))

    assert "pushes are LOGGED, not sent" in caplog.text
    assert "초코님이 회원님의 산책을 좋아해요" in caplog.text
    assert "phone" not in caplog.text  # the device token itself is never logged
    assert fake_google.sends == []


async def test_two_workers_never_push_a_device_twice_even_for_duplicate_jobs(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings_for: Callable[..., Settings],
) -> None:
    expected: dict[str, int] = {}
    ids = []
    for i in range(30):
        user = await create_user(db, f"user{i}")
        for device in ("a", "b"):
            await add_device(db, user, f"token-{i}-{device}")
            expected[f"token-{i}-{device}"] = 0
        for _ in range(2):
            ids.append(
                await create_notification(db, user, "walk_commented", None, {"walk_id": "w"})
            )
            expected[f"token-{i}-a"] += 1
            expected[f"token-{i}-b"] += 1
    # Every job emitted twice in a row (as a sweeper's re-emit could), and read one at a time, so
    # the twins of a job usually reach both workers at once.
    await add_push_jobs(redis, [nid for nid in ids for _ in range(2)])
    settings = push_settings_for(push_batch_size=1)
    async with running_worker(settings), running_worker(settings):
        for nid in ids:
            await eventually(settled(db, nid))

        async def all_acknowledged() -> bool:
            pending = await redis.xpending(PUSH_STREAM, CONSUMER_GROUP)
            return pending["pending"] == 0 and await redis.xlen(PUSH_STREAM) == 0

        await eventually(all_acknowledged)

    delivered = {token: len(fake_google.delivered(token)) for token in expected}
    assert delivered == expected
    assert len(fake_google.sends) == sum(expected.values())


async def test_sweeper_sends_a_job_whose_emission_to_redis_was_lost(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings_for: Callable[..., Settings],
) -> None:
    user = await create_user(db, "보리")
    await add_device(db, user, "phone")
    nid = await create_notification(db, user, "followed", None, {"follower_id": "f"})
    # No add_push_jobs: the API's emit failed after its commit.

    async with running_worker(push_settings_for(push_sweep_grace_s=0.5)):
        await eventually(settled(db, nid))

    assert len(fake_google.delivered("phone")) == 1


async def test_following_through_the_api_pushes_the_followee(
    api: Api,
    db: asyncpg.Connection,
    fake_google: FakeGoogle,
    push_settings: Settings,
) -> None:
    choco = await api.signup("초코")
    bori = await api.signup("보리")
    await api.call("POST", "/devices", bori, json={"token": "bori-phone", "platform": "ios"})

    async with running_worker(push_settings):
        await api.follow(choco, bori)
        await eventually(lambda: fake_google.delivered("bori-phone"))

    [message] = fake_google.delivered("bori-phone")
    assert message["notification"]["body"] == "초코님이 회원님을 팔로우하기 시작했어요"
    assert message["data"]["type"] == "followed"
    assert message["data"]["follower_id"] == choco.id


async def test_consumers_of_workers_gone_for_good_are_forgotten(redis: aioredis.Redis) -> None:
    stream = JobStream(redis, "alive")
    await stream.ensure_group()
    for name in ("alive", "gone"):
        await redis.xgroup_createconsumer(PUSH_STREAM, CONSUMER_GROUP, name)
    await add_push_jobs(redis, [uuid.uuid4()])
    await redis.xreadgroup(CONSUMER_GROUP, "holding", {PUSH_STREAM: ">"}, count=1)

    assert await stream.forget_gone_consumers(idle_ms=0) == 1

    consumers = await redis.xinfo_consumers(PUSH_STREAM, CONSUMER_GROUP)
    assert {c["name"] for c in consumers} == {b"alive", b"holding"}


async def test_an_unusable_credentials_file_stops_the_worker_at_start(
    push_settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CredentialsError, match="FCM_CREDENTIALS_FILE"):
        async with open_worker(push_settings_for(fcm_credentials_file=str(broken))):
            pass


async def test_old_delivery_records_are_forgotten_and_recent_ones_kept(
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings_for: Callable[..., Settings],
) -> None:
    user = await create_user(db, "보리")
    await add_device(db, user, "bori-android")
    old = await create_notification(db, user, "followed", None, {"follower_id": "f"})
    await add_push_jobs(redis, [old])
    settings = push_settings_for(push_delivery_retention_s=3600)
    async with running_worker(settings):
        await eventually(settled(db, old))
    await db.execute(
        "UPDATE push_deliveries SET created_at = now() - interval '2 hours' "
        "WHERE notification_id = $1",
        old,
    )
    recent = await create_notification(db, user, "followed", None, {"follower_id": "g"})
    await add_push_jobs(redis, [recent])

    async with running_worker(settings):
        await eventually(settled(db, recent))

        async def pruned() -> bool:
            rows = await db.fetch("SELECT notification_id FROM push_deliveries")
            return [r["notification_id"] for r in rows] == [recent]

        await eventually(pruned, what="the 2-hour-old record pruned, the new one kept")
    assert await db.fetchval("SELECT push_state FROM notifications WHERE id = $1", old) == "sent"


async def test_pending_pushes_to_a_deleted_account_are_not_sent(
    api: Api,
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings: Settings,
) -> None:
    leaver, choco, bori = await api.signup("leaver"), await api.signup("초코"), await api.signup()
    await api.call("POST", "/devices", leaver, json={"token": "leaver-phone", "platform": "ios"})
    await api.call("POST", "/devices", bori, json={"token": "bori-phone", "platform": "android"})
    await api.follow(choco, leaver)  # its push job waits in the stream: no worker runs yet
    await eventually(lambda: _stream_length(redis, 1), what="the job emitted")
    await api.call("DELETE", "/me", leaver, expect=204, json={"password": "correct horse"})
    await api.follow(choco, bori)  # a later job, to know the worker has read past the first

    async with running_worker(push_settings):
        await eventually(lambda: fake_google.delivered("bori-phone"))
        await eventually(lambda: _stream_length(redis, 0), what="every job acknowledged")

    assert fake_google.to("leaver-phone") == []
    assert await device_tokens(db) == {"bori-phone"}


async def test_a_block_mutes_the_pushes_its_actor_had_still_to_cause(
    api: Api,
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings: Settings,
) -> None:
    """Pushes not yet sent when the block comes (in the stream, retrying, held by quiet hours)
    are settled unsent: the blocked person's phone shows nothing of the blocker's from then on."""
    blocker, blocked, friend = await api.signup(), await api.signup(), await api.signup()
    await api.call("POST", "/devices", blocked, json={"token": "blocked-phone", "platform": "ios"})
    await api.follow(blocker, blocked)  # its push job waits in the stream: no worker runs yet
    await eventually(lambda: _stream_length(redis, 1), what="the job emitted")
    await api.call("POST", f"/users/{blocked.id}/block", blocker, expect=201)
    await api.follow(friend, blocked)

    async with running_worker(push_settings):
        await eventually(lambda: fake_google.delivered("blocked-phone"))
        await eventually(lambda: _stream_length(redis, 0), what="every job acknowledged")

    [pushed] = fake_google.delivered("blocked-phone")
    assert pushed["data"]["actor_id"] == friend.id
    states = await db.fetch(
        "SELECT actor_id, push_state FROM notifications WHERE user_id = $1", uuid.UUID(blocked.id)
    )
    assert {(str(r["actor_id"]), r["push_state"]) for r in states} == {
        (blocker.id, "muted"),
        (friend.id, "sent"),
    }


async def _recipient_deleted(api: Api, recipient: User, actor: User) -> None:
    await api.call("DELETE", "/me", recipient, expect=204, json={"password": "correct horse"})


async def _actor_deleted(api: Api, recipient: User, actor: User) -> None:
    await api.call("DELETE", "/me", actor, expect=204, json={"password": "correct horse"})


async def _device_signed_out(api: Api, recipient: User, actor: User) -> None:
    await api.call("DELETE", "/devices/recipient-phone", recipient, expect=204)


async def _actor_blocked_recipient(api: Api, recipient: User, actor: User) -> None:
    await api.call("POST", f"/users/{recipient.id}/block", actor, expect=201)


@pytest.mark.parametrize(
    "change",
    [_recipient_deleted, _actor_deleted, _device_signed_out, _actor_blocked_recipient],
    ids=["recipient deleted", "actor deleted", "device signed out", "blocked"],
)
async def test_a_claimed_push_is_not_sent_after_what_forbids_it_since_its_claim(
    change: Callable[[Api, User, User], Awaitable[None]],
    api: Api,
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    fake_google: FakeGoogle,
    push_settings_for: Callable[..., Settings],
) -> None:
    """The job is claimed, its devices read, and it waits for the only send slot (held by a slow
    device) while the change is made: it must not go out when the slot comes free."""
    busy, recipient, actor, other = [await api.signup() for _ in range(4)]
    await api.call("POST", "/devices", busy, json={"token": "busy-phone", "platform": "ios"})
    await api.call(
        "POST", "/devices", recipient, json={"token": "recipient-phone", "platform": "ios"}
    )
    hold = asyncio.Event()
    fake_google.script("busy-phone", slow(hold))

    async with running_worker(push_settings_for(push_concurrency=1)):
        await api.follow(other, busy)
        await eventually(lambda: fake_google.to("busy-phone"), what="the slot taken")
        await api.follow(actor, recipient)

        async def claimed() -> bool:
            return bool(
                await db.fetchval(
                    "SELECT push_attempts = 1 FROM notifications WHERE user_id = $1",
                    uuid.UUID(recipient.id),
                )
            )

        await eventually(claimed, what="the recipient's push claimed")
        await change(api, recipient, actor)
        hold.set()
        await eventually(lambda: fake_google.delivered("busy-phone"))
        await eventually(lambda: _stream_length(redis, 0), what="every job acknowledged")

    assert fake_google.to("recipient-phone") == []


async def _stream_length(redis: aioredis.Redis, length: int) -> bool:
    return bool(await redis.xlen(PUSH_STREAM) == length)


async def test_a_stopped_loop_ends_even_when_its_cancellation_surfaces_as_a_database_error(
    push_settings: Settings,
) -> None:
    """asyncpg, cancelled inside a transaction, can raise its rollback's InterfaceError in place
    of the CancelledError; the loop must still end, or stopping the worker hangs."""
    started = asyncio.Event()
    disguised: list[bool] = []

    async def iteration() -> float:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if disguised:  # only the first time, so that a failing test still ends
                raise
            disguised.append(True)
            raise asyncpg.InterfaceError("another operation is in progress") from None
        return 0.0

    async with open_worker(push_settings) as worker:
        loop = asyncio.create_task(worker._repeat("test", iteration))
        await started.wait()
        loop.cancel()
        await asyncio.wait({loop}, timeout=10)
        assert loop.cancelled(), "the loop went on after it was cancelled"


async def test_a_notification_gone_since_its_claim_does_not_fail_the_batch(
    db: asyncpg.Connection,
) -> None:
    """Its recipient deleted their account while the push was in flight."""
    leaver, bori = await create_user(db, "leaver"), await create_user(db, "보리")
    gone = await create_notification(db, leaver, "followed", bori, {"follower_id": str(bori)})
    kept = await create_notification(db, bori, "followed", leaver, {"follower_id": str(leaver)})
    await db.execute("DELETE FROM notifications WHERE id = $1", gone)
    sent = [Delivery("a-phone", "sent", "")]
    await settle_jobs(
        db,
        [Settlement(gone, "sent", sent, attempt=1), Settlement(kept, "dead", sent, attempt=8)],
    )
    assert await db.fetchval("SELECT push_state FROM notifications WHERE id = $1", kept) == "dead"
    assert await db.fetchval("SELECT count(*) FROM push_deliveries") == 1
    assert await db.fetchval("SELECT count(*) FROM push_dead_letters") == 1
