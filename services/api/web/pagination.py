"""Keyset pagination on `(created_at, id)`, and the `since` parameter of the polls.

A cursor is opaque to the app: base64url of `<ISO time>|<uuid>`. `since` takes either a cursor
or a bare ISO-8601 time, so any time the server returned can be sent back as is.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from shared.errors import invalid

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Greater than every real key: the first page starts "before" this.
_END = (dt.datetime.max.replace(tzinfo=dt.UTC), uuid.UUID(int=(1 << 128) - 1))


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: dt.datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat(timespec='microseconds')}|{self.id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Raise ValueError if `text` is not a cursor this server made."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError("not a cursor") from exc
        time_text, sep, id_text = raw.partition("|")
        if not sep:
            raise ValueError("not a cursor")
        return cls(parse_time(time_text), uuid.UUID(id_text))

    @classmethod
    def of(cls, record: Any) -> Cursor:
        return cls(record["created_at"], record["id"])


def parse_time(text: str) -> dt.datetime:
    """An ISO-8601 time; one without an offset is taken as UTC."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    before: Cursor

    @property
    def before_created_at(self) -> dt.datetime:
        return self.before.created_at

    @property
    def before_id(self) -> uuid.UUID:
        return self.before.id


def limit_param(request: web.Request) -> int:
    """`?limit=` (1..100, default 20), or a 422 naming it."""
    limit_text = request.query.get("limit")
    if limit_text is None:
        return DEFAULT_LIMIT
    try:
        limit = int(limit_text)
    except ValueError:
        raise invalid("limit", "limit must be an integer from 1 to 100") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", "limit must be an integer from 1 to 100")
    return limit


def page_params(request: web.Request) -> Page:
    """`?limit=` (1..100, default 20) and `?before=<cursor>`, or a 422 naming the bad one."""
    limit = limit_param(request)
    before_text = request.query.get("before")
    before = Cursor(*_END)
    if before_text is not None:
        try:
            before = Cursor.decode(before_text)
        except ValueError:
            raise invalid("before", "before must be a cursor from a previous page") from None
    return Page(limit, before)


def since_param(request: web.Request) -> Cursor | None:
    """`?since=` as a cursor or an ISO time (which sorts after every id at that instant)."""
    text = request.query.get("since")
    if text is None:
        return None
    try:
        return Cursor.decode(text)
    except ValueError:
        pass
    try:
        return Cursor(parse_time(text), _END[1])
    except ValueError:
        raise invalid("since", "since must be an ISO-8601 time or a cursor") from None


def page_of(records: list[Any], page: Page, items: list[dict[str, Any]]) -> dict[str, Any]:
    """`{"items", "next_cursor"}` for rows fetched with `LIMIT page.limit + 1`."""
    has_more = len(records) > page.limit
    next_cursor = Cursor.of(records[page.limit - 1]).encode() if has_more else None
    return {"items": items[: page.limit], "next_cursor": next_cursor}
