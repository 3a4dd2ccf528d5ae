"""The in-app notification list and marking it read (CONTRACT section 3, Notifications)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from tests.api.walk_support import post_walk
from tests.support import Api, User, assert_error


async def get_notifications(api: Api, user: User, **params: str) -> dict[str, Any]:
    body: dict[str, Any] = await api.call("GET", "/notifications", user, expect=200, params=params)
    return body


async def mark_read(api: Api, user: User, payload: Any, expect: int = 200) -> Any:
    return await api.call("POST", "/notifications/read", user, expect=expect, json=payload)


async def test_follow_shows_up_with_its_actor(api: Api) -> None:
    me, fan = await api.signup("me"), await api.signup("fan")
    await api.follow(fan, me)
    body = await get_notifications(api, me)
    assert body["next_cursor"] is None
    assert body["unread_count"] == 1
    [item] = body["items"]
    assert set(item) == {"id", "type", "actor", "data", "created_at", "read_at"}
    assert item["type"] == "followed"
    assert item["actor"] == {"id": fan.id, "nickname": "fan", "profile_image_url": None}
    assert item["data"] == {"follower_id": fan.id}
    assert item["read_at"] is None
    uuid.UUID(item["id"])


async def test_notification_without_actor_has_null_actor(api: Api, db: asyncpg.Connection) -> None:
    me = await api.signup()
    await db.execute(
        """INSERT INTO notifications (user_id, type, data)
           VALUES ($1, 'badge_earned', '{"code": "first_walk"}'::jsonb)""",
        uuid.UUID(me.id),
    )
    [item] = (await get_notifications(api, me))["items"]
    assert (item["type"], item["actor"], item["data"]) == (
        "badge_earned",
        None,
        {"code": "first_walk"},
    )


async def test_list_is_newest_first_and_only_the_callers(api: Api) -> None:
    me, other = await api.signup(), await api.signup()
    fans = [await api.signup() for _ in range(3)]
    for fan in fans:
        await api.follow(fan, me)
    await api.follow(fans[0], other)
    body = await get_notifications(api, me)
    assert [i["actor"]["id"] for i in body["items"]] == [f.id for f in reversed(fans)]
    assert body["unread_count"] == 3
    assert len((await get_notifications(api, other))["items"]) == 1


async def test_list_paginates_one_at_a_time_with_unread_count_on_every_page(api: Api) -> None:
    me = await api.signup()
    fans = [await api.signup() for _ in range(3)]
    for fan in fans:
        await api.follow(fan, me)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params = {"limit": "1"} | ({"before": cursor} if cursor else {})
        body = await get_notifications(api, me, **params)
        assert body["unread_count"] == 3
        seen += [i["actor"]["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f.id for f in reversed(fans)]


@pytest.mark.parametrize(
    ("query", "field"), [("limit=0", "limit"), ("limit=x", "limit"), ("before=nope", "before")]
)
async def test_list_bad_page_params_are_422(api: Api, query: str, field: str) -> None:
    me = await api.signup()
    body = await api.call("GET", f"/notifications?{query}", me, expect=422)
    assert_error(body, "validation_error")
    assert [d["field"] for d in body["error"]["details"]] == [field]


async def test_mark_some_read_by_id(api: Api) -> None:
    me = await api.signup()
    for _ in range(3):
        await api.follow(await api.signup(), me)
    items = (await get_notifications(api, me))["items"]
    assert await mark_read(api, me, {"ids": [items[0]["id"], items[2]["id"]]}) == {
        "unread_count": 1
    }
    after = (await get_notifications(api, me))["items"]
    assert [i["read_at"] is not None for i in after] == [True, False, True]


async def test_mark_all_read(api: Api) -> None:
    me = await api.signup()
    for _ in range(2):
        await api.follow(await api.signup(), me)
    assert await mark_read(api, me, {"all": True}) == {"unread_count": 0}
    body = await get_notifications(api, me)
    assert body["unread_count"] == 0
    assert all(i["read_at"] for i in body["items"])


async def test_marking_twice_keeps_the_first_read_at(api: Api) -> None:
    me = await api.signup()
    await api.follow(await api.signup(), me)
    [item] = (await get_notifications(api, me))["items"]
    await mark_read(api, me, {"ids": [item["id"]]})
    [first] = (await get_notifications(api, me))["items"]
    await mark_read(api, me, {"ids": [item["id"]]})
    await mark_read(api, me, {"all": True})
    [again] = (await get_notifications(api, me))["items"]
    assert first["read_at"] is not None
    assert again["read_at"] == first["read_at"]


async def test_marking_someone_elses_ids_is_ignored(api: Api) -> None:
    me, other = await api.signup(), await api.signup()
    await api.follow(me, other)
    await api.follow(other, me)
    [theirs] = (await get_notifications(api, other))["items"]
    body = await mark_read(api, me, {"ids": [theirs["id"], str(uuid.uuid4())]})
    assert body == {"unread_count": 1}
    assert (await get_notifications(api, other))["unread_count"] == 1


async def test_mark_all_leaves_other_users_unread(api: Api) -> None:
    me, other = await api.signup(), await api.signup()
    await api.follow(me, other)
    await api.follow(other, me)
    await mark_read(api, me, {"all": True})
    assert (await get_notifications(api, other))["unread_count"] == 1


async def test_new_notification_raises_unread_count_again(api: Api) -> None:
    me = await api.signup()
    await api.follow(await api.signup(), me)
    await mark_read(api, me, {"all": True})
    await api.follow(await api.signup(), me)
    assert (await get_notifications(api, me))["unread_count"] == 1


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"ids", "all"}),
        ({"all": False}, {"all"}),
        ({"all": None}, {"ids", "all"}),
        ({"ids": [str(uuid.uuid4())], "all": True}, {"ids", "all"}),
        ({"ids": []}, {"ids"}),
        ({"ids": [str(uuid.uuid4()) for _ in range(101)]}, {"ids"}),
        ({"ids": ["not-a-uuid"]}, {"ids.0"}),
        ({"ids": "all"}, {"ids"}),
        ({"all": True, "everything": True}, {"everything"}),
    ],
)
async def test_mark_read_rejects_bad_bodies_and_changes_nothing(
    api: Api, payload: dict[str, Any], fields: set[str]
) -> None:
    me = await api.signup()
    await api.follow(await api.signup(), me)
    body = await mark_read(api, me, payload, expect=422)
    assert_error(body, "validation_error")
    assert {d["field"] for d in body["error"]["details"]} == fields
    assert (await get_notifications(api, me))["unread_count"] == 1


async def test_mark_read_accepts_a_hundred_ids(api: Api) -> None:
    me = await api.signup()
    await api.follow(await api.signup(), me)
    [item] = (await get_notifications(api, me))["items"]
    ids = [item["id"]] + [str(uuid.uuid4()) for _ in range(99)]
    assert await mark_read(api, me, {"ids": ids}) == {"unread_count": 0}


async def test_mark_read_malformed_json_is_400(api: Api) -> None:
    me = await api.signup()
    body = await api.call(
        "POST",
        "/notifications/read",
        me,
        expect=400,
        data=b"all=true",
        headers={"Content-Type": "application/json"},
    )
    assert_error(body, "invalid_json")


async def test_notification_routes_without_token_are_401(api: Api) -> None:
    assert_error(await api.call("GET", "/notifications", expect=401), "unauthorized")
    body = await api.call("POST", "/notifications/read", expect=401, json={"all": True})
    assert_error(body, "unauthorized")


async def actors(api: Api, user: User) -> tuple[list[str | None], int]:
    """The actors of the user's list, newest first (None for a badge), and its unread count."""
    body = await get_notifications(api, user)
    return [i["actor"] and i["actor"]["id"] for i in body["items"]], body["unread_count"]


async def test_a_block_hides_the_notifications_between_the_two_both_ways(api: Api) -> None:
    """What the blocker's earlier actions put in the blocked person's list, and the blocked
    person's in the blocker's, leave both lists and both unread counts; kept, they come back
    when the block is lifted, and the other people's stay throughout."""
    blocker, blocked, friend = await api.signup(), await api.signup(), await api.signup()
    walk = await post_walk(api, blocked)  # and its badge, with no actor
    await api.follow(blocker, blocked)
    await api.call("POST", f"/walks/{walk['id']}/likes", blocker, expect=201)
    await api.call(
        "POST", f"/walks/{walk['id']}/comments", blocker, expect=201, json={"body": "멋져요"}
    )
    await api.call("POST", "/invitations", blocker, expect=201, json={"invitee_id": blocked.id})
    await api.follow(blocked, blocker)
    await api.follow(friend, blocked)
    await api.follow(friend, blocker)
    assert await actors(api, blocked) == ([friend.id] + [blocker.id] * 4 + [None], 6)
    assert await actors(api, blocker) == ([friend.id, blocked.id], 2)

    await api.call("POST", f"/users/{blocked.id}/block", blocker, expect=201)
    assert await actors(api, blocked) == ([friend.id, None], 2)
    assert await actors(api, blocker) == ([friend.id], 1)
    # The blocker may still comment on the blocked person's walk; that is hidden as well.
    await api.call(
        "POST", f"/walks/{walk['id']}/comments", blocker, expect=201, json={"body": "다시"}
    )
    assert await actors(api, blocked) == ([friend.id, None], 2)
    assert await mark_read(api, blocked, {"all": True}) == {"unread_count": 0}

    await api.call("DELETE", f"/users/{blocked.id}/block", blocker, expect=204)
    assert await actors(api, blocker) == ([friend.id, blocked.id], 2)
    assert await actors(api, blocked) == ([blocker.id, friend.id] + [blocker.id] * 4 + [None], 0)
