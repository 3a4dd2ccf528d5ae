"""Follow requests (CONTRACT section 3, Follow requests) and follows that do not repeat their
notification (Notifications: "following, unfollowing and following again within 24 h notifies
once")."""

from __future__ import annotations

import uuid

import asyncpg
import redis.asyncio as aioredis

from tests.api.social.test_follows import push_jobs
from tests.api.walk_support import post_walk
from tests.support import Api, User, assert_error


async def approving(api: Api) -> User:
    user = await api.signup()
    me = await api.call("PATCH", "/me", user, expect=200, json={"approve_followers": True})
    assert me["approve_followers"] is True
    return user


async def followers_walk(api: Api, user: User) -> str:
    return str((await post_walk(api, user, visibility="followers"))["id"])


async def notifications_of(db: asyncpg.Connection, user: User, type: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT id, actor_id, data FROM notifications WHERE user_id = $1 AND type = $2",
        uuid.UUID(user.id),
        type,
    )


async def test_approve_followers_is_off_by_default_and_refuses_null(api: Api) -> None:
    me = await api.signup()
    assert (await api.call("GET", "/me", me, expect=200))["approve_followers"] is False
    for bad in (None, "yes", 1):
        body = await api.call("PATCH", "/me", me, expect=422, json={"approve_followers": bad})
        assert_error(body, "validation_error")


async def test_following_someone_who_approves_is_a_request_that_grants_nothing(
    api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    star, fan = await approving(api), await api.signup("팬")
    walk_id = await followers_walk(api, star)
    answer = await api.call("POST", f"/users/{star.id}/follow", fan, expect=202)
    assert answer == {"status": "requested"}
    await api.call("POST", f"/users/{star.id}/follow", fan, expect=202)

    [request] = await notifications_of(db, star, "follow_requested")
    assert request["actor_id"] == uuid.UUID(fan.id) and request["data"] == {"requester_id": fan.id}
    entries = await push_jobs(redis, 2)  # the walk's first_walk badge, and the request
    assert str(request["id"]) in {e[b"notification_id"].decode() for _, e in entries}
    assert await notifications_of(db, star, "followed") == []

    # Until approved, the requester sees what a stranger sees.
    await api.call("GET", f"/walks/{walk_id}", fan, expect=404)
    profile = await api.call("GET", f"/users/{star.id}", fan, expect=200)
    assert profile["is_following"] is False and profile["follower_count"] == 0
    listed = await api.call("GET", "/me/follow-requests", star, expect=200)
    assert [(i["id"], i["nickname"]) for i in listed["items"]] == [(fan.id, "팬")]


async def test_approving_makes_the_follow(api: Api) -> None:
    star, fan = await approving(api), await api.signup()
    walk_id = await followers_walk(api, star)
    await api.call("POST", f"/users/{star.id}/follow", fan, expect=202)
    approved = await api.call("POST", f"/me/follow-requests/{fan.id}/approve", star, expect=200)
    assert approved == {"user_id": fan.id, "follower": True}
    await api.call("GET", f"/walks/{walk_id}", fan, expect=200)
    feed = await api.call("GET", "/feed", fan, expect=200)
    assert [w["id"] for w in feed["items"]] == [walk_id]
    assert (await api.call("GET", "/me/follow-requests", star, expect=200))["items"] == []
    # Following again is the existing follow, not a new request.
    assert (await api.call("POST", f"/users/{star.id}/follow", fan, expect=200))["following"]


async def test_declining_drops_the_request(api: Api, db: asyncpg.Connection) -> None:
    star, fan = await approving(api), await api.signup()
    await api.call("POST", f"/users/{star.id}/follow", fan, expect=202)
    await api.call("POST", f"/me/follow-requests/{fan.id}/decline", star, expect=204)
    await api.call("POST", f"/me/follow-requests/{fan.id}/approve", star, expect=404)
    assert await db.fetchval("SELECT count(*) FROM follows") == 0
    assert (await api.call("GET", "/me/follow-requests", star, expect=200))["items"] == []


async def test_unfollowing_withdraws_the_request(api: Api) -> None:
    star, fan = await approving(api), await api.signup()
    await api.call("POST", f"/users/{star.id}/follow", fan, expect=202)
    await api.call("DELETE", f"/users/{star.id}/follow", fan, expect=204)
    assert (await api.call("GET", "/me/follow-requests", star, expect=200))["items"] == []


async def test_switching_approval_off_approves_what_is_pending(api: Api) -> None:
    star = await approving(api)
    fans = [await api.signup() for _ in range(3)]
    walk_id = await followers_walk(api, star)
    for fan in fans:
        await api.call("POST", f"/users/{star.id}/follow", fan, expect=202)
    me = await api.call("PATCH", "/me", star, expect=200, json={"approve_followers": False})
    assert me["approve_followers"] is False
    assert (await api.call("GET", "/me/follow-requests", star, expect=200))["items"] == []
    followers = await api.call("GET", f"/users/{star.id}/followers", star, expect=200)
    assert {item["user"]["id"] for item in followers["items"]} == {fan.id for fan in fans}
    for fan in fans:
        await api.call("GET", f"/walks/{walk_id}", fan, expect=200)
    # From now on a follow is immediate.
    late = await api.signup()
    await api.call("POST", f"/users/{star.id}/follow", late, expect=201)


async def test_a_block_drops_pending_requests_both_ways(api: Api) -> None:
    star, fan = await approving(api), await api.signup()
    await api.call("POST", f"/users/{star.id}/follow", fan, expect=202)
    await api.call("POST", f"/users/{fan.id}/block", star, expect=201)
    assert (await api.call("GET", "/me/follow-requests", star, expect=200))["items"] == []
    await api.call("POST", f"/me/follow-requests/{fan.id}/approve", star, expect=404)


async def test_follow_cycling_by_a_stranger_notifies_and_pushes_once(
    api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    victim, stranger, other = await api.signup(), await api.signup(), await api.signup()
    for _ in range(15):
        await api.call("POST", f"/users/{victim.id}/follow", stranger, expect=201)
        await api.call("DELETE", f"/users/{victim.id}/follow", stranger, expect=204)
    [followed] = await notifications_of(db, victim, "followed")
    # A later follow's push arrives; the cycle added no job of its own after the first.
    await api.call("POST", f"/users/{victim.id}/follow", other, expect=201)
    entries = await push_jobs(redis, 2)
    assert len(entries) == 2
    assert str(followed["id"]) in {e[b"notification_id"].decode() for _, e in entries}
    assert len(await notifications_of(db, victim, "followed")) == 2


async def test_request_cycling_notifies_once(api: Api, db: asyncpg.Connection) -> None:
    victim, stranger = await approving(api), await api.signup()
    for _ in range(10):
        await api.call("POST", f"/users/{victim.id}/follow", stranger, expect=202)
        await api.call("DELETE", f"/users/{victim.id}/follow", stranger, expect=204)
    assert len(await notifications_of(db, victim, "follow_requested")) == 1


async def test_following_again_after_a_day_notifies_again(api: Api, db: asyncpg.Connection) -> None:
    victim, fan = await api.signup(), await api.signup()
    await api.call("POST", f"/users/{victim.id}/follow", fan, expect=201)
    await api.call("DELETE", f"/users/{victim.id}/follow", fan, expect=204)
    await db.execute("UPDATE repeat_notices SET noticed_at = noticed_at - interval '25 hours'")
    await api.call("POST", f"/users/{victim.id}/follow", fan, expect=201)
    assert len(await notifications_of(db, victim, "followed")) == 2
