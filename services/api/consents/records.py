"""The append-only consent record: one row per consent given or withdrawn, kept for the
account's life and five years after it (rows name the account by id, with no foreign key)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import asyncpg


async def record_consents(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    versions: Mapping[str, str],
    action: str,
    client_address: str,
) -> None:
    """One row per kind, `action` 'given' or 'withdrawn', in the caller's transaction."""
    await conn.executemany(
        """INSERT INTO consent_records (user_id, kind, version, action, client_address)
           VALUES ($1, $2, $3, $4, $5)""",
        [(user_id, kind, version, action, client_address) for kind, version in versions.items()],
    )


async def latest_consents(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID
) -> dict[str, asyncpg.Record]:
    """The newest record of each kind the user ever gave or withdrew (`version`, `action`)."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (kind) kind, version, action
             FROM consent_records WHERE user_id = $1
            ORDER BY kind, at DESC, id DESC""",
        user_id,
    )
    return {row["kind"]: row for row in rows}


async def consent_history(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every consent the user gave or withdrew, newest first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT kind, version, action, at, client_address
             FROM consent_records WHERE user_id = $1
            ORDER BY at DESC, id DESC""",
        user_id,
    )
    return rows
