"""One rule for every free-text field (issue 20): invisible and bidirectional characters are
refused wherever text is written, multi-line fields keep their line breaks, and text is stored
in NFC so that `초코` typed decomposed (NFD) is the same text and the same search."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import services.api.migrate
from tests.api.walk_support import post_walk, walk_payload
from tests.support import Api, User, assert_error

MIGRATION = (
    Path(services.api.migrate.__file__).parent / "migrations" / "20261204150000_text_nfc.sql"
)
INVISIBLE = ["\u202e", "\u200b", "\u2066", "\u200f", "\ufeff"]
Write = Callable[[Api, User, User, str], Awaitable[Any]]


async def _comment(api: Api, me: User, other: User, text: str) -> Any:
    walk = await post_walk(api, other, visibility="public")
    return await api.call("POST", f"/walks/{walk['id']}/comments", me, json={"body": text})


async def _memo(api: Api, me: User, _: User, text: str) -> Any:
    return await api.call("POST", "/walks", me, json=walk_payload(memo=text))


async def _invitation(api: Api, me: User, other: User, text: str) -> Any:
    return await api.call(
        "POST", "/invitations", me, json={"invitee_id": other.id, "message": text}
    )


async def _dog(api: Api, me: User, _: User, text: str) -> Any:
    return await api.call("POST", "/me/dogs", me, json={"name": text})


async def _nickname(api: Api, me: User, _: User, text: str) -> Any:
    return await api.call("PATCH", "/me", me, json={"nickname": text})


FIELDS: dict[str, tuple[Write, str]] = {
    "comment": (_comment, "body"),
    "walk memo": (_memo, "memo"),
    "invitation message": (_invitation, "message"),
    "dog name": (_dog, "name"),
    "nickname": (_nickname, "nickname"),
}


@pytest.mark.parametrize(("write", "field"), FIELDS.values(), ids=FIELDS.keys())
async def test_invisible_and_bidi_characters_are_refused_in_every_free_text_field(
    api: Api, write: Write, field: str
) -> None:
    me, other = await api.signup(), await api.signup()
    for char in INVISIBLE:
        body = await write(api, me, other, f"초코{char}moc.evil")
        assert_error(body, "validation_error")
        assert body["error"]["details"][0]["field"] == field, (repr(char), body)


async def test_multi_line_text_keeps_its_line_breaks_and_emoji_sequences(api: Api) -> None:
    me, other = await api.signup(), await api.signup()
    text = "오늘 산책\n\t재밌었어요 👩\u200d👩\u200d👧"
    body = await _comment(api, me, other, text)
    assert body["body"] == text


@pytest.mark.parametrize(("write", "field"), FIELDS.values(), ids=FIELDS.keys())
async def test_text_is_stored_in_nfc(api: Api, write: Write, field: str) -> None:
    me, other = await api.signup(), await api.signup()
    decomposed = unicodedata.normalize("NFD", "초코랑 산책")
    assert decomposed != "초코랑 산책"
    body = await write(api, me, other, decomposed)
    assert body[field] == "초코랑 산책", body


async def test_a_decomposed_query_finds_a_composed_nickname_and_the_reverse(api: Api) -> None:
    me = await api.signup()
    composed = await api.signup("초코아빠")
    decomposed = await api.signup()
    await _nickname(api, decomposed, me, unicodedata.normalize("NFD", "보리엄마"))
    for query, found in [("초코", composed), ("보리", decomposed)]:
        for form in ("NFC", "NFD"):
            params = {"query": unicodedata.normalize(form, query)}
            body = await api.call("GET", "/users", me, expect=200, params=params)
            assert [item["id"] for item in body["items"]] == [found.id], (query, form)


async def test_the_migration_rewrites_text_stored_before_in_nfc(
    api: Api, db: asyncpg.Connection
) -> None:
    me, old = await api.signup(), await api.signup()
    await db.execute(
        "UPDATE users SET nickname = $1 WHERE id = $2",
        unicodedata.normalize("NFD", "초코아빠"),
        uuid.UUID(old.id),
    )
    body = await api.call("GET", "/users", me, expect=200, params={"query": "초코"})
    assert body["items"] == []
    await db.execute(MIGRATION.read_text(encoding="utf-8"))
    body = await api.call("GET", "/users", me, expect=200, params={"query": "초코"})
    assert [item["nickname"] for item in body["items"]] == ["초코아빠"]
