"""What `GET /me/export` holds, read from one snapshot and written entry by entry.

Every read runs in the caller's one REPEATABLE READ, read-only transaction (the handler opens
it), so the archive is one moment of the database however long it takes to send. Lists are read
with server-side cursors a few rows at a time, and walks twice (their facts for `walks.json`,
then their paths, one GPX at a time): an account with 1,000 walks of 2,000 points is never held
in memory at once.

What is the caller's is all there; what is someone else's is not: other people appear only as
the user summary the API shows (`{id, nickname, profile_image_url}`), and as null where the API
would not show them (someone who blocked the caller; a deleted account). Devices are listed
without their tokens.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from functools import partial
from typing import Any

import asyncpg

from services.api.export.archive import ZipStream
from services.api.export.gpx import walk_gpx
from services.api.moderation.report_records import REPORT_COLUMNS, report_json
from services.api.notifications.in_app_list import notification_item
from services.api.notifications.push_settings import read_settings
from services.api.rankings.badges import user_badges
from services.api.social.users import fetch_me
from services.api.together.location_log import PARTNER_COLUMNS, entry_json
from services.api.together.queries import invitation_json
from services.api.visibility import notification_shown_to, user_visible_to
from services.api.walks.privacy_zones import list_zones
from services.api.walks.queries import WALK_COLUMNS, walk_json
from services.api.web.presenters import user_columns, user_summary

# Rows fetched per round trip; a walk's path is ~150 KB of text, hence fewer of those.
ROWS_PER_FETCH = 200
PATHS_PER_FETCH = 8
PATHS_AHEAD = 8


def _shown(alias: str, user_id_column: str) -> str:
    """LEFT JOIN a user the caller ($1) may see: a user who blocked the caller, or a deleted
    account, is embedded as null."""
    return (
        f"LEFT JOIN users {alias} ON {alias}.id = {user_id_column} "
        f"AND {user_visible_to(f'{alias}.id', '$1')}"
    )


async def _rows(
    conn: asyncpg.Connection,
    present: Callable[[asyncpg.Record], Any],
    query: str,
    *args: Any,
    prefetch: int = ROWS_PER_FETCH,
) -> AsyncIterator[Any]:
    async for record in conn.cursor(query, *args, prefetch=prefetch):
        yield present(record)


def gpx_name(walk_id: uuid.UUID) -> str:
    return f"walks/{walk_id}.gpx"


async def write_export(conn: asyncpg.Connection, user_id: uuid.UUID, archive: ZipStream) -> None:
    """Every entry of the archive, in the order a person would look for them."""
    await archive.write_json("account.json", await _account(conn, user_id))
    await _dogs(conn, user_id, archive)
    await _walks(conn, user_id, archive)
    await _walk_paths(conn, user_id, archive)
    await _comments(conn, user_id, archive)
    await _likes(conn, user_id, archive)
    await _follows(conn, user_id, archive)
    await _invitations(conn, user_id, archive)
    await _notifications(conn, user_id, archive)
    await _location_log(conn, user_id, archive)
    await _reports(conn, user_id, archive)
    await archive.write_json("badges.json", await user_badges(conn, user_id))


async def _account(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any]:
    profile = await fetch_me(conn, user_id)
    settings = {"approve_followers": profile["approve_followers"]} if profile else {}
    blocks = await conn.fetch(
        f"""SELECT b.created_at, {user_columns("u", "user")}
              FROM blocks b JOIN users u ON u.id = b.blocked_id
             WHERE b.blocker_id = $1 ORDER BY b.created_at, b.blocked_id""",
        user_id,
    )
    devices = await conn.fetch(
        """SELECT platform, created_at, updated_at FROM devices
            WHERE user_id = $1 ORDER BY created_at""",
        user_id,
    )
    return {
        "exported_at": await conn.fetchval("SELECT now()"),
        "profile": profile,
        "settings": settings,
        "notification_settings": (await read_settings(conn, user_id)).as_json(),
        "consents": await _consents(conn, user_id),
        "privacy_zones": await list_zones(conn, user_id),
        "blocks": [
            {"user": user_summary(b, "user"), "blocked_at": b["created_at"]} for b in blocks
        ],
        "devices": [dict(d) for d in devices],
    }


async def _consents(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any]:
    """The append-only record (oldest first), and each kind's version now in force."""
    records = await conn.fetch(
        """SELECT kind, version, action, at, client_address FROM consent_records
            WHERE user_id = $1 ORDER BY at, id""",
        user_id,
    )
    current: dict[str, str | None] = {}
    for record in records:
        current[record["kind"]] = record["version"] if record["action"] == "given" else None
    return {"current": current, "history": [dict(r) for r in records]}


async def _dogs(conn: asyncpg.Connection, user_id: uuid.UUID, archive: ZipStream) -> None:
    async with archive.json_list("dogs.json") as out:
        await out.items(
            _rows(
                conn,
                dict,
                """SELECT id, name, breed, birth_date, created_at FROM dogs
                    WHERE owner_id = $1 ORDER BY created_at, id""",
                user_id,
            )
        )


def _walk(record: asyncpg.Record) -> dict[str, Any]:
    return {**walk_json(record), "gpx": gpx_name(record["id"]) if record["has_path"] else None}


async def _walks(conn: asyncpg.Connection, user_id: uuid.UUID, archive: ZipStream) -> None:
    """`walks.json`: the Walk of each (the API's shape), naming its GPX file if it has a path.
    `path IS NOT NULL` reads no path: only the null bitmap."""
    async with archive.json_list("walks.json") as out:
        await out.items(
            _rows(
                conn,
                _walk,
                f"""SELECT {WALK_COLUMNS}, w.path IS NOT NULL AS has_path
                      FROM walks w JOIN users u ON u.id = w.user_id
                     WHERE w.user_id = $1 ORDER BY w.created_at, w.id""",
                user_id,
            )
        )


async def _walk_paths(conn: asyncpg.Connection, user_id: uuid.UUID, archive: ZipStream) -> None:
    """One GPX file a walk with a path: the whole path (the owner's own, so no privacy zone
    trims it), read as text a few walks at a time and turned into GPX in a worker thread.

    PostgreSQL writing out the next paths and this process building the GPX of the last ones
    run at once: a reader task keeps up to `PATHS_AHEAD` walks queued (bounded memory)."""
    query = """SELECT id, started_at, memo, path::text AS path FROM walks
                WHERE user_id = $1 AND path IS NOT NULL ORDER BY created_at, id"""
    ahead: asyncio.Queue[asyncpg.Record | None] = asyncio.Queue(PATHS_AHEAD)
    failed: list[Exception] = []

    async def read() -> None:
        try:
            async for walk in conn.cursor(query, user_id, prefetch=PATHS_PER_FETCH):
                await ahead.put(walk)
        except Exception as exc:  # handed to the writer below, which raises it
            failed.append(exc)
        await ahead.put(None)

    reader = asyncio.create_task(read())
    try:
        while (walk := await ahead.get()) is not None:
            build = partial(walk_gpx, walk["id"], walk["started_at"], walk["memo"], walk["path"])
            await archive.write_file(gpx_name(walk["id"]), build)
        await reader
    finally:
        if not reader.done():  # the writing failed (the client went away): stop reading
            reader.cancel()
            with suppress(asyncio.CancelledError):
                await reader
    if failed:
        raise failed[0]


async def _comments(conn: asyncpg.Connection, user_id: uuid.UUID, archive: ZipStream) -> None:
    """The caller's comments, on anyone's walk (the walk named by its id only)."""
    async with archive.json_list("comments.json") as out:
        await out.items(
            _rows(
                conn,
                dict,
                """SELECT id, walk_id, body, created_at FROM comments
                    WHERE user_id = $1 ORDER BY created_at, id""",
                user_id,
            )
        )


async def _likes(conn: asyncpg.Connection, user_id: uuid.UUID, archive: ZipStream) -> None:
    async with archive.json_list("likes.json") as out:
        await out.items(
            _rows(
                conn,
                dict,
                """SELECT walk_id, created_at FROM likes
                    WHERE user_id = $1 ORDER BY created_at, walk_id""",
                user_id,
            )
        )


def _followed(record: asyncpg.Record) -> dict[str, Any]:
    return {"user": user_summary(record, "user"), "since": record["created_at"]}


async def _follows(conn: asyncpg.Connection, user_id: uuid.UUID, archive: ZipStream) -> None:
    """Both ways, and the follow requests waiting either way."""

    def query(table: str, mine: str, theirs: str) -> str:
        return f"""SELECT f.created_at, {user_columns("u", "user")}
                     FROM {table} f {_shown("u", f"f.{theirs}")}
                    WHERE f.{mine} = $1 ORDER BY f.created_at, f.{theirs}"""

    async with archive.json_list("follows.json") as out:
        for key, table, mine, theirs in (
            ("following", "follows", "follower_id", "followee_id"),
            ("followers", "follows", "followee_id", "follower_id"),
            ("requests_sent", "follow_requests", "requester_id", "target_id"),
            ("requests_received", "follow_requests", "target_id", "requester_id"),
        ):
            await out.member(key, _rows(conn, _followed, query(table, mine, theirs), user_id))


async def _invitations(conn: asyncpg.Connection, user_id: uuid.UUID, archive: ZipStream) -> None:
    """Every invitation the caller sent or received, in the API's shape."""
    async with archive.json_list("invitations.json") as out:
        await out.items(
            _rows(
                conn,
                invitation_json,
                f"""SELECT i.id, i.status, i.message, i.scheduled_at, i.created_at,
                           i.responded_at, i.ended_at, i.expires_at,
                           {user_columns("inviter", "inviter")},
                           {user_columns("invitee", "invitee")}
                      FROM invitations i {_shown("inviter", "i.inviter_id")}
                           {_shown("invitee", "i.invitee_id")}
                     WHERE i.inviter_id = $1 OR i.invitee_id = $1
                     ORDER BY i.created_at, i.id""",
                user_id,
            )
        )


async def _notifications(conn: asyncpg.Connection, user_id: uuid.UUID, archive: ZipStream) -> None:
    """The in-app list as the caller sees it (what a block hides stays hidden)."""
    async with archive.json_list("notifications.json") as out:
        await out.items(
            _rows(
                conn,
                notification_item,
                f"""SELECT n.id, n.type, n.data, n.created_at, n.read_at,
                           {user_columns("a", "actor")}
                      FROM notifications n LEFT JOIN users a ON a.id = n.actor_id
                     WHERE n.user_id = $1 AND {notification_shown_to("n", "$1")}
                     ORDER BY n.created_at, n.id""",
                user_id,
            )
        )


async def _location_log(conn: asyncpg.Connection, user_id: uuid.UUID, archive: ZipStream) -> None:
    """The ledger as `GET /me/location-log` shows it: the partner always there by id (the
    law's point is whom a location went to), without their profile if they blocked the
    caller, null once they deleted their account."""
    async with archive.json_list("location-log.json") as out:
        await out.items(
            _rows(
                conn,
                entry_json,
                f"""SELECT l.invitation_id, l.direction, l.first_at, l.last_at, l.count,
                           {PARTNER_COLUMNS}
                      FROM location_access_log l LEFT JOIN users p ON p.id = l.partner_id
                     WHERE l.user_id = $1 ORDER BY l.first_at, l.id""",
                user_id,
            )
        )


async def _reports(conn: asyncpg.Connection, user_id: uuid.UUID, archive: ZipStream) -> None:
    """The reports the caller filed (`GET /me/reports`' shape), never the evidence kept of
    someone else's content. Read only where the moderation tables exist (`to_regclass`)."""
    async with archive.json_list("reports.json") as out:
        if await conn.fetchval("SELECT to_regclass('reports') IS NULL"):
            await out.items(())
            return
        await out.items(
            _rows(
                conn,
                report_json,
                f"""SELECT {REPORT_COLUMNS}
                     FROM reports WHERE reporter_id = $1 ORDER BY created_at, id""",
                user_id,
            )
        )
