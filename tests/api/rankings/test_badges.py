"""Badges (CONTRACT section 3, Rankings and badges; the `badge_earned` notification).

Days are Seoul days: Seoul midnight is 15:00 UTC, so the streak tests put walks on either side
of it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg

from services.api.rankings.badges import BADGE_NAMES
from services.api.walks.effects import in_walk_transaction
from shared.db import init_connection
from tests.api.walk_effects_support import (
    UTC,
    badge_codes,
    insert_walk,
    make_user,
    notifications_of,
    record_walk,
)
from tests.api.walk_support import post_walk
from tests.support import Api, assert_error

# Seoul day n (n = 1..) runs from 15:00 UTC of the day before to 14:59:59.999999 UTC of this one.
LAST_INSTANT_OF_SEOUL_DAY_1 = dt.datetime(2026, 11, 2, 14, 59, 59, 999999, tzinfo=UTC)
SEOUL_DAY = dt.timedelta(days=1)


def late_on_seoul_day(n: int) -> dt.datetime:
    """23:59:59.999999 in Seoul on day n."""
    return LAST_INSTANT_OF_SEOUL_DAY_1 + (n - 1) * SEOUL_DAY


def first_instant_of_seoul_day(n: int) -> dt.datetime:
    return late_on_seoul_day(n - 1) + dt.timedelta(microseconds=1)


async def test_first_walk_earns_badge_and_one_notification(db: asyncpg.Connection) -> None:
    user = await make_user(db)
    walk, ids = await record_walk(db, user, late_on_seoul_day(1), distance_m=500)
    assert await badge_codes(db, user) == {"first_walk"}
    [notification] = await notifications_of(db, user, "badge_earned")
    assert ids == [notification["id"]]
    assert notification["actor_id"] is None
    assert notification["data"] == {
        "badge_code": "first_walk",
        "badge_name": BADGE_NAMES["first_walk"],
        "walk_id": str(walk.id),
    }
    _, again = await record_walk(db, user, late_on_seoul_day(3), distance_m=500)
    assert again == []
    assert len(await notifications_of(db, user, "badge_earned")) == 1


async def badge_notification(db: asyncpg.Connection, user: uuid.UUID, code: str) -> asyncpg.Record:
    [notification] = [
        n
        for n in await notifications_of(db, user, "badge_earned")
        if n["data"]["badge_code"] == code
    ]
    return notification


async def test_walk_count_badges_at_exactly_10_and_100_walks(db: asyncpg.Connection) -> None:
    user = await make_user(db)
    for n in range(9):  # every other day: no streak in the way
        await record_walk(db, user, late_on_seoul_day(1 + 2 * n), distance_m=1)
    assert "walks_10" not in await badge_codes(db, user)
    walk, ids = await record_walk(db, user, late_on_seoul_day(30), distance_m=1)
    assert "walks_10" in await badge_codes(db, user)
    notification = await badge_notification(db, user, "walks_10")
    assert ids == [notification["id"]]
    assert notification["data"]["walk_id"] == str(walk.id)

    await db.execute(
        """INSERT INTO walks (user_id, started_at, ended_at, distance_m)
           SELECT $1, $2::timestamptz + i * interval '2 days',
                  $2::timestamptz + i * interval '2 days' + interval '10 minutes', 1
           FROM generate_series(1, 89) AS i""",
        user,
        late_on_seoul_day(40),
    )  # 99 walks now
    assert "walks_100" not in await badge_codes(db, user)
    await record_walk(db, user, late_on_seoul_day(400), distance_m=1)
    assert "walks_100" in await badge_codes(db, user)


async def test_distance_badges_at_exactly_10_and_100_km(db: asyncpg.Connection) -> None:
    user = await make_user(db)
    await record_walk(db, user, late_on_seoul_day(1), distance_m=9_999.5)
    assert "distance_10km" not in await badge_codes(db, user)
    await record_walk(db, user, late_on_seoul_day(3), distance_m=0.5)
    assert "distance_10km" in await badge_codes(db, user)
    await record_walk(db, user, late_on_seoul_day(5), distance_m=89_999.5)
    assert "distance_100km" not in await badge_codes(db, user)
    _, ids = await record_walk(db, user, late_on_seoul_day(7), distance_m=0.5)
    assert ids == [(await badge_notification(db, user, "distance_100km"))["id"]]


async def test_streak_counts_seoul_days_not_utc_days(db: asyncpg.Connection) -> None:
    user = await make_user(db)
    for n in range(1, 7):
        await record_walk(db, user, late_on_seoul_day(n))
    # 23:59:59.999999 in Seoul: still day 6.
    await record_walk(db, user, late_on_seoul_day(6))
    assert "streak_7" not in await badge_codes(db, user)
    # One microsecond later it is day 7 in Seoul, though still the same UTC day as day 6's walks.
    walk, ids = await record_walk(db, user, first_instant_of_seoul_day(7))
    assert walk.started_at.date() == late_on_seoul_day(6).date()
    assert "streak_7" in await badge_codes(db, user)
    assert ids == [(await badge_notification(db, user, "streak_7"))["id"]]


async def test_streak_completed_by_a_walk_filling_the_gap(db: asyncpg.Connection) -> None:
    user = await make_user(db)
    for n in (1, 2, 3, 5, 6, 7):
        await record_walk(db, user, first_instant_of_seoul_day(n))
    assert "streak_7" not in await badge_codes(db, user)
    await record_walk(db, user, late_on_seoul_day(4))
    assert "streak_7" in await badge_codes(db, user)


async def test_streak_needs_seven_days_in_a_row_through_the_new_walk(
    db: asyncpg.Connection,
) -> None:
    user = await make_user(db)
    for n in (1, 2, 3, 4, 5, 6, 8):
        await record_walk(db, user, first_instant_of_seoul_day(n))
    assert "streak_7" not in await badge_codes(db, user)  # day 8's run is one day long
    other = await make_user(db)
    for n in range(1, 7):
        await record_walk(db, other, first_instant_of_seoul_day(n))
    # Day 6 walked again: the run through it is six days.
    await record_walk(db, other, late_on_seoul_day(6))
    assert "streak_7" not in await badge_codes(db, other)


async def test_walk_tied_to_an_invitation_earns_first_walk_together(
    db: asyncpg.Connection,
) -> None:
    user, partner = await make_user(db), await make_user(db, "partner")
    invitation_id = await db.fetchval(
        """INSERT INTO invitations (inviter_id, invitee_id, status, expires_at)
           VALUES ($1, $2, 'finished', now()) RETURNING id""",
        user,
        partner,
    )
    await record_walk(db, user, late_on_seoul_day(1))
    assert "first_walk_together" not in await badge_codes(db, user)
    _, ids = await record_walk(db, user, late_on_seoul_day(3), invitation_id=invitation_id)
    assert await badge_codes(db, user) == {"first_walk", "first_walk_together"}
    assert ids == [(await badge_notification(db, user, "first_walk_together"))["id"]]


async def test_one_walk_can_earn_several_badges_each_notified(db: asyncpg.Connection) -> None:
    user = await make_user(db)
    _, ids = await record_walk(db, user, late_on_seoul_day(1), distance_m=100_000)
    assert await badge_codes(db, user) == {"first_walk", "distance_10km", "distance_100km"}
    notifications = await notifications_of(db, user, "badge_earned")
    assert sorted(ids) == sorted(n["id"] for n in notifications)
    assert [n["data"]["badge_code"] for n in notifications] == [
        "first_walk",
        "distance_10km",
        "distance_100km",
    ]


async def test_concurrent_walks_crossing_a_threshold_together_earn_it(
    db: asyncpg.Connection, database_url: str
) -> None:
    """Two walks recorded at once, the 9th and the 10th: the later commit sees both."""
    user = await make_user(db)
    for n in range(8):
        await record_walk(db, user, late_on_seoul_day(1 + 2 * n), distance_m=1)
    other = await asyncpg.connect(database_url)
    await init_connection(other)
    try:
        first = db.transaction()
        await first.start()
        walk = await insert_walk(db, user, late_on_seoul_day(40), distance_m=1)
        await in_walk_transaction(db, walk)

        async def second_walk() -> None:
            async with other.transaction():
                walk = await insert_walk(other, user, late_on_seoul_day(42), distance_m=1)
                await in_walk_transaction(other, walk)

        second = asyncio.create_task(second_walk())
        await asyncio.sleep(0.2)  # let it reach the lock; correctness does not depend on it
        await first.commit()
        await second
    finally:
        await other.close()
    assert await db.fetchval("SELECT count(*) FROM walks WHERE user_id = $1", user) == 10
    assert "walks_10" in await badge_codes(db, user)


async def test_badges_stay_when_the_walk_is_deleted(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    walk, _ = await record_walk(db, uuid.UUID(user.id), late_on_seoul_day(1))
    await db.execute("DELETE FROM walks WHERE id = $1", walk.id)
    body = await api.call("GET", f"/users/{user.id}/badges", user, expect=200)
    assert [b["code"] for b in body] == ["first_walk"]
    # A new walk earns nothing again.
    _, ids = await record_walk(db, uuid.UUID(user.id), late_on_seoul_day(3))
    assert ids == []


async def test_list_badges_in_earned_order_with_names(api: Api, db: asyncpg.Connection) -> None:
    owner, viewer = await api.signup(), await api.signup()
    owner_id = uuid.UUID(owner.id)
    await record_walk(db, owner_id, late_on_seoul_day(1), distance_m=100)
    await record_walk(db, owner_id, late_on_seoul_day(3), distance_m=10_000)
    body = await api.call("GET", f"/users/{owner.id}/badges", viewer, expect=200)
    assert [b["code"] for b in body] == ["first_walk", "distance_10km"]
    assert body[0] == {
        "code": "first_walk",
        "name": BADGE_NAMES["first_walk"],
        "earned_at": body[0]["earned_at"],
    }
    first, second = (dt.datetime.fromisoformat(b["earned_at"]) for b in body)
    assert first.utcoffset() is not None and first < second
    assert await api.call("GET", f"/users/{viewer.id}/badges", viewer, expect=200) == []


async def test_badges_of_unknown_or_malformed_user_are_404(api: Api) -> None:
    user = await api.signup()
    body = await api.call("GET", f"/users/{uuid.uuid4()}/badges", user, expect=404)
    assert_error(body, "not_found")
    assert_error(await api.call("GET", "/users/not-a-uuid/badges", user, expect=404), "not_found")
    assert_error(await api.call("GET", f"/users/{user.id}/badges", expect=401), "unauthorized")


async def test_only_public_walks_earn_badges_or_count_towards_them(api: Api) -> None:
    """Badges are shown to everyone, so, as in the rankings, a private or followers-only walk
    earns none and its distance, count and day count towards none."""
    walker, viewer = await api.signup(), await api.signup()
    for n in range(1, 7):  # 6 days in a row, 12 km
        visibility = "private" if n % 2 else "followers"
        started = late_on_seoul_day(n) - dt.timedelta(hours=1)
        await post_walk(api, walker, **walk_on(started, 2000, visibility))
    assert await api.call("GET", f"/users/{walker.id}/badges", viewer, expect=200) == []

    started = late_on_seoul_day(7) - dt.timedelta(hours=1)
    await post_walk(api, walker, **walk_on(started, 1000, "public"))
    body = await api.call("GET", f"/users/{walker.id}/badges", viewer, expect=200)
    assert [b["code"] for b in body] == ["first_walk"]


def walk_on(started: dt.datetime, distance_m: float, visibility: str) -> dict[str, object]:
    return {
        "started_at": started.isoformat(),
        "ended_at": (started + dt.timedelta(minutes=30)).isoformat(),
        "distance_m": distance_m,
        "visibility": visibility,
    }
