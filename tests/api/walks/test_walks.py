"""Recording, reading and deleting walks (CONTRACT section 3, Walks)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import asyncpg
import pytest

from tests.api.walk_support import (
    START,
    VISIBILITY_MATRIX,
    WALK_KEYS,
    add_dog,
    follow,
    post_walk,
    three_people,
    walk_payload,
)
from tests.support import Api, User, assert_error

SERVER_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


def error_fields(body: Any) -> set[str]:
    assert_error(body, "validation_error")
    return {d["field"] for d in body["error"]["details"]}


async def test_create_walk_answers_the_contract_walk(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup("choco")
    bori = await add_dog(db, user, "보리", "진돗개")
    walk = await post_walk(api, user, dog_ids=[bori], memo="한강 산책", visibility="followers")
    assert set(walk) == WALK_KEYS
    uuid.UUID(walk["id"])
    assert walk["user"] == {"id": user.id, "nickname": "choco", "profile_image_url": None}
    assert walk["dogs"] == [{"id": bori, "name": "보리", "breed": "진돗개"}]
    assert walk["started_at"] == "2026-11-19T22:00:00.000000+00:00"
    assert walk["ended_at"] == "2026-11-19T22:42:30.000000+00:00"
    assert walk["duration_s"] == 2550
    assert isinstance(walk["duration_s"], int)
    assert walk["distance_m"] == 2750.5
    assert walk["visibility"] == "followers"
    assert walk["memo"] == "한강 산책"
    assert walk["invitation_id"] is None
    assert (walk["like_count"], walk["comment_count"], walk["liked_by_me"]) == (0, 0, False)
    assert SERVER_TIME.match(walk["created_at"])
    stored = await db.fetchrow(
        "SELECT user_id, visibility FROM walks WHERE id = $1", uuid.UUID(walk["id"])
    )
    assert (str(stored["user_id"]), stored["visibility"]) == (user.id, "followers")


async def test_visibility_defaults_to_public_and_dogs_to_none(api: Api) -> None:
    user = await api.signup()
    walk = await post_walk(api, user)
    assert walk["visibility"] == "public"
    assert walk["dogs"] == []
    assert walk["memo"] is None


async def test_get_walk_adds_the_path(api: Api) -> None:
    user = await api.signup()
    path = [
        {"lat": 37.5326, "lng": 126.9905, "t": "2026-11-20T07:00:00+09:00"},
        {"lat": 37.5331, "lng": 126.9912, "t": 1795125660},
    ]
    walk = await post_walk(api, user, path=path)
    got = await api.call("GET", f"/walks/{walk['id']}", user, expect=200)
    assert set(got) == WALK_KEYS | {"path"}
    assert {k: got[k] for k in WALK_KEYS} == walk
    assert [(p["lat"], p["lng"]) for p in got["path"]] == [(37.5326, 126.9905), (37.5331, 126.9912)]
    assert got["path"][0]["t"] == "2026-11-19T22:00:00.000000+00:00"
    assert got["path"][1]["t"] == 1795125660

    no_path = await post_walk(api, user)
    assert (await api.call("GET", f"/walks/{no_path['id']}", user, expect=200))["path"] is None


@pytest.mark.parametrize(("visibility", "seen"), VISIBILITY_MATRIX)
async def test_get_walk_follows_the_visibility_matrix(
    api: Api, db: asyncpg.Connection, visibility: str, seen: tuple[bool, bool, bool]
) -> None:
    owner, fan, stranger = await three_people(api, db)
    walk = await post_walk(api, owner, visibility=visibility)
    for viewer, visible in zip((owner, fan, stranger), seen, strict=True):
        body = await api.call("GET", f"/walks/{walk['id']}", viewer, expect=200 if visible else 404)
        if visible:
            assert body["id"] == walk["id"]
        else:
            assert_error(body, "not_found")


async def test_unknown_and_malformed_walk_ids_are_404(api: Api) -> None:
    user = await api.signup()
    for walk_id in (uuid.uuid4(), "not-a-uuid", "1"):
        assert_error(await api.call("GET", f"/walks/{walk_id}", user, expect=404), "not_found")
        assert_error(await api.call("DELETE", f"/walks/{walk_id}", user, expect=404), "not_found")


async def test_walk_routes_need_a_token(api: Api) -> None:
    assert_error(await api.call("POST", "/walks", expect=401, json=walk_payload()), "unauthorized")
    assert_error(await api.call("GET", f"/walks/{uuid.uuid4()}", expect=401), "unauthorized")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"started_at": "2026-11-20T07:00:00"}, "started_at"),
        ({"ended_at": "2026-11-20T08:00:00"}, "ended_at"),
        ({"started_at": 1795125600}, "started_at"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"ended_at": (START - dt.timedelta(seconds=1)).isoformat()}, "ended_at"),
        ({"ended_at": (START + dt.timedelta(hours=24, seconds=1)).isoformat()}, "ended_at"),
        ({"distance_m": -1}, "distance_m"),
        ({"distance_m": 200_000.5}, "distance_m"),
        ({"distance_m": "100"}, "distance_m"),
        ({"distance_m": None}, "distance_m"),
        ({"visibility": "friends"}, "visibility"),
        ({"memo": "가" * 1001}, "memo"),
        ({"memo": "nul \u0000 byte"}, "memo"),
        ({"dog_ids": ["not-a-uuid"]}, "dog_ids.0"),
        ({"path": [{"lat": 91, "lng": 0, "t": 0}]}, "path.0.lat"),
        ({"path": [{"lat": 0, "lng": -180.5, "t": 0}]}, "path.0.lng"),
        ({"path": [{"lat": 0, "lng": 0}]}, "path.0.t"),
        ({"path": [{"lat": 0, "lng": 0, "t": 0, "alt": 3}]}, "path.0.alt"),
        ({"path": [{"lat": 0, "lng": 0, "t": 0}] * 10_001}, "path"),
        ({"invitation_id": "nope"}, "invitation_id"),
        ({"weather": "sunny"}, "weather"),
    ],
)
async def test_invalid_walk_is_422_naming_the_field(
    api: Api, db: asyncpg.Connection, overrides: dict[str, Any], field: str
) -> None:
    user = await api.signup()
    body = await api.call("POST", "/walks", user, expect=422, json=walk_payload(**overrides))
    assert field in error_fields(body)
    assert await db.fetchval("SELECT count(*) FROM walks") == 0


async def test_missing_required_fields_are_named(api: Api) -> None:
    user = await api.signup()
    body = await api.call("POST", "/walks", user, expect=422, json={})
    assert {"started_at", "ended_at", "distance_m"} <= error_fields(body)


async def test_non_finite_numbers_are_refused(api: Api) -> None:
    user = await api.signup()
    raw = (
        '{"started_at": "2026-11-20T07:00:00+09:00", "ended_at": "2026-11-20T08:00:00+09:00",'
        ' "distance_m": 10, "path": [{"lat": NaN, "lng": Infinity, "t": 0}]}'
    )
    body = await api.call(
        "POST", "/walks", user, data=raw, headers={"Content-Type": "application/json"}
    )
    if "error" in body and body["error"]["code"] == "invalid_json":
        return  # refusing NaN as JSON is also a refusal
    assert {"path.0.lat", "path.0.lng"} <= error_fields(body)


async def test_a_path_of_ten_thousand_points_is_accepted(api: Api) -> None:
    user = await api.signup()
    path = [{"lat": 37.5, "lng": 127.0, "t": 1795125600 + i} for i in range(10_000)]
    walk = await post_walk(api, user, path=path)
    got = await api.call("GET", f"/walks/{walk['id']}", user, expect=200)
    assert len(got["path"]) == 10_000


async def test_malformed_json_is_400(api: Api) -> None:
    user = await api.signup()
    body = await api.call(
        "POST",
        "/walks",
        user,
        expect=400,
        data=b'{"started_at": ',
        headers={"Content-Type": "application/json"},
    )
    assert_error(body, "invalid_json")


async def test_dog_ids_must_be_unique_and_the_callers_own(api: Api, db: asyncpg.Connection) -> None:
    user, other = await api.signup(), await api.signup()
    mine = await add_dog(db, user, "초코")
    theirs = await add_dog(db, other, "보리")
    for dog_ids in ([mine, mine], [mine, theirs], [str(uuid.uuid4())]):
        body = await api.call(
            "POST", "/walks", user, expect=422, json=walk_payload(dog_ids=dog_ids)
        )
        assert "dog_ids" in error_fields(body)
    assert await db.fetchval("SELECT count(*) FROM walks") == 0
    assert await db.fetchval("SELECT count(*) FROM walk_dogs") == 0


async def _invitation(db: asyncpg.Connection, inviter: User, invitee: User, status: str) -> str:
    invitation_id = await db.fetchval(
        """INSERT INTO invitations (inviter_id, invitee_id, status, expires_at)
           VALUES ($1, $2, $3, now() + interval '1 hour') RETURNING id""",
        uuid.UUID(inviter.id),
        uuid.UUID(invitee.id),
        status,
    )
    return str(invitation_id)


@pytest.mark.parametrize("status", ["accepted", "finished"])
async def test_walk_may_name_an_accepted_or_finished_invitation_of_the_caller(
    api: Api, db: asyncpg.Connection, status: str
) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    invitation_id = await _invitation(db, inviter, invitee, status)
    for user in (inviter, invitee):
        walk = await post_walk(api, user, invitation_id=invitation_id)
        assert walk["invitation_id"] == invitation_id


@pytest.mark.parametrize("status", ["pending", "declined", "cancelled", "expired"])
async def test_walk_may_not_name_an_invitation_not_under_way(
    api: Api, db: asyncpg.Connection, status: str
) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    invitation_id = await _invitation(db, inviter, invitee, status)
    body = await api.call(
        "POST", "/walks", invitee, expect=422, json=walk_payload(invitation_id=invitation_id)
    )
    assert error_fields(body) == {"invitation_id"}


async def test_walk_may_not_name_someone_elses_or_an_unknown_invitation(
    api: Api, db: asyncpg.Connection
) -> None:
    inviter, invitee, outsider = await api.signup(), await api.signup(), await api.signup()
    invitation_id = await _invitation(db, inviter, invitee, "accepted")
    for named in (invitation_id, str(uuid.uuid4())):
        body = await api.call(
            "POST", "/walks", outsider, expect=422, json=walk_payload(invitation_id=named)
        )
        assert error_fields(body) == {"invitation_id"}


async def test_owner_deletes_walk_and_it_is_gone(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    dog = await add_dog(db, user, "콩이")
    walk = await post_walk(api, user, dog_ids=[dog])
    assert await api.call("DELETE", f"/walks/{walk['id']}", user, expect=204) is None
    assert_error(await api.call("GET", f"/walks/{walk['id']}", user, expect=404), "not_found")
    assert_error(await api.call("DELETE", f"/walks/{walk['id']}", user, expect=404), "not_found")
    assert await db.fetchval("SELECT count(*) FROM walk_dogs") == 0
    assert await db.fetchval("SELECT count(*) FROM dogs") == 1


@pytest.mark.parametrize(("visibility", "seen"), VISIBILITY_MATRIX)
async def test_delete_by_others_is_403_if_they_see_it_else_404(
    api: Api, db: asyncpg.Connection, visibility: str, seen: tuple[bool, bool, bool]
) -> None:
    owner, fan, stranger = await three_people(api, db)
    walk = await post_walk(api, owner, visibility=visibility)
    for viewer, visible in zip((fan, stranger), seen[1:], strict=True):
        body = await api.call(
            "DELETE", f"/walks/{walk['id']}", viewer, expect=403 if visible else 404
        )
        assert_error(body, "forbidden" if visible else "not_found")
    assert await db.fetchval("SELECT count(*) FROM walks") == 1


async def test_user_walks_lists_only_what_the_caller_may_see(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, fan, stranger = await three_people(api, db)
    ids = {v: (await post_walk(api, owner, visibility=v))["id"] for v, _ in VISIBILITY_MATRIX}
    expected = {
        owner.id: [ids["private"], ids["followers"], ids["public"]],
        fan.id: [ids["followers"], ids["public"]],
        stranger.id: [ids["public"]],
    }
    for viewer in (owner, fan, stranger):
        body = await api.call("GET", f"/users/{owner.id}/walks", viewer, expect=200)
        assert set(body) == {"items", "next_cursor"}
        assert [w["id"] for w in body["items"]] == expected[viewer.id]
        assert body["next_cursor"] is None


async def test_user_walks_pages_newest_first_without_gaps(api: Api, db: asyncpg.Connection) -> None:
    user, viewer = await api.signup(), await api.signup()
    posted = [(await post_walk(api, user))["id"] for _ in range(7)]
    # Two walks at the very same instant: the id breaks the tie.
    await db.execute(
        "UPDATE walks SET created_at = '2026-11-01T00:00:00Z' WHERE id = ANY($1::uuid[])",
        [uuid.UUID(i) for i in posted[2:4]],
    )
    expected = [
        str(r["id"])
        for r in await db.fetch("SELECT id FROM walks ORDER BY created_at DESC, id DESC")
    ]
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": "3", **({"before": cursor} if cursor else {})}
        body = await api.call("GET", f"/users/{user.id}/walks", viewer, expect=200, params=query)
        seen += [w["id"] for w in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert sorted(seen) == sorted(posted)


async def test_user_walks_of_unknown_user_is_404(api: Api) -> None:
    user = await api.signup()
    for user_id in (uuid.uuid4(), "nope"):
        body = await api.call("GET", f"/users/{user_id}/walks", user, expect=404)
        assert_error(body, "not_found")


async def test_user_walks_bad_paging_is_422(api: Api) -> None:
    user = await api.signup()
    for query, field in (({"limit": "0"}, "limit"), ({"before": "garbage!"}, "before")):
        body = await api.call("GET", f"/users/{user.id}/walks", user, expect=422, params=query)
        assert error_fields(body) == {field}


async def test_follow_gives_access_to_followers_walks(api: Api, db: asyncpg.Connection) -> None:
    owner, viewer = await api.signup(), await api.signup()
    walk = await post_walk(api, owner, visibility="followers")
    await api.call("GET", f"/walks/{walk['id']}", viewer, expect=404)
    await follow(db, viewer, owner)
    await api.call("GET", f"/walks/{walk['id']}", viewer, expect=200)
