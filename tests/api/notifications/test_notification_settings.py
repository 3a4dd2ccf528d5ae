"""`/me/notification-settings` (CONTRACT section 3), and the rule that decides each push."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from services.api.notifications.notify import NOTIFICATION_TYPES
from services.api.notifications.push_settings import PushSettings, QuietHours
from services.api.web.seoul_time import SEOUL
from tests.api.walk_support import pushed_notification_ids
from tests.support import Api, assert_error

ROUTE = "/me/notification-settings"


async def test_a_new_account_gets_every_type_pushed_and_no_quiet_hours(api: Api) -> None:
    user = await api.signup()
    body = await api.call("GET", ROUTE, user, expect=200)
    assert body == {"push": dict.fromkeys(NOTIFICATION_TYPES, True), "quiet_hours": None}
    assert {"invitation_received", "walk_liked", "badge_earned"} <= set(body["push"])


async def test_patch_changes_only_what_it_names_and_answers_the_whole(api: Api) -> None:
    user, other = await api.signup(), await api.signup()
    body = await api.call("PATCH", ROUTE, user, expect=200, json={"push": {"walk_liked": False}})
    assert body["push"] == {t: t != "walk_liked" for t in NOTIFICATION_TYPES}
    assert body["quiet_hours"] is None
    quiet = {"start": "23:00", "end": "07:30"}
    body = await api.call("PATCH", ROUTE, user, expect=200, json={"quiet_hours": quiet})
    assert body == {
        "push": {t: t != "walk_liked" for t in NOTIFICATION_TYPES},
        "quiet_hours": quiet,
    }
    body = await api.call("PATCH", ROUTE, user, expect=200, json={"quiet_hours": {"end": "06:00"}})
    assert body["quiet_hours"] == {"start": "23:00", "end": "06:00"}
    body = await api.call("PATCH", ROUTE, user, expect=200, json={"push": {"walk_liked": True}})
    assert all(body["push"].values())
    assert await api.call("GET", ROUTE, user, expect=200) == body
    body = await api.call("PATCH", ROUTE, user, expect=200, json={"quiet_hours": None})
    assert body["quiet_hours"] is None
    assert (await api.call("GET", ROUTE, other, expect=200))["quiet_hours"] is None


@pytest.mark.parametrize(
    "patch",
    [
        {"push": {"poked": False}},
        {"push": {"walk_liked": "false"}},
        {"push": {"walk_liked": 0}},
        {"push": None},
        {"quiet_hours": {"start": "24:00", "end": "07:00"}},
        {"quiet_hours": {"start": "7:00", "end": "08:00"}},
        {"quiet_hours": {"start": "22:00:00", "end": "07:00"}},
        {"quiet_hours": {"start": 2200, "end": "07:00"}},
        {"quiet_hours": {"start": "22:00", "end": "22:00"}},
        {"quiet_hours": {"start": "22:00"}},
        {"quiet_hours": {"start": "22:00", "end": "07:00", "zone": "UTC"}},
        {"quiet": None},
    ],
)
async def test_an_unknown_type_or_a_bad_time_is_422_and_changes_nothing(
    api: Api, patch: dict[str, Any]
) -> None:
    user = await api.signup()
    before = await api.call("PATCH", ROUTE, user, expect=200, json={"push": {"followed": False}})
    assert_error(await api.call("PATCH", ROUTE, user, expect=422, json=patch), "validation_error")
    assert await api.call("GET", ROUTE, user, expect=200) == before


async def test_a_lone_quiet_hours_time_needs_quiet_hours_set_and_keeps_the_other(
    api: Api,
) -> None:
    """With none set, the server does not choose the other time: 422 naming the missing one."""
    user = await api.signup()
    for given, missing in (("start", "end"), ("end", "start")):
        patch = {"quiet_hours": {given: "22:00"}}
        error = await api.call("PATCH", ROUTE, user, expect=422, json=patch)
        assert_error(error, "validation_error")
        assert [d["field"] for d in error["error"]["details"]] == [f"quiet_hours.{missing}"]
    assert (await api.call("GET", ROUTE, user, expect=200))["quiet_hours"] is None
    quiet = {"start": "22:00", "end": "07:00"}
    await api.call("PATCH", ROUTE, user, expect=200, json={"quiet_hours": quiet})
    body = await api.call(
        "PATCH", ROUTE, user, expect=200, json={"quiet_hours": {"start": "23:00"}}
    )
    assert body["quiet_hours"] == {"start": "23:00", "end": "07:00"}


async def test_quiet_hours_whose_start_would_equal_their_end_are_422(api: Api) -> None:
    user = await api.signup()
    quiet = {"start": "22:00", "end": "07:00"}
    await api.call("PATCH", ROUTE, user, expect=200, json={"quiet_hours": quiet})
    error = await api.call("PATCH", ROUTE, user, expect=422, json={"quiet_hours": {"end": "22:00"}})
    assert [d["field"] for d in error["error"]["details"]] == ["quiet_hours"]
    assert (await api.call("GET", ROUTE, user, expect=200))["quiet_hours"] == quiet


async def test_a_change_releases_the_callers_held_pushes_at_once(
    api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    user, other = await api.signup(), await api.signup()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)
    held = {}
    for who in (user, other):
        held[who.id] = await db.fetchval(
            """INSERT INTO notifications (user_id, type, push_held, push_due_at)
               VALUES ($1, 'followed', true, $2) RETURNING id""",
            uuid.UUID(who.id),
            later,
        )
    await api.call("PATCH", ROUTE, user, expect=200, json={"quiet_hours": None})
    assert str(held[user.id]) in await pushed_notification_ids(redis, str(held[user.id]))
    rows = {
        r["id"]: (r["push_held"], r["push_due_at"] <= dt.datetime.now(dt.UTC))
        for r in await db.fetch("SELECT id, push_held, push_due_at FROM notifications")
    }
    assert rows == {held[user.id]: (False, True), held[other.id]: (True, False)}


async def test_deleting_the_account_deletes_its_settings(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    await api.call("PATCH", ROUTE, user, expect=200, json={"push": {"followed": False}})
    await db.execute("DELETE FROM users WHERE id = $1", uuid.UUID(user.id))
    assert await db.fetchval("SELECT count(*) FROM notification_settings") == 0


async def test_settings_routes_without_token_are_401(api: Api) -> None:
    for method in ("GET", "PATCH"):
        assert_error(await api.call(method, ROUTE, expect=401, json={}), "unauthorized")


def seoul(hour: int, minute: int = 0, day: int = 2) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=SEOUL)


NIGHT = QuietHours(dt.time(22), dt.time(7))
LUNCH = QuietHours(dt.time(12), dt.time(13, 30))


@pytest.mark.parametrize(
    ("hours", "at", "until"),
    [
        (NIGHT, seoul(21, 59), None),
        (NIGHT, seoul(22), seoul(7, day=3)),
        (NIGHT, seoul(23, 59), seoul(7, day=3)),
        (NIGHT, seoul(0), seoul(7)),
        (NIGHT, seoul(6, 59), seoul(7)),
        (NIGHT, seoul(7), None),
        (LUNCH, seoul(11, 59), None),
        (LUNCH, seoul(12, 30), seoul(13, 30)),
        (LUNCH, seoul(13, 30), None),
        # The same instant written in UTC: Seoul's wall clock decides.
        (NIGHT, dt.datetime(2026, 12, 2, 14, 30, tzinfo=dt.UTC), seoul(7, day=3)),
        (NIGHT, dt.datetime(2026, 12, 2, 12, 30, tzinfo=dt.UTC), None),
    ],
)
def test_quiet_hours_hold_a_push_until_their_next_end_in_seoul(
    hours: QuietHours, at: dt.datetime, until: dt.datetime | None
) -> None:
    decision = PushSettings(quiet_hours=hours).decide("walk_liked", at)
    assert decision == ("send" if until is None else until)


def test_invitations_are_never_held_and_a_type_off_is_muted_even_at_night() -> None:
    settings = PushSettings(off=frozenset({"invitation_received"}), quiet_hours=NIGHT)
    assert settings.decide("invitation_accepted", seoul(23)) == "send"
    assert settings.decide("invitation_received", seoul(23)) == "mute"
    assert settings.decide("invitation_received", seoul(12)) == "mute"
