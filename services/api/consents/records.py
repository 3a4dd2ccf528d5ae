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
