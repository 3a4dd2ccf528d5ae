"""Filtering of the text others read, through the API (CONTRACT section 3, Filtering): each
field refuses a listed word with 422 `validation_error`, `"reason": "objectionable"` on the
field, and writes nothing; ordinary words pass; `MODERATION_WORDLIST_FILE` adds words."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.api.app import create_app
from tests.api.filtering.test_matcher import DISGUISED, ORDINARY
from tests.api.walk_support import post_walk, walk_payload
from tests.support import CONSENTS, Api, User, assert_error, make_settings


@dataclass(frozen=True)
class Field:
    """A field others read: how to write it, and how many rows its table holds."""

    name: str
    write: Callable[[Api, User, User, str], Awaitable[Any]]
    count: str


async def _signup(api: Api, _: User, __: User, text: str) -> Any:
    body = {"email": "new@example.com", "password": "correct horse", "nickname": text}
    return await api.call("POST", "/auth/signup", json={**body, "consents": CONSENTS})


async def _patch_me(api: Api, me: User, _: User, text: str) -> Any:
    return await api.call("PATCH", "/me", me, json={"nickname": text})


async def _dog(api: Api, me: User, _: User, text: str) -> Any:
    return await api.call("POST", "/me/dogs", me, json={"name": text})


async def _memo(api: Api, me: User, _: User, text: str) -> Any:
    return await api.call("POST", "/walks", me, json=walk_payload(memo=text))


async def _comment(api: Api, me: User, other: User, text: str) -> Any:
    walk = await post_walk(api, other, visibility="public")
    return await api.call("POST", f"/walks/{walk['id']}/comments", me, json={"body": text})


async def _invitation(api: Api, me: User, other: User, text: str) -> Any:
    body = {"invitee_id": other.id, "message": text}
    return await api.call("POST", "/invitations", me, json=body)


FIELDS = [
    Field("nickname", _signup, "SELECT count(*) FROM users WHERE email = 'new@example.com'"),
    Field("nickname", _patch_me, "SELECT count(*) FROM users WHERE nickname = $1"),
    Field("name", _dog, "SELECT count(*) FROM dogs"),
    Field("memo", _memo, "SELECT count(*) FROM walks"),
    Field("body", _comment, "SELECT count(*) FROM comments"),
    Field("message", _invitation, "SELECT count(*) FROM invitations"),
]
IDS = ["signup nickname", "PATCH /me nickname", "dog name", "walk memo", "comment", "invitation"]


async def _count(db: asyncpg.Connection, field: Field, text: str) -> int:
    args = [text] if "$1" in field.count else []
    count: int = await db.fetchval(field.count, *args)
    return count


def assert_objectionable(body: Any, field: str) -> None:
    assert_error(body, "validation_error")
    [detail] = body["error"]["details"]
    assert detail["field"] == field, body
    assert detail["reason"] == "objectionable", body
    assert isinstance(detail["message"], str) and detail["message"], body


@pytest.mark.parametrize("field", FIELDS, ids=IDS)
async def test_each_field_others_read_refuses_a_listed_word_and_writes_nothing(
    api: Api, db: asyncpg.Connection, field: Field
) -> None:
    me, other = await api.signup(), await api.signup()
    text = "산책 ㅅ ㅂ"
    before = await _count(db, field, text)
    body = await field.write(api, me, other, text)
    assert_objectionable(body, field.name)
    assert await _count(db, field, text) == before


@pytest.mark.parametrize("field", FIELDS, ids=IDS)
async def test_each_field_others_read_takes_an_ordinary_word_that_contains_a_listed_one(
    api: Api, field: Field
) -> None:
    me, other = await api.signup(), await api.signup()
    body = await field.write(api, me, other, "시발점")
    assert "error" not in body, body


async def test_a_comment_is_refused_however_the_word_is_disguised(api: Api) -> None:
    owner, commenter = await api.signup(), await api.signup()
    walk = await post_walk(api, owner, visibility="public")
    for case, text in DISGUISED.items():
        resp = await api.client.post(
            f"/walks/{walk['id']}/comments", json={"body": text}, headers=commenter.headers
        )
        assert resp.status == 422, case
        assert_objectionable(await resp.json(), "body")


async def test_a_comment_of_ordinary_words_that_contain_listed_ones_is_posted(api: Api) -> None:
    owner, commenter = await api.signup(), await api.signup()
    walk = await post_walk(api, owner, visibility="public")
    for case, text in ORDINARY.items():
        resp = await api.client.post(
            f"/walks/{walk['id']}/comments", json={"body": text}, headers=commenter.headers
        )
        assert resp.status == 201, (case, await resp.text())
        assert (await resp.json())["body"] == text


async def test_words_of_the_moderation_wordlist_file_are_refused_too(
    database_url: str, redis_url: str, tmp_path: Path, aiohttp_client: Any
) -> None:
    words = tmp_path / "words.txt"
    words.write_text("멍청이\nsnootboop\n", encoding="utf-8")
    settings = make_settings(database_url, redis_url, moderation_wordlist_file=str(words))
    api = Api(await aiohttp_client(create_app(settings)))
    owner, commenter = await api.signup(), await api.signup()
    walk = await post_walk(api, owner, visibility="public")
    for text in ["멍청이", "멍 청 이", "snoot.boop", "ㅅㅂ"]:
        body = await api.call(
            "POST", f"/walks/{walk['id']}/comments", commenter, expect=422, json={"body": text}
        )
        assert_objectionable(body, "body")
    body = await api.call("PATCH", "/me", commenter, expect=422, json={"nickname": "멍청이"})
    assert_objectionable(body, "nickname")


async def test_without_the_file_its_words_are_ordinary(api: Api) -> None:
    owner = await api.signup()
    await post_walk(api, owner, memo="멍청이 snootboop")
