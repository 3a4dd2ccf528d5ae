"""Following, unfollowing and the followers/following lists (CONTRACT section 3, Users)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.support import Api, User, assert_error


async def push_jobs(redis: aioredis.Redis, at_least: int) -> list[Any]:
    """The `push:jobs` entries, once there are `at_least` of them (or after a bounded wait):
    the API emits them in the background after its commit."""
    entries: list[Any] = []
    for _ in range(200):
        entries = await redis.xrange("push:jobs")
        if len(entries) >= at_least:
            break
        await asyncio.sleep(0.025)
    return entries


async def followed_notifications(db: asyncpg.Connection, user: User) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT id, actor_id, data FROM notifications
           WHERE user_id = $1 AND type = 'followed' ORDER BY created_at""",
        uuid.UUID(user.id),
    )


async def test_follow_is_201_then_200_both_with_status_following(api: Api) -> None:
    me, bori = await api.signup(), await api.signup()
    first = await api.call("POST", f"/users/{bori.id}/follow", me, expect=201)
    assert first == {
        "status": "following",
        "user_id": bori.id,
        "following": True,
        "follower_count": 1,
    }
    again = await api.call("POST", f"/users/{bori.id}/follow", me, expect=200)
    assert again == first
    profile = await api.call("GET", f"/users/{bori.id}", me, expect=200)
    assert profile["is_following"] is True
    assert profile["follower_count"] == 1


async def test_follow_counts_every_follower(api: Api) -> None:
    star = await api.signup()
    fans = [await api.signup() for _ in range(3)]
    counts = [
        (await api.call("POST", f"/users/{star.id}/follow", fan, expect=201))["follower_count"]
        for fan in fans
    ]
    assert counts == [1, 2, 3]


async def test_new_follow_notifies_followee_and_emits_push_job(
    api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    me, bori = await api.signup(), await api.signup()
    await api.call("POST", f"/users/{bori.id}/follow", me, expect=201)
    rows = await followed_notifications(db, bori)
    assert len(rows) == 1
    assert rows[0]["actor_id"] == uuid.UUID(me.id)
    assert rows[0]["data"] == {"follower_id": me.id}
    entries = await push_jobs(redis, 1)
    assert [fields[b"notification_id"].decode() for _, fields in entries] == [str(rows[0]["id"])]


async def test_repeated_follow_does_not_notify_again(
    api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    me, bori, choco = await api.signup(), await api.signup(), await api.signup()
    await api.call("POST", f"/users/{bori.id}/follow", me, expect=201)
    await api.call("POST", f"/users/{bori.id}/follow", me, expect=200)
    assert len(await followed_notifications(db, bori)) == 1
    # A later follow's job arrives; the repeated one never added its own.
    await api.call("POST", f"/users/{choco.id}/follow", me, expect=201)
    entries = await push_jobs(redis, 2)
    notified = {fields[b"notification_id"].decode() for _, fields in entries}
    expected = {str(r["id"]) for r in await db.fetch("SELECT id FROM notifications")}
    assert len(entries) == 2
    assert notified == expected


async def test_refollow_after_unfollow_is_new_but_not_notified_again(
    api: Api, db: asyncpg.Connection
) -> None:
    """Within 24 h (tests/api/social/test_follow_requests.py has the day after)."""
    me, bori = await api.signup(), await api.signup()
    await api.call("POST", f"/users/{bori.id}/follow", me, expect=201)
    await api.call("DELETE", f"/users/{bori.id}/follow", me, expect=204)
    body = await api.call("POST", f"/users/{bori.id}/follow", me, expect=201)
    assert body["follower_count"] == 1
    assert len(await followed_notifications(db, bori)) == 1


async def test_following_yourself_is_422_naming_id(api: Api, db: asyncpg.Connection) -> None:
    me = await api.signup()
    body = await api.call("POST", f"/users/{me.id}/follow", me, expect=422)
    assert_error(body, "validation_error")
    assert [d["field"] for d in body["error"]["details"]] == ["id"]
    assert await db.fetchval("SELECT count(*) FROM follows") == 0


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "nope"])
async def test_follow_and_unfollow_unknown_user_is_404(api: Api, method: str, user_id: str) -> None:
    me = await api.signup()
    body = await api.call(method, f"/users/{user_id}/follow", me, expect=404)
    assert_error(body, "not_found")


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_follow_routes_without_token_are_401(
    api: Api, db: asyncpg.Connection, method: str
) -> None:
    bori = await api.signup()
    body = await api.call(method, f"/users/{bori.id}/follow", expect=401)
    assert_error(body, "unauthorized")
    assert await db.fetchval("SELECT count(*) FROM follows") == 0


async def test_unfollow_is_204_and_idempotent(api: Api) -> None:
    me, bori = await api.signup(), await api.signup()
    await api.follow(me, bori)
    assert await api.call("DELETE", f"/users/{bori.id}/follow", me, expect=204) is None
    profile = await api.call("GET", f"/users/{bori.id}", me, expect=200)
    assert (profile["is_following"], profile["follower_count"]) == (False, 0)
    await api.call("DELETE", f"/users/{bori.id}/follow", me, expect=204)


async def test_unfollow_leaves_other_follows(api: Api) -> None:
    me, bori, choco = await api.signup(), await api.signup(), await api.signup()
    await api.follow(me, bori)
    await api.follow(choco, bori)
    await api.follow(bori, me)
    await api.call("DELETE", f"/users/{bori.id}/follow", me, expect=204)
    assert (await api.call("GET", f"/users/{bori.id}", me))["follower_count"] == 1
    assert (await api.call("GET", f"/users/{me.id}", me))["follower_count"] == 1


async def test_followers_list_newest_first_with_user_summaries(api: Api) -> None:
    star = await api.signup("star")
    fans = [await api.signup(f"fan{i}") for i in range(3)]
    for fan in fans:
        await api.follow(fan, star)
    body = await api.call("GET", f"/users/{star.id}/followers", fans[0], expect=200)
    assert body["next_cursor"] is None
    assert [item["user"]["id"] for item in body["items"]] == [f.id for f in reversed(fans)]
    first = body["items"][0]
    assert set(first) == {"user", "followed_at"}
    assert first["user"] == {"id": fans[2].id, "nickname": "fan2", "profile_image_url": None}
    assert first["followed_at"] > body["items"][1]["followed_at"]


async def test_following_list_shows_followees(api: Api) -> None:
    me = await api.signup()
    stars = [await api.signup() for _ in range(2)]
    for star in stars:
        await api.follow(me, star)
    await api.follow(stars[0], me)
    body = await api.call("GET", f"/users/{me.id}/following", stars[1], expect=200)
    assert [item["user"]["id"] for item in body["items"]] == [stars[1].id, stars[0].id]
    followers = await api.call("GET", f"/users/{me.id}/followers", me, expect=200)
    assert [item["user"]["id"] for item in followers["items"]] == [stars[0].id]


@pytest.mark.parametrize("which", ["followers", "following"])
async def test_follow_lists_paginate_one_at_a_time(api: Api, which: str) -> None:
    hub = await api.signup()
    others = [await api.signup() for _ in range(3)]
    for other in others:
        if which == "followers":
            await api.follow(other, hub)
        else:
            await api.follow(hub, other)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params = {"limit": "1"} | ({"before": cursor} if cursor else {})
        body = await api.call("GET", f"/users/{hub.id}/{which}", hub, expect=200, params=params)
        seen += [item["user"]["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [o.id for o in reversed(others)]


async def test_follow_lists_two_per_page_end_with_null_cursor(api: Api) -> None:
    hub = await api.signup()
    for _ in range(2):
        await api.follow(await api.signup(), hub)
    body = await api.call("GET", f"/users/{hub.id}/followers?limit=2", hub, expect=200)
    assert len(body["items"]) == 2
    assert body["next_cursor"] is None


async def test_follow_list_of_user_with_none_is_empty(api: Api) -> None:
    me = await api.signup()
    body = await api.call("GET", f"/users/{me.id}/following", me, expect=200)
    assert body == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("which", ["followers", "following"])
@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "zzz"])
async def test_follow_lists_of_unknown_user_are_404(api: Api, which: str, user_id: str) -> None:
    me = await api.signup()
    assert_error(await api.call("GET", f"/users/{user_id}/{which}", me, expect=404), "not_found")


@pytest.mark.parametrize(
    ("query", "field"), [("limit=0", "limit"), ("limit=101", "limit"), ("before=%%%", "before")]
)
async def test_follow_list_bad_page_params_are_422(api: Api, query: str, field: str) -> None:
    me = await api.signup()
    body = await api.call("GET", f"/users/{me.id}/followers?{query}", me, expect=422)
    assert_error(body, "validation_error")
    assert [d["field"] for d in body["error"]["details"]] == [field]


async def test_follow_lists_without_token_are_401(api: Api) -> None:
    me = await api.signup()
    assert_error(await api.call("GET", f"/users/{me.id}/followers", expect=401), "unauthorized")
