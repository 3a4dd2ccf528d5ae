"""The feed: walks by the viewer and by those the viewer follows, newest first.

Written to stay fast at millions of walks: instead of filtering all walks by author, each author
(the viewer plus every followee) gets its own LATERAL scan of `walks_user_created_idx`
(user_id, created_at DESC, id DESC) that starts at the keyset bound and stops after `limit`
rows; the per-author runs are then merged and limited again. The work grows with the number of
followees times the page size, never with the size of the table. The viewer is bound at `$1`.

The visibility rule is applied in two halves: whether the viewer may see an author at all
(`user_visible_to`, blocks) once per author, and whether a walk's audience includes the viewer
(`walk_audience_includes`) per walk; together they are `walk_visible_to`.
"""

from __future__ import annotations

import uuid

import asyncpg

from services.api.visibility import user_visible_to, walk_audience_includes
from services.api.walks.queries import NEWEST_FIRST, WALK_COLUMNS
from services.api.web.pagination import END, Cursor, Page

_AUTHORS = f"""authors AS (
    SELECT $1::uuid AS user_id
    UNION ALL
    SELECT f.followee_id FROM follows f
    WHERE f.follower_id = $1 AND {user_visible_to("f.followee_id", "$1")}
)"""
_IN_AUDIENCE = walk_audience_includes("w", "$1")


def _keys(keyset: str) -> str:
    """(created_at, id) of the newest `$4` feed walks matching `keyset`: a per-author LATERAL
    run on the index, merged and limited again."""
    return f"""SELECT fw.id, fw.created_at
        FROM authors a
        CROSS JOIN LATERAL (
            SELECT w.id, w.created_at FROM walks w
            WHERE w.user_id = a.user_id AND {keyset} AND {_IN_AUDIENCE}
            {NEWEST_FIRST}
            LIMIT $4
        ) fw
        ORDER BY fw.created_at DESC, fw.id DESC
        LIMIT $4"""


def _walks(keyset: str) -> str:
    return f"""WITH {_AUTHORS}, page AS ({_keys(keyset)})
        SELECT {WALK_COLUMNS}
        FROM page JOIN walks w ON w.id = page.id JOIN users u ON u.id = w.user_id
        {NEWEST_FIRST}"""


_OLDER = "(w.created_at, w.id) < ($2, $3)"
_NEWER = "(w.created_at, w.id) > ($2, $3)"
_PAGE_SQL = _walks(_OLDER)
# The poll in one statement (one snapshot, one round trip): the newest `$4` newer walks, each
# row carrying the exact count of newer walks; a single row of NULL walk columns when none is.
_POLL_SQL = f"""WITH {_AUTHORS},
    newer AS (
        SELECT w.id, w.created_at FROM authors a JOIN walks w ON w.user_id = a.user_id
        WHERE {_NEWER} AND {_IN_AUDIENCE}
    ),
    page AS (SELECT id FROM newer ORDER BY created_at DESC, id DESC LIMIT $4),
    items AS (
        SELECT {WALK_COLUMNS}
        FROM page JOIN walks w ON w.id = page.id JOIN users u ON u.id = w.user_id
    )
    SELECT (SELECT count(*) FROM newer) AS new_count, items.*
    FROM (SELECT 1) AS one LEFT JOIN items ON true
    ORDER BY items.created_at DESC, items.id DESC"""
_NEWEST_KEY_SQL = f"WITH {_AUTHORS} {_keys(_OLDER)}"


async def feed_page(
    conn: asyncpg.Connection, viewer_id: uuid.UUID, page: Page
) -> list[asyncpg.Record]:
    """One page (plus one row, for `page_of`) of the feed, older than `page.before`."""
    rows: list[asyncpg.Record] = await conn.fetch(
        _PAGE_SQL, viewer_id, page.before_created_at, page.before_id, page.limit + 1
    )
    return rows


async def feed_poll(
    conn: asyncpg.Connection, viewer_id: uuid.UUID, since: Cursor, limit: int
) -> tuple[list[asyncpg.Record], int]:
    """The newest `limit` feed walks newer than `since` (newest first), and how many feed walks
    are newer in all (exact: the "N new posts" banner)."""
    rows = await conn.fetch(_POLL_SQL, viewer_id, since.created_at, since.id, limit)
    new_count: int = rows[0]["new_count"]
    return [r for r in rows if r["id"] is not None], new_count


async def newest_feed_cursor(conn: asyncpg.Connection, viewer_id: uuid.UUID) -> Cursor | None:
    """The cursor of the newest feed walk, or None for an empty feed."""
    record = await conn.fetchrow(_NEWEST_KEY_SQL, viewer_id, END.created_at, END.id, 1)
    return Cursor.of(record) if record else None
