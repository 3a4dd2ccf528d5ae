"""The moderation API behind the console (CONTRACT section 6): the queue, a user's page, the
four actions, restore and unsuspend, and the audit log (admins). Every route here sits behind
the staff session (staff_sessions.py); every action writes its audit row in its transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.api.moderation.audit import AUDIT_COLUMNS, AUDIT_FROM, audit, audit_json
from services.api.moderation.effects import (
    AfterCommit,
    hide_content,
    restore_content,
    suspend_user,
    unsuspend_user,
)
from services.api.moderation.metrics import count_action
from services.api.moderation.reasons import REASONS
from services.api.moderation.report_records import REPORT_COLUMNS, report_json
from services.api.moderation.staff_sessions import current_staff, require_admin
from services.api.notifications.notify import notify
from services.api.web.pagination import Cursor, page_of, page_params, query_value
from services.api.web.path_params import path_uuid
from shared.errors import conflict, invalid, not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key, redis_key, settings_key

STATUSES = ("open", "actioned", "dismissed")


def _person(user_id: Any, nickname: Any) -> dict[str, Any] | None:
    return None if user_id is None else {"id": user_id, "nickname": nickname}


# --- the queue -----------------------------------------------------------------------------

_TARGETS_SQL = """
WITH t AS (
    SELECT target_type, target_id, min(created_at) AS first_reported_at,
           max(resolved_at) AS last_resolved_at
    FROM reports
    WHERE status = $1
      AND ($2::text IS NULL OR (target_type, target_id) IN (
            SELECT target_type, target_id FROM reports WHERE status = $1 AND reason = $2))
    GROUP BY target_type, target_id
)
SELECT t.*, t.target_id AS id, {key} AS sort_at FROM t
WHERE ({key}, t.target_id) {compare} ($3, $4)
ORDER BY {key} {direction}, t.target_id {direction}
LIMIT $5
"""
_OLDEST_FIRST = _TARGETS_SQL.format(key="t.first_reported_at", compare=">", direction="ASC")
_NEWEST_FIRST = _TARGETS_SQL.format(key="t.last_resolved_at", compare="<", direction="DESC")
_START_ASC = Cursor(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), uuid.UUID(int=0))


async def _hidden(conn: asyncpg.Connection, kind: str, target_id: uuid.UUID) -> bool:
    if kind == "walk":
        sql = "SELECT hidden_reason IS NOT NULL FROM walks WHERE id = $1"
    elif kind == "comment":
        sql = "SELECT hidden_reason IS NOT NULL FROM comments WHERE id = $1"
    else:
        sql = "SELECT suspended_until > now() FROM users WHERE id = $1"
    return bool(await conn.fetchval(sql, target_id))


async def queue_item(
    conn: asyncpg.Connection, kind: str, target_id: uuid.UUID, status: str
) -> dict[str, Any]:
    """One target with its reports of `status` (oldest first), its snapshot (the earliest kept
    one: as it was when first reported) and its author."""
    reports = await conn.fetch(
        """SELECT r.id, r.reason, r.note, r.created_at, r.reporter_id, r.snapshot,
                  r.target_user_id, ru.nickname AS reporter_nickname,
                  au.nickname AS author_nickname
           FROM reports r
           LEFT JOIN users ru ON ru.id = r.reporter_id
           LEFT JOIN users au ON au.id = r.target_user_id
           WHERE r.target_type = $1 AND r.target_id = $2 AND r.status = $3
           ORDER BY r.created_at, r.id""",
        kind,
        target_id,
        status,
    )
    snapshot = next((r["snapshot"] for r in reports if r["snapshot"] is not None), None)
    author = None
    if reports and reports[0]["target_user_id"] is not None:
        first = reports[0]
        kept = (snapshot or {}).get("author") or {}
        author = {
            "id": first["target_user_id"],
            "nickname": first["author_nickname"] or kept.get("nickname"),
        }
    return {
        "target": {
            "type": kind,
            "id": target_id,
            "snapshot": snapshot,
            "author": author,
            "hidden": await _hidden(conn, kind, target_id),
        },
        "reports": [
            {
                "id": r["id"],
                "reason": r["reason"],
                "note": r["note"],
                "reporter": _person(
                    r["reporter_id"] if r["reporter_nickname"] else None,
                    r["reporter_nickname"],
                ),
                "created_at": r["created_at"],
            }
            for r in reports
        ],
        "first_reported_at": reports[0]["created_at"] if reports else None,
        "status": status,
    }


async def get_queue(request: web.Request) -> web.Response:
    status = query_value(request, "status") or "open"
    if status not in STATUSES:
        raise invalid("status", "status must be one of: open, actioned, dismissed")
    reason = query_value(request, "reason")
    if reason is not None and reason not in REASONS:
        raise invalid("reason", "reason must be one of: " + ", ".join(REASONS))
    page = page_params(request)
    oldest_first = status == "open"
    before = page.before
    if oldest_first and query_value(request, "before") is None:
        before = _START_ASC
    async with request.app[db_pool_key].acquire() as conn:
        targets = await conn.fetch(
            _OLDEST_FIRST if oldest_first else _NEWEST_FIRST,
            status,
            reason,
            before.created_at,
            before.id,
            page.limit + 1,
        )
        items = [
            await queue_item(conn, t["target_type"], t["target_id"], status)
            for t in targets[: page.limit]
        ]
    return json_response(page_of(targets, page, items, "sort_at"))


# --- a user's page -------------------------------------------------------------------------


async def user_status(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT suspended_until > now() AS suspended, suspended_until = 'infinity' AS banned,
                  suspended_until FROM users WHERE id = $1""",
        user_id,
    )
    if row is None:
        return None
    if row["banned"]:
        return {"status": "banned", "until": None}
    if row["suspended"]:
        return {"status": "suspended", "until": row["suspended_until"]}
    return {"status": "active", "until": None}


async def get_user(request: web.Request) -> web.Response:
    user_id = path_uuid(request, "user")
    async with request.app[db_pool_key].acquire() as conn:
        profile = await conn.fetchrow(
            """SELECT id, nickname, profile_image_url, created_at,
                      (SELECT count(*) FROM walks WHERE user_id = u.id) AS walk_count
               FROM users u WHERE id = $1""",
            user_id,
        )
        if profile is None:
            raise not_found("user")
        status = await user_status(conn, user_id)
        against = await conn.fetch(
            f"""SELECT {REPORT_COLUMNS} FROM reports WHERE target_user_id = $1
                ORDER BY created_at DESC, id DESC LIMIT 100""",
            user_id,
        )
        by = await conn.fetch(
            f"""SELECT {REPORT_COLUMNS} FROM reports WHERE reporter_id = $1
                ORDER BY created_at DESC, id DESC LIMIT 100""",
            user_id,
        )
        actions = await conn.fetch(
            f"""SELECT {AUDIT_COLUMNS} FROM {AUDIT_FROM}
                WHERE a.target ->> 'user_id' = $1::text AND a.action <> 'sign_in'
                ORDER BY a.at DESC, a.id DESC LIMIT 100""",
            str(user_id),
        )
    body = {
        **dict(profile),
        "profile": dict(profile),
        **(status or {}),
        "reports_against": [report_json(r) for r in against],
        "reports_by": [report_json(r) for r in by],
        "actions": [audit_json(a) for a in actions],
    }
    return json_response(body)


# --- actions -------------------------------------------------------------------------------


async def _auto_hidden(conn: asyncpg.Connection, kind: str, target_id: uuid.UUID) -> bool:
    """Whether the walk or comment is hidden by auto-hide alone (no moderator ever hid it)."""
    hidden = await _hidden(conn, kind, target_id)
    decided: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM reports WHERE target_type = $1 AND target_id = $2
                          AND action = 'hide')""",
        kind,
        target_id,
    )
    return hidden and not decided


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["dismiss", "hide", "suspend", "ban"]
    note: str | None = Field(default=None, max_length=1000)
    days: int | None = Field(default=None, ge=1, le=365, strict=True)


async def resolve_report(request: web.Request) -> web.Response:
    report_id = path_uuid(request, "report")
    body = ResolveIn.model_validate_json(await request.read())
    staff = current_staff(request)
    settings = request.app[settings_key]
    after = AfterCommit()
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        report = await conn.fetchrow(
            "SELECT target_type, target_id, target_user_id, reason FROM reports WHERE id = $1",
            report_id,
        )
        if report is None:
            raise not_found("report")
        kind, target_id = report["target_type"], report["target_id"]
        if body.action == "hide" and kind == "user":
            raise invalid("action", "hide is for a walk or a comment; suspend or ban a user")
        if body.action == "suspend" and body.days is None:
            raise invalid("days", "suspend takes days (1..365)")
        # Every open report on the target, locked: two moderators never both resolve them.
        open_reports = await conn.fetch(
            """SELECT id, reporter_id, reason FROM reports
               WHERE target_type = $1 AND target_id = $2 AND status = 'open'
               ORDER BY id FOR UPDATE""",
            kind,
            target_id,
        )
        if not open_reports:
            raise conflict("the reports on this target are already resolved")
        person = report["target_user_id"]
        if (
            body.action == "dismiss"
            and kind != "user"
            and await _auto_hidden(conn, kind, target_id)
        ):
            # Hidden by reports alone "until a moderator decides": dismissing shows it again.
            await restore_content(conn, request.app[redis_key], kind, target_id, after)
        if body.action == "hide":
            await hide_content(conn, kind, target_id, report["reason"], after)
        elif body.action in ("suspend", "ban"):
            until = None
            if body.action == "suspend":
                until = await conn.fetchval("SELECT now() + make_interval(days => $1)", body.days)
            if person is None or not await suspend_user(conn, settings, person, until, after):
                raise conflict("the account no longer exists")
        outcome = "dismissed" if body.action == "dismiss" else "actioned"
        await conn.execute(
            """UPDATE reports SET status = $2, action = $3, resolved_at = clock_timestamp()
               WHERE id = ANY($1::uuid[])""",
            [r["id"] for r in open_reports],
            outcome,
            body.action,
        )
        for r in open_reports:
            notification = (
                await notify(
                    conn,
                    recipient_id=r["reporter_id"],
                    type="report_resolved",
                    actor_id=None,
                    data={"report_id": str(r["id"]), "outcome": outcome},
                )
                if await conn.fetchval("SELECT 1 FROM users WHERE id = $1", r["reporter_id"])
                else None
            )
            if notification is not None:
                after.notifications.append(notification)
        target: dict[str, Any] = {"type": kind, "id": target_id, "action": body.action}
        if person is not None:
            target["user_id"] = person
        if body.days is not None and body.action == "suspend":
            target["days"] = body.days
        await audit(conn, staff.user_id, "resolve", target, body.note)
        item = await queue_item(conn, kind, target_id, outcome)
    await after.run(request.app)
    count_action(request.app, body.action)
    return json_response(item)


async def restore(request: web.Request) -> web.Response:
    kind = request.match_info["type"]
    if kind not in ("walk", "comment"):
        raise not_found("content")
    content_id = path_uuid(request, kind)
    staff = current_staff(request)
    after = AfterCommit()
    redis = request.app[redis_key]
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        owner = await conn.fetchval(
            f"SELECT user_id FROM {'walks' if kind == 'walk' else 'comments'} WHERE id = $1",
            content_id,
        )
        restored = await restore_content(conn, redis, kind, content_id, after)  # type: ignore[arg-type]
        if restored is None:
            raise not_found(kind)
        await audit(
            conn,
            staff.user_id,
            "restore",
            {"type": kind, "id": content_id, "user_id": owner},
            None,
        )
    await after.run(request.app)
    count_action(request.app, "restore")
    return json_response({"target": {"type": kind, "id": content_id}, "hidden": False})


class UnsuspendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=1000)


async def unsuspend(request: web.Request) -> web.Response:
    user_id = path_uuid(request, "user")
    raw = await request.read()
    note = UnsuspendIn.model_validate_json(raw).note if raw.strip() else None
    staff = current_staff(request)
    settings = request.app[settings_key]
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        if not await unsuspend_user(conn, request.app[redis_key], settings, user_id):
            raise not_found("user")
        await audit(
            conn,
            staff.user_id,
            "unsuspend",
            {"type": "user", "id": user_id, "user_id": user_id},
            note,
        )
        status = await user_status(conn, user_id)
    count_action(request.app, "unsuspend")
    return json_response({"id": user_id, **(status or {})})


# --- the audit log -------------------------------------------------------------------------


async def get_audit(request: web.Request) -> web.Response:
    require_admin(request)
    page = page_params(request)
    async with request.app[db_pool_key].acquire() as conn:
        records = await conn.fetch(
            f"""SELECT {AUDIT_COLUMNS} FROM {AUDIT_FROM}
                WHERE (a.at, a.id) < ($1, $2)
                ORDER BY a.at DESC, a.id DESC LIMIT $3""",
            page.before_created_at,
            page.before_id,
            page.limit + 1,
        )
    items = [audit_json(r) for r in records]
    return json_response(page_of(records, page, items, "at"))
