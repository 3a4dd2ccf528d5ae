"""Notification settings in the push worker (CONTRACT section 3): quiet hours in Asia/Seoul hold
every push but the two invitation types until they end, or until they are switched off; a type
switched off is listed in-app but never pushed; a held push is sent once, across restarts too.

The worker's clock is moved (it runs at real speed from a chosen Seoul time), never slept on."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import redis.asyncio as aioredis

from services.api.notifications.push_jobs import add_push_jobs
from services.api.push_worker.job_stream import RETRY_KEY
from services.api.push_worker.worker import Clock, utc_now
from services.api.web.seoul_time import SEOUL
from shared.settings import Settings
from tests.api.walk_support import post_walk
from tests.push.conftest import (
    add_device,
    create_notification,
    create_user,
    eventually,
    running_worker,
    settled,
)
from tests.push.fake_google import FakeGoogle
from tests.support import Api

# The contract's bound on a release after quiet hours are switched off.
RELEASE_BOUND_S = 15.0


def clock_reading(seoul_wall: dt.time) -> Clock:
    """A clock running at real speed that reads `seoul_wall`, today in Seoul, now."""
    target = dt.datetime.combine(dt.datetime.now(SEOUL).date(), seoul_wall, tzinfo=SEOUL)
    offset = target - utc_now()
    return lambda: utc_now() + offset


def quiet_around_now() -> dict[str, str]:
    """Quiet hours holding the real time now (an hour either side, in Seoul)."""
    now = dt.datetime.now(SEOUL)
    return {
        "start": (now - dt.timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + dt.timedelta(hours=1)).strftime("%H:%M"),
    }


async def set_quiet_hours(db: asyncpg.Connection, user: uuid.UUID, start: str, end: str) -> None:
    await db.execute(
        "INSERT INTO notification_settings (user_id, quiet_start, quiet_end) VALUES ($1, $2, $3)",
        user,
        dt.time.fromisoformat(start),
        dt.time.fromisoformat(end),
    )


def held(db: asyncpg.Connection, notification_id: uuid.UUID) -> object:
    async def check() -> bool:
        return bool(
            await db.fetchval("SELECT push_held FROM notifications WHERE id = $1", notification_id)
        )

    return check


async def held_push(
    db: asyncpg.Connection, redis: aioredis.Redis, device: str
) -> tuple[uuid.UUID, uuid.UUID]:
    """(recipient, a walk_liked notification of theirs emitted as a job), with quiet 22:00-07:00."""
    liker, owner = await create_user(db, "초코"), await create_user(db, "보리")
    await add_device(db, owner, device)
    await set_quiet_hours(db, owner, "22:00", "07:00")
    nid = await create_notification(db, owner, "walk_liked", liker, {"walk_id": str(uuid.uuid4())})
    await add_push_jobs(redis, [nid])
    return owner, nid


async def test_quiet_hours_across_midnight_hold_a_push_until_they_end(
    db: asyncpg.Connection, redis: aioredis.Redis, fake_google: FakeGoogle, push_settings: Settings
) -> None:
    for wall, hours_left in ((dt.time(23, 30), 7.5), (dt.time(0, 30), 6.5)):
        _, nid = await held_push(db, redis, f"phone-{wall.hour}")
        async with running_worker(push_settings, clock=clock_reading(wall)):
            await eventually(held(db, nid), what=f"held at {wall}")
        row = await db.fetchrow(
            """SELECT push_state, push_attempts,
                      extract(epoch FROM push_due_at - now())::float8 AS due_in_s
               FROM notifications WHERE id = $1""",
            nid,
        )
        assert (row["push_state"], row["push_attempts"]) == ("pending", 0)
        assert abs(row["due_in_s"] - hours_left * 3600) < 60, row["due_in_s"]
        assert fake_google.delivered(f"phone-{wall.hour}") == []


async def test_a_held_push_goes_out_once_when_the_quiet_hours_end(
    db: asyncpg.Connection, redis: aioredis.Redis, fake_google: FakeGoogle, push_settings: Settings
) -> None:
    _, nid = await held_push(db, redis, "bori-phone")
    clock = clock_reading(dt.time(6, 59, 58))
    end = dt.datetime.combine(clock().astimezone(SEOUL).date(), dt.time(7), tzinfo=SEOUL)
    async with running_worker(push_settings, clock=clock):
        await eventually(held(db, nid), what="held before 07:00")
        assert fake_google.delivered("bori-phone") == []
        await eventually(settled(db, nid), what="sent after 07:00")
        assert clock() >= end
    [message] = fake_google.delivered("bori-phone")
    assert message["data"]["notification_id"] == str(nid)
    row = await db.fetchrow("SELECT push_held, push_attempts FROM notifications WHERE id = $1", nid)
    assert (row["push_held"], row["push_attempts"]) == (False, 1)


async def test_a_held_push_is_sent_once_across_a_worker_restart(
    db: asyncpg.Connection, redis: aioredis.Redis, fake_google: FakeGoogle, push_settings: Settings
) -> None:
    _, nid = await held_push(db, redis, "bori-phone")
    clock = clock_reading(dt.time(6, 59, 57))
    async with running_worker(push_settings, clock=clock):
        await eventually(held(db, nid), what="held by the first worker")
    assert fake_google.delivered("bori-phone") == []
    async with running_worker(push_settings, clock=clock):
        await eventually(settled(db, nid), what="sent by the second worker")
    assert len(fake_google.delivered("bori-phone")) == 1
    # Nothing is left that could bring the job back: no retry, no unacknowledged entry.
    assert await redis.zscore(RETRY_KEY, str(nid)) is None
    assert await redis.xlen("push:jobs") == 0


async def test_invitation_pushes_are_never_held(
    db: asyncpg.Connection, redis: aioredis.Redis, fake_google: FakeGoogle, push_settings: Settings
) -> None:
    choco, bori = await create_user(db, "초코"), await create_user(db, "보리")
    await add_device(db, bori, "bori-phone")
    await set_quiet_hours(db, bori, **quiet_around_now())
    invitation = {"invitation_id": str(uuid.uuid4())}
    urgent = [
        await create_notification(db, bori, "invitation_received", choco, invitation),
        await create_notification(db, bori, "invitation_accepted", choco, invitation),
    ]
    follow = await create_notification(db, bori, "followed", choco, {"follower_id": str(choco)})
    await add_push_jobs(redis, [follow, *urgent])
    async with running_worker(push_settings):
        await eventually(held(db, follow), what="the follow held")
        for nid in urgent:
            await eventually(settled(db, nid), what="an invitation push sent")
    assert sorted(m["data"]["type"] for m in fake_google.delivered("bori-phone")) == [
        "invitation_accepted",
        "invitation_received",
    ]


async def test_switching_quiet_hours_off_sends_what_they_held_within_15_s(
    api: Api, db: asyncpg.Connection, fake_google: FakeGoogle, push_settings: Settings
) -> None:
    bori, choco = await api.signup("보리"), await api.signup("초코")
    await add_device(db, uuid.UUID(bori.id), "bori-phone")
    quiet = {"quiet_hours": quiet_around_now()}
    await api.call("PATCH", "/me/notification-settings", bori, expect=200, json=quiet)
    async with running_worker(push_settings):
        await api.follow(choco, bori)
        nid = await db.fetchval("SELECT id FROM notifications WHERE type = 'followed'")
        await eventually(held(db, nid), what="the follow held")
        off = {"quiet_hours": None}
        body = await api.call("PATCH", "/me/notification-settings", bori, expect=200, json=off)
        assert body["quiet_hours"] is None
        await eventually(settled(db, nid), timeout_s=RELEASE_BOUND_S, what="released")
    [message] = fake_google.delivered("bori-phone")
    assert message["data"]["type"] == "followed"


async def test_a_type_switched_off_is_listed_in_app_but_never_pushed(
    api: Api, db: asyncpg.Connection, fake_google: FakeGoogle, push_settings: Settings
) -> None:
    bori, choco = await api.signup("보리"), await api.signup("초코")
    await add_device(db, uuid.UUID(bori.id), "bori-phone")
    off = {"push": {"walk_liked": False}}
    await api.call("PATCH", "/me/notification-settings", bori, expect=200, json=off)
    walk = await post_walk(api, bori)
    async with running_worker(push_settings):
        await api.call("POST", f"/walks/{walk['id']}/likes", choco, expect=201)
        await api.follow(choco, bori)  # still on: the worker is seen to push meanwhile
        follow = await db.fetchval("SELECT id FROM notifications WHERE type = 'followed'")
        await eventually(settled(db, follow), what="the follow pushed")
        like = await db.fetchval("SELECT id FROM notifications WHERE type = 'walk_liked'")
        await eventually(settled(db, like, "muted"), what="the like muted")
    listed = await api.call("GET", "/notifications", bori, expect=200)
    assert "walk_liked" in [n["type"] for n in listed["items"]]
    pushed = [m["data"]["type"] for m in fake_google.delivered("bori-phone")]
    assert "followed" in pushed and "walk_liked" not in pushed


async def test_quiet_hours_moved_later_hold_a_held_push_to_their_new_end(
    api: Api, db: asyncpg.Connection, fake_google: FakeGoogle, push_settings: Settings
) -> None:
    bori, choco = await api.signup("보리"), await api.signup("초코")
    await add_device(db, uuid.UUID(bori.id), "bori-phone")
    quiet = quiet_around_now()
    await api.call(
        "PATCH", "/me/notification-settings", bori, expect=200, json={"quiet_hours": quiet}
    )
    due = "SELECT push_held, extract(epoch FROM push_due_at - now())::float8 FROM notifications"
    async with running_worker(push_settings):
        await api.follow(choco, bori)
        await eventually(lambda: db.fetchval(f"{due} WHERE push_held"), what="held")
        later = dt.datetime.now(SEOUL) + dt.timedelta(hours=3)
        moved = {"quiet_hours": {"end": later.strftime("%H:%M")}}
        await api.call("PATCH", "/me/notification-settings", bori, expect=200, json=moved)

        async def held_about_3_hours() -> bool:
            row = await db.fetchrow(due)
            return bool(row[0] and row[1] > 2.5 * 3600)

        await eventually(held_about_3_hours, what="held again, to the new end")
    assert fake_google.delivered("bori-phone") == []
