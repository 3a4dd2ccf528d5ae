"""Cursors are opaque: only what the server made is taken, anything else is 422 (CONTRACT
section 2), never a 500 from a value PostgreSQL cannot hold (issue 20: int4 overflow, NUL)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from tests.support import Api, assert_error


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _search_cursor(*parts: Any) -> str:
    return _b64(json.dumps(list(parts)).encode())


ID = str(uuid.uuid4())
SEARCH_CURSORS = {
    "a position past int4": _search_cursor(2, 2**31, "bori", ID),
    "a negative position": _search_cursor(2, -1, "bori", ID),
    "a huge position": _search_cursor(2, 10**30, "bori", ID),
    "a NUL in the key": _search_cursor(0, "bo\x00ri", ID),
    "a NUL in the contains key": _search_cursor(2, 3, "bo\x00ri", ID),
    "a key that is not text": _search_cursor(1, ["bori"], ID),
    "a tier that is a boolean": _search_cursor(True, "bori", ID),
    "an id that is a number": _search_cursor(0, "bori", 7),
}


@pytest.mark.parametrize("cursor", SEARCH_CURSORS.values(), ids=SEARCH_CURSORS.keys())
async def test_a_hand_made_search_cursor_is_422(api: Api, cursor: str) -> None:
    me = await api.signup()
    await api.signup("bori")
    params = {"query": "bori", "before": cursor}
    body = await api.call("GET", "/users", me, expect=422, params=params)
    assert_error(body, "validation_error")
    assert body["error"]["details"][0]["field"] == "before"


PAGE_CURSORS = {
    "a NUL after the time": _b64(f"2026-01-01T00:00:00.000000+00:00\x00|{ID}".encode()),
    "a time without microseconds": _b64(f"2026-01-01T00:00:00+00:00|{ID}".encode()),
    "an id in braces": _b64(f"2026-01-01T00:00:00.000000+00:00|{{{ID}}}".encode()),
    "Arabic-Indic digits in the id": _b64(f"2026-01-01T00:00:00.000000+00:00|{'٠' * 32}".encode()),
}


@pytest.mark.parametrize("cursor", PAGE_CURSORS.values(), ids=PAGE_CURSORS.keys())
async def test_a_hand_made_page_cursor_is_422(api: Api, cursor: str) -> None:
    me = await api.signup()
    body = await api.call("GET", "/notifications", me, expect=422, params={"before": cursor})
    assert_error(body, "validation_error")
    assert body["error"]["details"][0]["field"] == "before"


async def test_the_cursors_the_server_makes_are_taken_back(api: Api) -> None:
    me = await api.signup("searcher")
    for n in range(3):
        await api.signup(f"bori{n}")
    first = await api.call("GET", "/users", me, expect=200, params={"query": "ri", "limit": "1"})
    params = {"query": "ri", "limit": "1", "before": first["next_cursor"]}
    second = await api.call("GET", "/users", me, expect=200, params=params)
    assert second["items"] and second["items"] != first["items"]
    feed = await api.call("GET", "/feed", me, expect=200)
    await api.call("GET", "/feed", me, expect=200, params={"since": feed["latest_cursor"]})
