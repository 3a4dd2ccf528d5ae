"""The append-only audit log of staff actions (CONTRACT section 6, Evidence and audit).

Rows are only ever inserted: the database refuses UPDATE, DELETE and TRUNCATE on `audit_log`
(a trigger raising an exception, migration 20261204140000), so not even a bug here, or someone
with the application's database role, can rewrite what staff did.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import asyncpg

AuditAction = Literal["sign_in", "sign_out", "resolve", "restore", "unsuspend", "grant", "revoke"]


async def audit(
    conn: asyncpg.Connection | asyncpg.Pool,
    staff_id: uuid.UUID | None,
    action: AuditAction,
    target: dict[str, Any] | None = None,
    note: str | None = None,
) -> uuid.UUID:
    """Write one row; call it in the transaction of the action it records."""
    row_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO audit_log (staff_id, action, target, note) VALUES ($1, $2, $3, $4) "
        "RETURNING id",
        staff_id,
        action,
        _jsonable(target),
        note,
    )
    return row_id


def _jsonable(target: dict[str, Any] | None) -> dict[str, Any] | None:
    if target is None:
        return None
    return {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in target.items()}


AUDIT_COLUMNS = """a.id, a.action, a.target, a.note, a.at, a.staff_id,
    su.nickname AS staff_nickname"""
AUDIT_FROM = "audit_log a LEFT JOIN users su ON su.id = a.staff_id"


def audit_json(record: Any) -> dict[str, Any]:
    staff = None
    if record["staff_id"] is not None:
        staff = {"id": record["staff_id"], "nickname": record["staff_nickname"]}
    return {
        "id": record["id"],
        "staff": staff,
        "action": record["action"],
        "target": record["target"],
        "note": record["note"],
        "at": record["at"],
    }
