"""Floods: what one stranger with a script can make someone else's phone receive (CONTRACT
section 3, Notifications and Rate limits). Invitations from one person to another are at most
5 an hour; follows, invitations, likes and comments are limited per user as settings."""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid
from typing import Any

import asyncpg
import pytest

from services.api.app import create_app
from services.api.web import rate_limit
from tests.support import Api, User, assert_error, make_settings


async def invitations_received(db: asyncpg.Connection, user: User) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND type = 'invitation_received'",
        uuid.UUID(user.id),
    )
    return count


async def test_invite_cancel_cycling_reaches_the_victim_five_times_an_hour(
    api: Api, db: asyncpg.Connection
) -> None:
    victim, stranger, friend = await api.signup(), await api.signup(), await api.signup()
    invite = {"invitee_id": victim.id}
    for _ in range(5):
        sent = await api.call("POST", "/invitations", stranger, expect=201, json=invite)
        await api.call("POST", f"/invitations/{sent['id']}/cancel", stranger, expect=200)
    resp = await api.client.post("/invitations", headers=stranger.headers, json=invite)
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) >= 1
    assert_error(await resp.json(), "rate_limited")
    assert await invitations_received(db, victim) == 5
    # The limit is the pair's: others still reach the victim, and the stranger others.
    await api.call("POST", "/invitations", friend, expect=201, json=invite)
    await api.call("POST", "/invitations", stranger, expect=201, json={"invitee_id": friend.id})


@pytest.fixture
async def tight_api(database_url: str, redis_url: str, aiohttp_client: Any) -> Api:
    settings = make_settings(
        database_url,
        redis_url,
        follow_limit_per_user=3,
        invitation_limit_per_user=2,
        like_limit_per_user=2,
        comment_limit_per_user=2,
    )
    return Api(await aiohttp_client(create_app(settings)))


async def test_follows_per_user_are_limited(tight_api: Api) -> None:
    api = tight_api
    me = await api.signup()
    others = [await api.signup() for _ in range(4)]
    for other in others[:3]:
        await api.call("POST", f"/users/{other.id}/follow", me, expect=201)
    body = await api.call("POST", f"/users/{others[3].id}/follow", me, expect=429)
    assert_error(body, "rate_limited")
    # Someone else's budget is their own.
    await api.call("POST", f"/users/{others[3].id}/follow", others[0], expect=201)


async def test_invitations_per_user_are_limited(tight_api: Api) -> None:
    api = tight_api
    me = await api.signup()
    others = [await api.signup() for _ in range(3)]
    for other in others[:2]:
        await api.call("POST", "/invitations", me, expect=201, json={"invitee_id": other.id})
    await api.call("POST", "/invitations", me, expect=429, json={"invitee_id": others[2].id})


async def test_likes_and_comments_per_user_are_limited(tight_api: Api) -> None:
    api = tight_api
    owner, fan = await api.signup(), await api.signup()
    ended = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    walk_in = {
        "started_at": (ended - dt.timedelta(minutes=10)).isoformat(),
        "ended_at": ended.isoformat(),
        "distance_m": 100,
    }
    walk = await api.call("POST", "/walks", owner, expect=201, json=walk_in)
    likes = f"/walks/{walk['id']}/likes"
    await api.call("POST", likes, fan, expect=201)
    await api.call("DELETE", likes, fan, expect=200)
    await api.call("POST", likes, fan, expect=201)
    await api.call("DELETE", likes, fan, expect=200)
    assert_error(await api.call("POST", likes, fan, expect=429), "rate_limited")
    comments = f"/walks/{walk['id']}/comments"
    for _ in range(2):
        await api.call("POST", comments, fan, expect=201, json={"body": "멋져요"})
    await api.call("POST", comments, fan, expect=429, json={"body": "멋져요"})


async def test_the_hour_slides_so_no_burst_doubles_across_a_clock_hour(
    api: Api, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit's try: 5 invitations at :59:57 and 5 more at :00:00 all went through fixed
    clock-hour windows. The hour is the last 60 minutes, whatever the clock says."""
    victim, stranger = await api.signup(), await api.signup()
    edge = (int(time.time()) // 3600 + 1) * 3600
    monkeypatch.setattr(rate_limit, "clock", lambda: edge - 3.0)
    invite = {"invitee_id": victim.id}
    for _ in range(5):
        sent = await api.call("POST", "/invitations", stranger, expect=201, json=invite)
        await api.call("POST", f"/invitations/{sent['id']}/cancel", stranger, expect=200)
    monkeypatch.setattr(rate_limit, "clock", lambda: edge + 0.0)
    resp = await api.client.post("/invitations", headers=stranger.headers, json=invite)
    assert resp.status == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 3600
    assert await invitations_received(db, victim) == 5
    # Most of an hour later, the previous hour's five weigh less than one: one more fits.
    monkeypatch.setattr(rate_limit, "clock", lambda: edge + 3600 * 0.9)
    await api.call("POST", "/invitations", stranger, expect=201, json=invite)


def test_the_sliding_estimate_weighs_the_previous_window_by_what_is_left_of_it() -> None:
    limit = rate_limit.Limit("t", 10, 100)
    # 10 in the previous window, 0 in this one yet, 20% into it: 8 + 1 <= 10 fits.
    assert rate_limit._sliding(limit, 1020.0, 1, 10) is None
    # 50% into it with 5 in this one: 5 + 5 = 10 fits; the 6th does not, and (it counted)
    # a 7th fits once 7 + 10 x (what is left of the previous window) <= 10: at 70%.
    assert rate_limit._sliding(limit, 1050.0, 5, 10) is None
    assert rate_limit._sliding(limit, 1050.0, 6, 10) == 20
    # This window alone is over: its own count must fade during the next one.
    assert rate_limit._sliding(limit, 1099.0, 11, 0) == 1 + math.ceil(100 * (1 - 9 / 11))
    # Never more than a window.
    assert rate_limit._sliding(limit, 1000.0, 100, 0) == 100
