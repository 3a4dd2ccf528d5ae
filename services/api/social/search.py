"""Finding people by nickname, to follow them or invite them to a walk (`GET /users?query=`,
search_handlers.py).

Matches are case-insensitive and ranked in three tiers: the nickname is the text, then it
starts with it, then it contains it elsewhere; inside the first two by lowered nickname in
code-point order, then id, and in the third by where the text occurs first, then the same.
Each tier is one indexed query (migrations `20261201110300_nickname_search_key.sql`,
`20261204200000_nickname_positions.sql`), run in order until the page is full, each reading
about the rows it returns: a first page full of exact and prefix matches never reads the
"contains" tier. The cursor names the last row's tier and sort key, so paging stays stable
across the tiers' seams.
"""

from __future__ import annotations

import base64
import binascii
import enum
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.api.visibility import user_findable_by

_INT4_MAX = 2**31 - 1
# A key is a lowered nickname (30 characters at most); a cursor's is bounded well above that.
_MAX_KEY_CHARS = 200
# The sort key of every tier: the lowered nickname in code-point order, as stored beside it
# (migration `20261201110300_nickname_search_key.sql`) and indexed by `users_nickname_search_idx`.
_KEY = "u.nickname_key"


class Tier(enum.IntEnum):
    EXACT = 0
    PREFIX = 1
    CONTAINS = 2


# Where each tier reads its rows: exact and prefix matches from the users' key btree, in key
# order; the "contains" tier from `nickname_positions`, whose btree holds every character and
# pair of every key with where it starts, in the tier's order: (pair, position, key, id).
_USERS = "users u"
_TIER_SOURCES = {
    Tier.EXACT: _USERS,
    Tier.PREFIX: _USERS,
    Tier.CONTAINS: "nickname_positions np JOIN users u ON u.id = np.user_id",
}
# $1 viewer, $2 lowered query, $3 the limit. Each tier's sort key, and the key's place at `$4..`
# (the cursor: where the page starts, after it). The prefix tier's key range ends before the
# parameter after those (when some key sorts after every key that starts with the query).
# The "contains" tier walks the rows of the query's first pair (one character: itself) from the
# cursor and keeps those where the whole text occurs first: each user once, at its first
# occurrence, and none whose key starts with the text (the prefix tier lists those).
_TIER_CONDITIONS = {
    Tier.EXACT: f"{_KEY} = $2",
    Tier.PREFIX: f"{_KEY} > $2",
    Tier.CONTAINS: "np.gram = left($2, 2) AND np.position > 1 AND strpos(np.key, $2) = np.position",
}
# Exact and prefix matches in key order; the "contains" tier by where the text occurs first,
# earliest first (`xx초코` before `xxxx초코`). Each the order of the index its tier reads, so a
# page stops after about a page of rows.
_SORT_KEYS = {
    Tier.EXACT: (f"{_KEY}", "u.id"),
    Tier.PREFIX: (f"{_KEY}", "u.id"),
    Tier.CONTAINS: ("np.position", "np.key", "np.user_id"),
}
_CURSOR_TYPES = {
    Tier.EXACT: ('text COLLATE "C"', "uuid"),
    Tier.PREFIX: ('text COLLATE "C"', "uuid"),
    Tier.CONTAINS: ("int", 'text COLLATE "C"', "uuid"),
}


@dataclass(frozen=True, slots=True)
class SearchCursor:
    """The last row of a page: its tier and its sort key in that tier."""

    tier: Tier
    sort_key: tuple[Any, ...]

    def encode(self) -> str:
        raw = orjson.dumps([int(self.tier), *self.sort_key[:-1], str(self.sort_key[-1])])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> SearchCursor:
        """Raise ValueError if `text` is not a cursor this route made: a tier, a position
        that fits PostgreSQL's int, a key that PostgreSQL can hold (no NUL), a uuid."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            tier_number, *parts = orjson.loads(raw)
            if type(tier_number) is not int:
                raise ValueError("not a tier")
            tier = Tier(tier_number)
            *head, last_id = parts
            if tier is Tier.CONTAINS:
                position, key = head
                if type(position) is not int or not 0 <= position <= _INT4_MAX:
                    raise ValueError("not a position")
            else:
                [key] = head
            if type(key) is not str or "\x00" in key or len(key) > _MAX_KEY_CHARS:
                raise ValueError("not a key")
            if type(last_id) is not str:
                raise ValueError("not an id")
            last = uuid.UUID(last_id)
        except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError) as exc:
            raise ValueError("not a search cursor") from exc
        return cls(tier, (position, key, last) if tier is Tier.CONTAINS else (key, last))

    @classmethod
    def of(cls, tier: Tier, record: asyncpg.Record) -> SearchCursor:
        key = (record["key"], record["id"])
        return cls(tier, (record["position"], *key) if tier is Tier.CONTAINS else key)


_FIRST_ID, _LAST_ID = uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)


def _tier_start(tier: Tier, lowered: str) -> tuple[Any, ...]:
    """Where a tier starts when the cursor is in an earlier one: just before its first sort
    key. PostgreSQL starts the index scan at this bound (the row comparison) rather than at the
    tier's own condition, so it is as tight: from `('', ...)` the prefix tier of `아빠` read
    every key below `아빠` (500 pages), and the "contains" tier every row at position 1."""
    if tier is Tier.CONTAINS:
        return (2, "", _FIRST_ID)  # the text at 1 is a prefix: positions start at 2
    return (lowered, _FIRST_ID if tier is Tier.EXACT else _LAST_ID)


def _prefix_end(prefix: str) -> str | None:
    """The least string after every string that starts with `prefix`, in code-point order (None
    if there is none): the last character that can grow, grown by one."""
    stem = prefix.rstrip(chr(0x10FFFF))
    if not stem:
        return None
    grown = ord(stem[-1]) + 1
    if 0xD800 <= grown <= 0xDFFF:  # surrogates are not characters; no text holds them
        grown = 0xE000
    return stem[:-1] + chr(grown)


async def search_users(
    conn: asyncpg.Connection,
    viewer_id: uuid.UUID,
    text: str,
    after: SearchCursor | None,
    limit: int,
) -> list[tuple[Tier, asyncpg.Record]]:
    """Up to `limit` matches after `after`, best first, each with its tier."""
    lowered: str = await conn.fetchval("SELECT lower($1::text)", text)
    found: list[tuple[Tier, asyncpg.Record]] = []
    for tier in Tier:
        if after is not None and tier < after.tier:
            continue
        start = after.sort_key if after and tier == after.tier else _tier_start(tier, lowered)
        args: list[Any] = [viewer_id, lowered, limit - len(found), *start]
        places = [f"${4 + i}::{t}" for i, t in enumerate(_CURSOR_TYPES[tier])]
        condition = _TIER_CONDITIONS[tier]
        if tier is Tier.PREFIX and (end := _prefix_end(lowered)) is not None:
            args.append(end)
            condition += f" AND {_KEY} < ${len(args)}"
        sort_key = ", ".join(_SORT_KEYS[tier])
        rows = await conn.fetch(
            f"""SELECT u.id, u.nickname, u.profile_image_url, {_KEY} AS key,
                       strpos({_KEY}, $2) AS position,
                       EXISTS (SELECT 1 FROM follows f
                               WHERE f.follower_id = $1 AND f.followee_id = u.id)
                           AS followed_by_me
                FROM {_TIER_SOURCES[tier]}
                WHERE {condition} AND {user_findable_by("u", "$1")}
                  AND ({sort_key}) > ({", ".join(places)})
                ORDER BY {sort_key}
                LIMIT $3""",
            *args,
        )
        found += [(tier, row) for row in rows]
        if len(found) == limit:
            break
    return found
