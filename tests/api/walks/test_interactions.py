"""Likes, comments and the interactions poll (CONTRACT section 3, Interactions)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from services.api.walks.interaction_handlers import DEFAULT_COMMENTS_PER_POLL
from services.api.web.pagination import Cursor
from tests.api.walk_support import (
    VISIBILITY_MATRIX,
    post_walk,
    pushed_notification_ids,
    three_people,
)
from tests.support import Api, User, assert_error

COMMENT_KEYS = {"id", "walk_id", "user", "body", "created_at"}


async def walk_state(db: asyncpg.Connection, walk_id: str) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT like_count, comment_count, updated_at FROM walks WHERE id = $1",
        uuid.UUID(walk_id),
    )


async def walk_notifications(db: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """SELECT id, user_id, type, actor_id, data FROM notifications
           WHERE type IN ('walk_liked', 'walk_commented') ORDER BY created_at"""
    )
    return [
        {
            "id": str(r["id"]),
            "user_id": str(r["user_id"]),
            "type": r["type"],
            "actor_id": str(r["actor_id"]),
            "data": r["data"],
        }
        for r in rows
    ]


async def test_like_is_201_then_200_and_counts_once(api: Api, db: asyncpg.Connection) -> None:
    owner, fan, other = await api.signup(), await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    path = f"/walks/{walk['id']}/likes"
    assert await api.call("POST", path, fan, expect=201) == {"like_count": 1, "liked_by_me": True}
    assert await api.call("POST", path, fan, expect=200) == {"like_count": 1, "liked_by_me": True}
    assert await api.call("POST", path, other, expect=201) == {"like_count": 2, "liked_by_me": True}
    assert (await api.call("GET", f"/walks/{walk['id']}", fan, expect=200))["liked_by_me"]
    assert not (await api.call("GET", f"/walks/{walk['id']}", owner, expect=200))["liked_by_me"]
    assert await db.fetchval("SELECT count(*) FROM likes") == 2
    assert (await walk_state(db, walk["id"]))["like_count"] == 2


async def test_unlike_is_200_even_when_not_liked(api: Api, db: asyncpg.Connection) -> None:
    owner, fan = await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    path = f"/walks/{walk['id']}/likes"
    assert await api.call("DELETE", path, fan, expect=200) == {
        "like_count": 0,
        "liked_by_me": False,
    }
    await api.call("POST", path, fan, expect=201)
    await api.call("POST", path, owner, expect=201)
    assert await api.call("DELETE", path, fan, expect=200) == {
        "like_count": 1,
        "liked_by_me": False,
    }
    assert await api.call("DELETE", path, fan, expect=200) == {
        "like_count": 1,
        "liked_by_me": False,
    }
    assert (await walk_state(db, walk["id"]))["like_count"] == 1


async def test_updated_at_moves_only_when_something_changed(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, fan = await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    likes = f"/walks/{walk['id']}/likes"
    stamps = [(await walk_state(db, walk["id"]))["updated_at"]]

    async def changed() -> bool:
        stamps.append((await walk_state(db, walk["id"]))["updated_at"])
        return stamps[-1] != stamps[-2]

    await api.call("DELETE", likes, fan, expect=200)
    assert not await changed()
    await api.call("POST", likes, fan, expect=201)
    assert await changed()
    await api.call("POST", likes, fan, expect=200)
    assert not await changed()
    await api.call("DELETE", likes, fan, expect=200)
    assert await changed()
    comment = await api.call(
        "POST", f"/walks/{walk['id']}/comments", fan, expect=201, json={"body": "hi"}
    )
    assert await changed()
    await api.call("DELETE", f"/walks/{walk['id']}/comments/{comment['id']}", fan, expect=204)
    assert await changed()
    assert stamps == sorted(stamps)


async def test_racing_likes_never_double_count(api: Api, db: asyncpg.Connection) -> None:
    owner = await api.signup()
    fans = [await api.signup() for _ in range(4)]
    walk = await post_walk(api, owner)
    path = f"/walks/{walk['id']}/likes"
    answers = await asyncio.gather(
        *(api.client.post(path, headers=fan.headers) for fan in fans for _ in range(3))
    )
    statuses = sorted(r.status for r in answers)
    assert statuses == [200] * 8 + [201] * 4
    assert (await walk_state(db, walk["id"]))["like_count"] == 4
    assert await db.fetchval("SELECT count(*) FROM likes") == 4
    assert len(await walk_notifications(db)) == 4


async def test_new_like_notifies_the_owner_once_and_pushes(
    api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    owner, fan = await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    path = f"/walks/{walk['id']}/likes"
    await api.call("POST", path, owner, expect=201)  # one's own like: no notification
    await api.call("POST", path, fan, expect=201)
    await api.call("POST", path, fan, expect=200)
    await api.call("DELETE", path, fan, expect=200)
    await api.call("POST", path, fan, expect=201)  # liked again: still one per liker per walk
    rows = await walk_notifications(db)
    assert [{k: v for k, v in r.items() if k != "id"} for r in rows] == [
        {
            "user_id": owner.id,
            "type": "walk_liked",
            "actor_id": fan.id,
            "data": {"walk_id": walk["id"]},
        }
    ]
    pushed = await pushed_notification_ids(redis, rows[0]["id"])
    assert pushed.count(rows[0]["id"]) == 1


async def test_comment_is_201_with_the_contract_shape_and_notifies(
    api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    owner, fan = await api.signup(), await api.signup("fan")
    walk = await post_walk(api, owner)
    comment = await api.call(
        "POST",
        f"/walks/{walk['id']}/comments",
        fan,
        expect=201,
        json={"body": "  귀여워요!\n또 만나요  "},
    )
    assert set(comment) == COMMENT_KEYS
    assert comment["walk_id"] == walk["id"]
    assert comment["user"] == {"id": fan.id, "nickname": "fan", "profile_image_url": None}
    assert comment["body"] == "귀여워요!\n또 만나요"
    dt.datetime.fromisoformat(comment["created_at"])
    assert (await walk_state(db, walk["id"]))["comment_count"] == 1
    await api.call(
        "POST", f"/walks/{walk['id']}/comments", owner, expect=201, json={"body": "thanks"}
    )
    rows = await walk_notifications(db)
    assert [{k: v for k, v in r.items() if k != "id"} for r in rows] == [
        {
            "user_id": owner.id,
            "type": "walk_commented",
            "actor_id": fan.id,
            "data": {"walk_id": walk["id"], "comment_id": comment["id"]},
        }
    ]
    pushed = await pushed_notification_ids(redis, rows[0]["id"])
    assert pushed.count(rows[0]["id"]) == 1
    got = await api.call("GET", f"/walks/{walk['id']}", fan, expect=200)
    assert got["comment_count"] == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "   \n "}, "body"),
        ({"body": "가" * 1001}, "body"),
        ({"body": "nul\u0000"}, "body"),
        ({"body": 5}, "body"),
        ({}, "body"),
        ({"body": "ok", "mood": "happy"}, "mood"),
    ],
)
async def test_invalid_comment_is_422_naming_the_field(
    api: Api, db: asyncpg.Connection, payload: dict[str, Any], field: str
) -> None:
    owner = await api.signup()
    walk = await post_walk(api, owner)
    body = await api.call("POST", f"/walks/{walk['id']}/comments", owner, expect=422, json=payload)
    assert_error(body, "validation_error")
    assert field in {d["field"] for d in body["error"]["details"]}
    assert await db.fetchval("SELECT count(*) FROM comments") == 0
    assert (await walk_state(db, walk["id"]))["comment_count"] == 0


async def test_comment_of_exactly_1000_chars_after_strip_is_accepted(api: Api) -> None:
    owner = await api.signup()
    walk = await post_walk(api, owner)
    comment = await api.call(
        "POST", f"/walks/{walk['id']}/comments", owner, expect=201, json={"body": f" {'a' * 1000} "}
    )
    assert len(comment["body"]) == 1000


async def test_malformed_comment_json_is_400(api: Api) -> None:
    owner = await api.signup()
    walk = await post_walk(api, owner)
    body = await api.call(
        "POST",
        f"/walks/{walk['id']}/comments",
        owner,
        expect=400,
        data=b'{"body": "unterminated',
        headers={"Content-Type": "application/json"},
    )
    assert_error(body, "invalid_json")


async def _comment(api: Api, walk: dict[str, Any], author: User, text: str = "멍") -> str:
    comment = await api.call(
        "POST", f"/walks/{walk['id']}/comments", author, expect=201, json={"body": text}
    )
    return str(comment["id"])


async def test_comment_deleted_by_author_or_walk_owner_else_403(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, author, other = await api.signup(), await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    first, second = await _comment(api, walk, author), await _comment(api, walk, author)
    forbidden = await api.call("DELETE", f"/walks/{walk['id']}/comments/{first}", other, expect=403)
    assert_error(forbidden, "forbidden")
    assert (await walk_state(db, walk["id"]))["comment_count"] == 2
    await api.call("DELETE", f"/walks/{walk['id']}/comments/{first}", author, expect=204)
    assert (await walk_state(db, walk["id"]))["comment_count"] == 1
    await api.call("DELETE", f"/walks/{walk['id']}/comments/{second}", owner, expect=204)
    assert (await walk_state(db, walk["id"]))["comment_count"] == 0
    assert await db.fetchval("SELECT count(*) FROM comments") == 0
    gone = await api.call("DELETE", f"/walks/{walk['id']}/comments/{first}", author, expect=404)
    assert_error(gone, "not_found")
    assert (await walk_state(db, walk["id"]))["comment_count"] == 0


async def test_comment_on_another_walk_or_malformed_id_is_404(
    api: Api, db: asyncpg.Connection
) -> None:
    owner = await api.signup()
    walk, other_walk = await post_walk(api, owner), await post_walk(api, owner)
    comment = await _comment(api, walk, owner)
    for path in (
        f"/walks/{other_walk['id']}/comments/{comment}",
        f"/walks/{walk['id']}/comments/{uuid.uuid4()}",
        f"/walks/{walk['id']}/comments/not-a-uuid",
        f"/walks/not-a-uuid/comments/{comment}",
    ):
        assert_error(await api.call("DELETE", path, owner, expect=404), "not_found")
    assert await db.fetchval("SELECT count(*) FROM comments") == 1


@pytest.mark.parametrize(("visibility", "seen"), VISIBILITY_MATRIX)
async def test_interactions_follow_the_visibility_matrix(
    api: Api, db: asyncpg.Connection, visibility: str, seen: tuple[bool, bool, bool]
) -> None:
    owner, fan, stranger = await three_people(api, db)
    walk = await post_walk(api, owner, visibility=visibility)
    owners_comment = await _comment(api, walk, owner)
    base = f"/walks/{walk['id']}"
    for viewer, visible in zip((owner, fan, stranger), seen, strict=True):
        ok = visible
        await api.call("GET", f"{base}/interactions", viewer, expect=200 if ok else 404)
        await api.call("POST", f"{base}/likes", viewer, expect=201 if ok else 404)
        await api.call("DELETE", f"{base}/likes", viewer, expect=200 if ok else 404)
        created = await api.call(
            "POST", f"{base}/comments", viewer, expect=201 if ok else 404, json={"body": "hi"}
        )
        # Not even a 422 for a bad body gives away a walk the caller may not see.
        await api.call("POST", f"{base}/comments", viewer, expect=422 if ok else 404, json={})
        if ok:
            await api.call("DELETE", f"{base}/comments/{created['id']}", viewer, expect=204)
        else:
            assert_error(created, "not_found")
            await api.call("DELETE", f"{base}/comments/{owners_comment}", viewer, expect=404)
    state = await walk_state(db, walk["id"])
    assert (state["like_count"], state["comment_count"]) == (0, 1)


async def test_interaction_routes_with_unknown_or_malformed_walk_are_404(api: Api) -> None:
    user = await api.signup()
    for walk_id in (uuid.uuid4(), "x"):
        base = f"/walks/{walk_id}"
        for method, path in (
            ("GET", f"{base}/interactions"),
            ("POST", f"{base}/likes"),
            ("DELETE", f"{base}/likes"),
            ("POST", f"{base}/comments"),
        ):
            body = await api.call(method, path, user, expect=404, json={"body": "hi"})
            assert_error(body, "not_found")


async def test_interactions_answer_counts_and_comments_oldest_first(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, fan = await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    await api.call("POST", f"/walks/{walk['id']}/likes", fan, expect=201)
    ids = [await _comment(api, walk, author, f"c{i}") for i, author in enumerate((fan, owner, fan))]
    body = await api.call("GET", f"/walks/{walk['id']}/interactions", fan, expect=200)
    assert set(body) == {
        "walk_id",
        "like_count",
        "liked_by_me",
        "comment_count",
        "comments",
        "updated_at",
    }
    assert (body["walk_id"], body["like_count"], body["liked_by_me"]) == (walk["id"], 1, True)
    assert body["comment_count"] == 3
    assert [c["id"] for c in body["comments"]] == ids
    assert [c["body"] for c in body["comments"]] == ["c0", "c1", "c2"]
    assert set(body["comments"][0]) == COMMENT_KEYS
    state = await walk_state(db, walk["id"])
    assert dt.datetime.fromisoformat(body["updated_at"]) == state["updated_at"]
    mine = await api.call("GET", f"/walks/{walk['id']}/interactions", owner, expect=200)
    assert mine["liked_by_me"] is False


async def test_interactions_since_iso_time_and_cursor(api: Api, db: asyncpg.Connection) -> None:
    owner = await api.signup()
    walk = await post_walk(api, owner)
    path = f"/walks/{walk['id']}/interactions"
    first = await _comment(api, walk, owner, "one")
    body = await api.call("GET", path, owner, expect=200)
    since = body["comments"][0]["created_at"]
    second, third = await _comment(api, walk, owner, "two"), await _comment(api, walk, owner)

    by_time = await api.call("GET", path, owner, expect=200, params={"since": since})
    assert [c["id"] for c in by_time["comments"]] == [second, third]
    assert by_time["comment_count"] == 3

    # Comments at one instant: a cursor names the exact one already seen.
    await db.execute("UPDATE comments SET created_at = '2026-11-01T00:00:00Z'")
    ordered = sorted([first, second, third])
    instant = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    cursor = Cursor(instant, uuid.UUID(ordered[0])).encode()
    by_cursor = await api.call("GET", path, owner, expect=200, params={"since": cursor})
    assert [c["id"] for c in by_cursor["comments"]] == ordered[1:]
    after_all = await api.call(
        "GET", path, owner, expect=200, params={"since": instant.isoformat()}
    )
    assert after_all["comments"] == []

    bad = await api.call("GET", path, owner, expect=422, params={"since": "soon"})
    assert [d["field"] for d in bad["error"]["details"]] == ["since"]


async def test_interactions_send_at_most_the_cap_and_page_on_with_since(
    api: Api, db: asyncpg.Connection
) -> None:
    owner = await api.signup()
    walk = await post_walk(api, owner)
    total = DEFAULT_COMMENTS_PER_POLL + 5
    await db.execute(
        """INSERT INTO comments (walk_id, user_id, body, created_at)
           SELECT $1, $2, 'c' || g, '2026-11-01T00:00:00Z'::timestamptz + g * interval '1 second'
           FROM generate_series(1, $3) g""",
        uuid.UUID(walk["id"]),
        uuid.UUID(owner.id),
        total,
    )
    path = f"/walks/{walk['id']}/interactions"
    first = await api.call("GET", path, owner, expect=200)
    assert [c["body"] for c in first["comments"]] == [
        f"c{i}" for i in range(1, DEFAULT_COMMENTS_PER_POLL + 1)
    ]
    rest = await api.call(
        "GET", path, owner, expect=200, params={"since": first["comments"][-1]["created_at"]}
    )
    assert [c["body"] for c in rest["comments"]] == [
        f"c{i}" for i in range(DEFAULT_COMMENTS_PER_POLL + 1, total + 1)
    ]


async def test_interactions_etag_304_until_a_like_or_comment(api: Api) -> None:
    owner, fan = await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    path = f"/walks/{walk['id']}/interactions"

    first = await api.client.get(path, headers=fan.headers)
    assert first.status == 200
    assert first.headers["X-Poll-Interval"] == "30"
    etag = first.headers["ETag"]
    same = await api.client.get(path, headers={**fan.headers, "If-None-Match": etag})
    assert same.status == 304
    assert await same.read() == b""
    assert same.headers["X-Poll-Interval"] == "30"

    await api.call("POST", f"/walks/{walk['id']}/likes", owner, expect=201)
    liked = await api.client.get(path, headers={**fan.headers, "If-None-Match": etag})
    assert liked.status == 200
    assert liked.headers["ETag"] != etag
    etag = liked.headers["ETag"]

    await _comment(api, walk, owner)
    commented = await api.client.get(path, headers={**fan.headers, "If-None-Match": etag})
    assert commented.status == 200
    assert commented.headers["ETag"] != etag
    assert (await commented.json())["comment_count"] == 1


async def test_deleting_a_walk_takes_its_interactions_with_it(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, fan = await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    await api.call("POST", f"/walks/{walk['id']}/likes", fan, expect=201)
    comment = await _comment(api, walk, fan)
    await api.call("DELETE", f"/walks/{walk['id']}", owner, expect=204)
    await api.call("GET", f"/walks/{walk['id']}/interactions", fan, expect=404)
    await api.call("POST", f"/walks/{walk['id']}/likes", fan, expect=404)
    await api.call("DELETE", f"/walks/{walk['id']}/comments/{comment}", fan, expect=404)
    assert await db.fetchval("SELECT count(*) FROM likes") == 0
    assert await db.fetchval("SELECT count(*) FROM comments") == 0
