"""`/me` and `/users/{id}` profiles (CONTRACT section 3, Users and dogs)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from tests.support import CONSENTS, Api, assert_error


async def test_get_me_shows_own_email(api: Api) -> None:
    user = await api.signup("bori")
    me = await api.call("GET", "/me", user, expect=200)
    assert me["id"] == user.id
    assert me["email"] == user.email
    assert me["nickname"] == "bori"
    assert me["profile_image_url"] is None


async def test_me_without_token_is_401(api: Api) -> None:
    assert_error(await api.call("GET", "/me", expect=401), "unauthorized")
    assert_error(await api.call("PATCH", "/me", expect=401, json={"nickname": "x"}), "unauthorized")


async def test_patch_me_changes_nickname_and_image(api: Api) -> None:
    user = await api.signup("bori")
    url = "https://cdn.example.com/u/bori.png"
    me = await api.call(
        "PATCH", "/me", user, expect=200, json={"nickname": " 보리 ", "profile_image_url": url}
    )
    assert me["nickname"] == "보리"
    assert me["profile_image_url"] == url
    assert me["email"] == user.email
    assert await api.call("GET", "/me", user, expect=200) == me


async def test_patch_me_leaves_absent_fields_and_clears_image_with_null(api: Api) -> None:
    user = await api.signup("bori")
    url = "http://example.com/a.jpg"
    await api.call("PATCH", "/me", user, expect=200, json={"profile_image_url": url})
    me = await api.call("PATCH", "/me", user, expect=200, json={"nickname": "choco"})
    assert (me["nickname"], me["profile_image_url"]) == ("choco", url)
    me = await api.call("PATCH", "/me", user, expect=200, json={"profile_image_url": None})
    assert (me["nickname"], me["profile_image_url"]) == ("choco", None)


async def test_patch_me_with_empty_body_changes_nothing(api: Api) -> None:
    user = await api.signup("bori")
    before = await api.call("GET", "/me", user, expect=200)
    assert await api.call("PATCH", "/me", user, expect=200, json={}) == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"nickname": ""}, "nickname"),
        ({"nickname": "   "}, "nickname"),
        ({"nickname": "x" * 31}, "nickname"),
        ({"nickname": None}, "nickname"),
        ({"nickname": "a\u0000b"}, "nickname"),
        ({"nickname": "two\nlines"}, "nickname"),
        ({"profile_image_url": "ftp://example.com/a.png"}, "profile_image_url"),
        ({"profile_image_url": "javascript:alert(1)"}, "profile_image_url"),
        ({"profile_image_url": "not a url"}, "profile_image_url"),
        ({"profile_image_url": "https://"}, "profile_image_url"),
        ({"profile_image_url": "https://e.com/" + "a" * 2040}, "profile_image_url"),
        ({"email": "new@example.com"}, "email"),
        ({"nickname": "ok", "is_admin": True}, "is_admin"),
    ],
)
async def test_patch_me_rejects_bad_fields_and_changes_nothing(
    api: Api, payload: dict[str, object], field: str
) -> None:
    user = await api.signup("bori")
    before = await api.call("GET", "/me", user, expect=200)
    body = await api.call("PATCH", "/me", user, expect=422, json=payload)
    assert_error(body, "validation_error")
    assert field in {d["field"] for d in body["error"]["details"]}
    assert await api.call("GET", "/me", user, expect=200) == before


SPOOFING_NICKNAMES = [
    "초코\u202egnp.exe",  # right-to-left override
    "a\u202ab",
    "a\u2066b\u2069",
    "a\u200eb",
    "a\u200fb",
    "초\u200b코",  # zero-width space
    "초\u200c코",
    "초\u200d코",  # a joiner between letters
    "\u2060초코",
    "\ufeff초코",
]


@pytest.mark.parametrize("nickname", SPOOFING_NICKNAMES)
async def test_invisible_characters_in_a_nickname_are_422(api: Api, nickname: str) -> None:
    user = await api.signup("bori")
    body = await api.call("PATCH", "/me", user, expect=422, json={"nickname": nickname})
    assert [d["field"] for d in body["error"]["details"]] == ["nickname"]
    signup = {
        "email": "spoof@example.com",
        "password": "correct horse",
        "nickname": nickname,
        "consents": CONSENTS,
    }
    body = await api.call("POST", "/auth/signup", expect=422, json=signup)
    assert [d["field"] for d in body["error"]["details"]] == ["nickname"]
    assert (await api.call("GET", "/me", user, expect=200))["nickname"] == "bori"


async def test_emoji_sequences_built_with_joiners_are_welcome(api: Api) -> None:
    user = await api.signup("bori")
    for nickname in ("👩\u200d👩\u200d👧 가족", "🏳\ufe0f\u200d🌈", "보리🐕"):
        me = await api.call("PATCH", "/me", user, expect=200, json={"nickname": nickname})
        assert me["nickname"] == nickname


async def test_patch_me_accepts_url_of_max_length(api: Api) -> None:
    user = await api.signup("bori")
    url = "https://e.com/" + "a" * (2048 - len("https://e.com/"))
    me = await api.call("PATCH", "/me", user, expect=200, json={"profile_image_url": url})
    assert me["profile_image_url"] == url


async def test_patch_me_malformed_json_is_400(api: Api) -> None:
    user = await api.signup("bori")
    body = await api.call(
        "PATCH",
        "/me",
        user,
        expect=400,
        data=b'{"nickname": ',
        headers={"Content-Type": "application/json"},
    )
    assert_error(body, "invalid_json")


async def test_patch_me_non_object_body_is_422(api: Api) -> None:
    user = await api.signup("bori")
    assert_error(await api.call("PATCH", "/me", user, expect=422, json=[]), "validation_error")


async def test_get_user_profile_with_counts(api: Api, db: asyncpg.Connection) -> None:
    viewer, owner, fan = await api.signup("viewer"), await api.signup("owner"), await api.signup()
    await api.follow(viewer, owner)
    await api.follow(fan, owner)
    await api.follow(owner, fan)
    profile = await api.call("GET", f"/users/{owner.id}", viewer, expect=200)
    assert profile["id"] == owner.id
    assert profile["nickname"] == "owner"
    assert profile["profile_image_url"] is None
    assert profile["created_at"]
    assert profile["follower_count"] == 2
    assert profile["following_count"] == 1
    assert profile["walk_count"] == 0
    assert profile["is_following"] is True
    assert "email" not in profile
    reverse = await api.call("GET", f"/users/{viewer.id}", owner, expect=200)
    assert reverse["is_following"] is False
    assert (reverse["follower_count"], reverse["following_count"]) == (0, 1)


async def test_walk_count_counts_only_walks_the_caller_may_see(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, follower, stranger = await api.signup(), await api.signup(), await api.signup()
    await api.follow(follower, owner)
    for visibility in ("public", "followers", "private"):
        await db.execute(
            """INSERT INTO walks (user_id, started_at, ended_at, distance_m, visibility)
               VALUES ($1, now() - interval '1 hour', now(), 1000, $2)""",
            uuid.UUID(owner.id),
            visibility,
        )
    counts = {}
    for name, viewer in (("owner", owner), ("follower", follower), ("stranger", stranger)):
        profile = await api.call("GET", f"/users/{owner.id}", viewer, expect=200)
        counts[name] = profile["walk_count"]
    assert counts == {"owner": 3, "follower": 2, "stranger": 1}


@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "not-a-uuid", "123"])
async def test_get_unknown_or_malformed_user_is_404(api: Api, user_id: str) -> None:
    viewer = await api.signup()
    assert_error(await api.call("GET", f"/users/{user_id}", viewer, expect=404), "not_found")


async def test_get_user_without_token_is_401(api: Api) -> None:
    user = await api.signup()
    assert_error(await api.call("GET", f"/users/{user.id}", expect=401), "unauthorized")
