"""The feed and its `since` poll (CONTRACT section 3, Feed)."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import pytest

from services.api.web.pagination import BEGINNING, Cursor
from tests.api.walk_support import (
    VISIBILITY_MATRIX,
    WALK_KEYS,
    follow,
    post_walk,
    three_people,
)
from tests.support import Api, User, assert_error


async def feed_ids(api: Api, user: User, **params: str) -> list[str]:
    body = await api.call("GET", "/feed", user, expect=200, params=params)
    return [w["id"] for w in body["items"]]


async def test_feed_has_own_and_followees_walks_newest_first(
    api: Api, db: asyncpg.Connection
) -> None:
    me, friend, stranger = await api.signup(), await api.signup(), await api.signup()
    await follow(db, me, friend)
    mine = await post_walk(api, me)
    theirs = await post_walk(api, friend)
    await post_walk(api, stranger)  # public, but I do not follow them
    body = await api.call("GET", "/feed", me, expect=200)
    assert set(body) == {"kind", "items", "next_cursor", "latest_cursor"}
    assert body["kind"] == "page"
    assert [w["id"] for w in body["items"]] == [theirs["id"], mine["id"]]
    assert set(body["items"][0]) == WALK_KEYS
    assert body["items"][0]["user"]["id"] == friend.id
    assert body["next_cursor"] is None
    assert (
        body["latest_cursor"]
        == Cursor(dt.datetime.fromisoformat(theirs["created_at"]), uuid.UUID(theirs["id"])).encode()
    )


async def test_empty_feed_has_a_latest_cursor_below_every_walk(api: Api) -> None:
    body = await api.call("GET", "/feed", await api.signup(), expect=200)
    assert body == {
        "kind": "page",
        "items": [],
        "next_cursor": None,
        "latest_cursor": BEGINNING.encode(),
    }


@pytest.mark.parametrize(("visibility", "seen"), VISIBILITY_MATRIX)
async def test_feed_shows_only_visible_walks(
    api: Api, db: asyncpg.Connection, visibility: str, seen: tuple[bool, bool, bool]
) -> None:
    owner, fan, stranger = await three_people(api, db)
    await follow(db, stranger, await api.signup())  # the stranger's feed is not simply empty
    walk = await post_walk(api, owner, visibility=visibility)
    for viewer, visible in zip((owner, fan, stranger), seen, strict=True):
        assert (walk["id"] in await feed_ids(api, viewer)) == (visible and viewer is not stranger)
        since = "2000-01-01T00:00:00+00:00"
        poll = await api.call("GET", "/feed", viewer, expect=200, params={"since": since})
        shown = walk["id"] in [w["id"] for w in poll["items"]]
        assert shown == (visible and viewer is not stranger)
        assert poll["new_count"] == int(shown)


async def test_unfollowing_takes_walks_out_of_the_feed(api: Api, db: asyncpg.Connection) -> None:
    me, friend = await api.signup(), await api.signup()
    await follow(db, me, friend)
    walk = await post_walk(api, friend, visibility="followers")
    assert await feed_ids(api, me) == [walk["id"]]
    await db.execute("DELETE FROM follows")
    assert await feed_ids(api, me) == []


async def test_feed_pages_have_no_duplicates_or_gaps_with_equal_times(
    api: Api, db: asyncpg.Connection
) -> None:
    me = await api.signup()
    friends = [await api.signup() for _ in range(3)]
    for friend in friends:
        await follow(db, me, friend)
    for author in [me, *friends] * 3:
        await post_walk(api, author, visibility="followers" if author is not me else "private")
    # Half of them at one instant, across authors: the id alone orders them.
    await db.execute(
        """UPDATE walks SET created_at = '2026-11-01T00:00:00Z'
           WHERE id IN (SELECT id FROM walks ORDER BY id LIMIT 6)"""
    )
    rows = await db.fetch("SELECT created_at, id FROM walks ORDER BY created_at DESC, id DESC")
    expected = [str(r["id"]) for r in rows]
    newest = Cursor.of(rows[0]).encode()
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "5", **({"before": cursor} if cursor else {})}
        body = await api.call("GET", "/feed", me, expect=200, params=params)
        seen += [w["id"] for w in body["items"]]
        assert body["latest_cursor"] == newest
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == expected
    assert len(set(seen)) == 12


async def test_later_pages_still_carry_the_newest_cursor(api: Api, db: asyncpg.Connection) -> None:
    me = await api.signup()
    walks = [await post_walk(api, me) for _ in range(3)]
    first = await api.call("GET", "/feed", me, expect=200, params={"limit": "1"})
    second = await api.call(
        "GET", "/feed", me, expect=200, params={"limit": "1", "before": first["next_cursor"]}
    )
    assert [w["id"] for w in second["items"]] == [walks[1]["id"]]
    assert second["latest_cursor"] == first["latest_cursor"]
    assert first["items"][0]["id"] == walks[2]["id"]


async def test_since_iso_time_gives_newer_walks_and_exact_count(
    api: Api, db: asyncpg.Connection
) -> None:
    me, friend = await api.signup(), await api.signup()
    await follow(db, me, friend)
    old = await post_walk(api, friend)
    since = old["created_at"]
    newer = [await post_walk(api, author) for author in (friend, me, friend)]
    body = await api.call("GET", "/feed", me, expect=200, params={"since": since, "limit": "2"})
    assert set(body) == {"kind", "items", "new_count", "latest_cursor"}
    assert body["kind"] == "since"
    assert [w["id"] for w in body["items"]] == [newer[2]["id"], newer[1]["id"]]
    assert body["new_count"] == 3
    newest = newer[2]
    assert (
        body["latest_cursor"]
        == Cursor(dt.datetime.fromisoformat(newest["created_at"]), uuid.UUID(newest["id"])).encode()
    )


async def test_since_cursor_round_trip(api: Api, db: asyncpg.Connection) -> None:
    me, friend = await api.signup(), await api.signup()
    await follow(db, me, friend)
    await post_walk(api, friend)
    page = await api.call("GET", "/feed", me, expect=200)
    cursor = page["latest_cursor"]

    nothing = await api.call("GET", "/feed", me, expect=200, params={"since": cursor})
    assert nothing == {"kind": "since", "items": [], "new_count": 0, "latest_cursor": cursor}

    fresh = await post_walk(api, friend)
    poll = await api.call("GET", "/feed", me, expect=200, params={"since": cursor})
    assert [w["id"] for w in poll["items"]] == [fresh["id"]]
    assert poll["new_count"] == 1
    again = await api.call("GET", "/feed", me, expect=200, params={"since": poll["latest_cursor"]})
    assert again["items"] == [] and again["new_count"] == 0
    assert again["latest_cursor"] == poll["latest_cursor"]


async def test_since_a_cursor_sees_walks_at_the_same_instant_with_a_greater_id(
    api: Api, db: asyncpg.Connection
) -> None:
    me = await api.signup()
    a, b = await post_walk(api, me), await post_walk(api, me)
    await db.execute("UPDATE walks SET created_at = '2026-11-01T00:00:00Z'")
    low, high = sorted((a["id"], b["id"]))
    instant = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    since = Cursor(instant, uuid.UUID(low)).encode()
    body = await api.call("GET", "/feed", me, expect=200, params={"since": since})
    assert [w["id"] for w in body["items"]] == [high]
    assert body["new_count"] == 1
    # A bare ISO time stands after every walk at that instant.
    at_time = await api.call("GET", "/feed", me, expect=200, params={"since": instant.isoformat()})
    assert at_time["items"] == [] and at_time["new_count"] == 0
    assert Cursor.decode(at_time["latest_cursor"]).created_at == instant


async def test_bad_feed_parameters_are_422(api: Api) -> None:
    me = await api.signup()
    for params, field in (
        ({"since": "last tuesday"}, "since"),
        ({"limit": "101"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"before": "@@@"}, "before"),
    ):
        body = await api.call("GET", "/feed", me, expect=422, params=params)
        assert_error(body, "validation_error")
        assert [d["field"] for d in body["error"]["details"]] == [field]


async def test_feed_needs_a_token(api: Api) -> None:
    assert_error(await api.call("GET", "/feed", expect=401), "unauthorized")


@pytest.mark.parametrize("poll", [False, True])
async def test_etag_gives_304_until_something_changes(
    api: Api, db: asyncpg.Connection, poll: bool
) -> None:
    me, friend = await api.signup(), await api.signup()
    await follow(db, me, friend)
    walk = await post_walk(api, friend)
    params = {"since": "2000-01-01T00:00:00Z"} if poll else {}

    first = await api.client.get("/feed", headers=me.headers, params=params)
    assert first.status == 200
    etag = first.headers["ETag"]
    assert first.headers["X-Poll-Interval"] == "30"

    same = await api.client.get(
        "/feed", headers={**me.headers, "If-None-Match": etag}, params=params
    )
    assert same.status == 304
    assert await same.read() == b""
    assert same.headers["ETag"] == etag
    assert same.headers["X-Poll-Interval"] == "30"

    await api.call("POST", f"/walks/{walk['id']}/likes", friend, expect=201)
    liked = await api.client.get(
        "/feed", headers={**me.headers, "If-None-Match": etag}, params=params
    )
    assert liked.status == 200
    assert (await liked.json())["items"][0]["like_count"] == 1
    assert liked.headers["ETag"] != etag

    etag = liked.headers["ETag"]
    await api.call("POST", f"/walks/{walk['id']}/comments", me, expect=201, json={"body": "좋아요"})
    commented = await api.client.get(
        "/feed", headers={**me.headers, "If-None-Match": etag}, params=params
    )
    assert commented.status == 200
    assert commented.headers["ETag"] != etag

    etag = commented.headers["ETag"]
    await post_walk(api, friend)
    walked = await api.client.get(
        "/feed", headers={**me.headers, "If-None-Match": etag}, params=params
    )
    assert walked.status == 200
    assert walked.headers["ETag"] != etag
    assert len((await walked.json())["items"]) == 2
