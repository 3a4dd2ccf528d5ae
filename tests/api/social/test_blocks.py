"""Blocking someone (CONTRACT section 3, Blocks). That every route naming the blocker hides it
from the blocked person is tests/api/test_blocked_routes.py."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from shared.walk_events import walk_channel
from tests.api.walk_support import post_walk
from tests.support import Api, User, assert_error


async def block(api: Api, blocker: User, blocked: User, expect: int = 201) -> Any:
    return await api.call("POST", f"/users/{blocked.id}/block", blocker, expect=expect)


async def public_walk(api: Api, user: User) -> str:
    return str((await post_walk(api, user))["id"])


async def test_block_is_201_then_200_and_listed_newest_first(api: Api) -> None:
    me, bori, choco = await api.signup(), await api.signup("보리"), await api.signup("초코")
    assert await block(api, me, bori) == {"user_id": bori.id, "blocked": True}
    await block(api, me, bori, expect=200)
    await block(api, me, choco)
    page = await api.call("GET", "/me/blocks", me, expect=200, params={"limit": "1"})
    assert [item["id"] for item in page["items"]] == [choco.id]
    assert page["items"][0]["nickname"] == "초코"
    rest = await api.call(
        "GET", "/me/blocks", me, expect=200, params={"before": page["next_cursor"]}
    )
    assert [item["id"] for item in rest["items"]] == [bori.id]
    assert rest["next_cursor"] is None


async def test_blocking_yourself_is_422_and_an_unknown_user_404(api: Api) -> None:
    me = await api.signup()
    assert_error(await block(api, me, me, expect=422), "validation_error")
    ghost = User(str(uuid.uuid4()), "", "", "", "")
    assert_error(await block(api, me, ghost, expect=404), "not_found")


async def test_unblocking_answers_204_alike_for_a_blocked_a_stranger_and_an_unknown_id(
    api: Api,
) -> None:
    """The answer must not tell a blocked account from an id that names no one."""
    me, bori, stranger = await api.signup(), await api.signup(), await api.signup()
    await block(api, me, bori)
    ghost = User(str(uuid.uuid4()), "", "", "", "")
    for other in (bori, stranger, ghost):
        resp = await api.client.delete(f"/users/{other.id}/block", headers=me.headers)
        assert (resp.status, await resp.read()) == (204, b"")


async def test_unblock_is_204_and_lets_them_see_the_blocker_again(api: Api) -> None:
    me, bori = await api.signup(), await api.signup()
    await block(api, me, bori)
    await api.call("GET", f"/users/{me.id}", bori, expect=404)
    await api.call("DELETE", f"/users/{bori.id}/block", me, expect=204)
    await api.call("DELETE", f"/users/{bori.id}/block", me, expect=204)
    await api.call("GET", f"/users/{me.id}", bori, expect=200)
    assert (await api.call("GET", "/me/blocks", me, expect=200))["items"] == []


async def test_block_removes_the_follows_both_ways(api: Api, db: asyncpg.Connection) -> None:
    me, bori = await api.signup(), await api.signup()
    await api.follow(me, bori)
    await api.follow(bori, me)
    await block(api, me, bori)
    assert await db.fetchval("SELECT count(*) FROM follows") == 0
    # Unblocking does not bring them back.
    await api.call("DELETE", f"/users/{bori.id}/block", me, expect=204)
    assert await db.fetchval("SELECT count(*) FROM follows") == 0


async def test_neither_may_follow_or_invite_the_other(api: Api) -> None:
    me, bori = await api.signup(), await api.signup()
    await block(api, me, bori)
    assert_error(await api.call("POST", f"/users/{me.id}/follow", bori, expect=404), "not_found")
    assert_error(await api.call("POST", f"/users/{bori.id}/follow", me, expect=409), "conflict")
    invite_me = {"invitee_id": me.id}
    await api.call("POST", "/invitations", bori, expect=404, json=invite_me)
    await api.call("POST", "/invitations", me, expect=409, json={"invitee_id": bori.id})


async def test_the_blocker_still_sees_the_blocked_profile_and_the_blocked_may_block_back(
    api: Api,
) -> None:
    me, bori = await api.signup(), await api.signup()
    await block(api, me, bori)
    profile = await api.call("GET", f"/users/{bori.id}", me, expect=200)
    assert profile["id"] == bori.id
    await block(api, bori, me)
    await api.call("DELETE", f"/users/{bori.id}/block", me, expect=204)
    await api.call("GET", f"/users/{bori.id}", me, expect=404)


async def test_block_cancels_a_pending_invitation_either_way(api: Api) -> None:
    me, bori = await api.signup(), await api.signup()
    sent = await api.call("POST", "/invitations", bori, expect=201, json={"invitee_id": me.id})
    await block(api, me, bori)
    mine = await api.call("GET", f"/invitations/{sent['id']}", me, expect=200)
    assert mine["status"] == "cancelled" and mine["ended_at"] is not None
    await api.call("GET", f"/invitations/{sent['id']}", bori, expect=404)
    listed = await api.call("GET", "/invitations", bori, expect=200)
    assert listed["items"] == []


async def test_block_ends_a_live_walk_and_tells_the_gateways(
    api: Api, redis: aioredis.Redis
) -> None:
    me, bori = await api.signup(), await api.signup()
    walk = await api.call("POST", "/invitations", me, expect=201, json={"invitee_id": bori.id})
    await api.call("POST", f"/invitations/{walk['id']}/accept", bori, expect=200)
    pubsub = redis.pubsub()
    await pubsub.subscribe(walk_channel(walk["id"]))
    try:
        await block(api, bori, me)
        message = None
        while message is None:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
    finally:
        await pubsub.aclose()
    assert json.loads(message["data"]) == {
        "type": "walk_ended",
        "invitation_id": walk["id"],
        "status": "cancelled",
    }


async def test_neither_appears_to_the_other_in_the_feed(api: Api) -> None:
    me, bori = await api.signup(), await api.signup()
    await api.follow(me, bori)
    await api.follow(bori, me)
    mine, theirs = await public_walk(api, me), await public_walk(api, bori)
    await block(api, bori, me)
    assert [w["id"] for w in (await api.call("GET", "/feed", me, expect=200))["items"]] == [mine]
    bori_feed = await api.call("GET", "/feed", bori, expect=200)
    assert [w["id"] for w in bori_feed["items"]] == [theirs]


async def test_neither_appears_to_the_other_in_follower_lists(api: Api) -> None:
    me, bori, star = await api.signup(), await api.signup(), await api.signup()
    await api.follow(me, star)
    await api.follow(bori, star)
    await api.follow(star, me)
    await api.follow(star, bori)
    await block(api, me, bori)
    for viewer, hidden in ((me, bori), (bori, me)):
        for which in ("followers", "following"):
            page = await api.call("GET", f"/users/{star.id}/{which}", viewer, expect=200)
            listed = [item["user"]["id"] for item in page["items"]]
            assert hidden.id not in listed and len(listed) == 1, (which, listed)
    # Others still see both.
    page = await api.call("GET", f"/users/{star.id}/followers", star, expect=200)
    assert len(page["items"]) == 2


async def test_the_blocked_person_gets_404_for_the_blockers_walks(api: Api) -> None:
    me, bori = await api.signup(), await api.signup()
    walk_id = await public_walk(api, me)
    await block(api, me, bori)
    await api.call("GET", f"/walks/{walk_id}", bori, expect=404)
    await api.call("POST", f"/walks/{walk_id}/likes", bori, expect=404)
    page = await api.call("GET", f"/users/{me.id}/walks", bori, expect=404)
    assert_error(page, "not_found")
    # The blocker reads the blocked person's public walks as before.
    theirs = await public_walk(api, bori)
    await api.call("GET", f"/walks/{theirs}", me, expect=200)


async def test_deleting_either_account_leaves_no_block_row(
    api: Api, db: asyncpg.Connection
) -> None:
    me, bori, choco = await api.signup(), await api.signup(), await api.signup()
    await block(api, me, bori)
    await block(api, choco, me)
    await db.execute("DELETE FROM users WHERE id = $1", uuid.UUID(me.id))
    assert await db.fetchval("SELECT count(*) FROM blocks") == 0


async def test_neither_finds_the_other_in_search(api: Api) -> None:
    me, bori = await api.signup("산책길초코"), await api.signup("산책길보리")

    async def found(viewer: User) -> list[str]:
        page = await api.call("GET", "/users", viewer, expect=200, params={"query": "산책길"})
        return [item["id"] for item in page["items"]]

    assert await found(me) == [bori.id]
    await block(api, bori, me)
    assert await found(me) == []
    assert await found(bori) == []
