"""Keyset pagination on `(created_at, id)`, and the `since` parameter of the polls.

A cursor is opaque to the app: base64url of `<ISO time>|<uuid>`, exactly as `Cursor.encode`
writes them (anything else, a hand-made cursor with a NUL or a loose time, is 422). `since`
takes either a cursor or a bare ISO-8601 time (with its offset), so any time the server
returned can be sent back as is; a `since` later than the server's clock is taken as its now,
so a phone whose clock runs ahead still sees what is new. An empty `?limit=`, `?before=` or
`?since=` is taken as absent.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from services.api.web.times import EARLIEST, parse_time
from shared.errors import invalid

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_LAST_ID = uuid.UUID(int=(1 << 128) - 1)
# What `Cursor.encode` writes, and nothing else: an aware time to the microsecond, a uuid.
_CURSOR_TEXT = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d)"
    r"\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
    re.ASCII,
)


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
        if (parts := _CURSOR_TEXT.fullmatch(raw)) is None:
            raise ValueError("not a cursor")
        time_text, id_text = parts.groups()
        return cls(parse_time(time_text), uuid.UUID(id_text))

    @classmethod
    def of(cls, record: Any, time_column: str = "created_at") -> Cursor:
        return cls(record[time_column], record["id"])

    @classmethod
    def at(cls, moment: dt.datetime) -> Cursor:
        """The cursor of an instant: after every row created at it or before."""
        return cls(moment, _LAST_ID)


# Below every real key (nothing the server made is older than 1970): what a poll of an empty
# feed starts from, so that its next poll sees every walk that comes.
BEGINNING = Cursor(EARLIEST, uuid.UUID(int=0))
# Above every real key: the first page starts "before" this.
END = Cursor(dt.datetime.max.replace(tzinfo=dt.UTC), _LAST_ID)


def query_value(request: web.Request, name: str) -> str | None:
    """A query parameter, None when absent or empty (`?before=` is no cursor at all)."""
    return request.query.get(name) or None


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


def limit_param(request: web.Request, default: int = DEFAULT_LIMIT) -> int:
    """`?limit=` (1..100, `default` when absent or empty), or a 422 naming it."""
    limit_text = query_value(request, "limit")
    if limit_text is None:
        return default
    try:
        limit = int(limit_text)
    except ValueError:
        raise invalid("limit", "limit must be an integer from 1 to 100") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", "limit must be an integer from 1 to 100")
    return limit


def page_params(request: web.Request, default_limit: int = DEFAULT_LIMIT) -> Page:
    """`?limit=` (1..100, default 20) and `?before=<cursor>`, or a 422 naming the bad one."""
    limit = limit_param(request, default_limit)
    before_text = query_value(request, "before")
    before = END
    if before_text is not None:
        try:
            before = Cursor.decode(before_text)
        except ValueError:
            raise invalid("before", "before must be a cursor from a previous page") from None
    return Page(limit, before)


def since_param(request: web.Request) -> Cursor | None:
    """`?since=` as a cursor, or an ISO time as `Cursor.at` it; one later than now is now."""
    text = query_value(request, "since")
    if text is None:
        return None
    try:
        since = Cursor.decode(text)
    except ValueError:
        try:
            since = Cursor.at(parse_time(text))
        except ValueError:
            raise invalid(
                "since", "since must be a cursor or an ISO-8601 time with a UTC offset, 1970-9000"
            ) from None
    now = dt.datetime.now(dt.UTC)
    return since if since.created_at <= now else Cursor.at(now)


def page_of(
    records: list[Any],
    page: Page,
    items: list[dict[str, Any]],
    time_column: str = "created_at",
) -> dict[str, Any]:
    """`{"items", "next_cursor"}` for rows fetched with `LIMIT page.limit + 1`, keyed on
    `(time_column, id)`."""
    has_more = len(records) > page.limit
    next_cursor = Cursor.of(records[page.limit - 1], time_column).encode() if has_more else None
    return {"items": items[: page.limit], "next_cursor": next_cursor}
