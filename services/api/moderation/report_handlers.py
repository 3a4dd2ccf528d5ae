"""`POST /reports` and `GET /me/reports` (CONTRACT section 3, Reports).

What a reporter can report is what they can see: the visibility rule decides
(services/api/visibility.py), so a target hidden from them is 404 like everywhere else; a
blocker still sees, and so may report, the person they blocked. At filing the target is copied
into the report's `snapshot` as the reporter saw it, with whose it is; the copy has no foreign
key, so it outlives the author's edits, deletions and account deletion, until it is pruned
`REPORT_EVIDENCE_RETENTION_DAYS` after resolution (evidence.py).

A walk or comment with open reports from `AUTO_HIDE_REPORTERS` distinct reporters, each of
whose accounts is at least `AUTO_HIDE_MIN_ACCOUNT_AGE_H` old, is hidden at once, as a
moderator's `hide` does: a brigade of fresh accounts cannot hide anyone.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.api.moderation.effects import AfterCommit, hide_content
from services.api.moderation.metrics import count_action
from services.api.moderation.reasons import Reason
from services.api.moderation.report_records import REPORT_COLUMNS, report_json
from services.api.visibility import comment_visible_to, user_visible_to, walk_visible_to
from services.api.web.authentication import current_user
from services.api.web.pagination import page_of, page_params
from services.api.web.rate_limit import Limit, enforce
from shared.errors import invalid, not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key, settings_key

TargetType = Literal["user", "walk", "comment"]
REPORT_WINDOW_S = 3600


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: TargetType
    id: uuid.UUID


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: TargetIn
    reason: Reason
    note: str | None = Field(default=None, max_length=1000)


async def snapshot_of(
    conn: asyncpg.Connection, target: TargetIn, viewer_id: uuid.UUID
) -> tuple[uuid.UUID, dict[str, Any]] | None:
    """(whose it is, the snapshot) of the target as the viewer sees it; None if they may not."""
    if target.type == "user":
        row = await conn.fetchrow(
            f"""SELECT u.id AS author_id, u.nickname, u.profile_image_url FROM users u
                WHERE u.id = $2 AND {user_visible_to("u.id", "$1")}""",
            viewer_id,
            target.id,
        )
        if row is None:
            return None
        snapshot = {"nickname": row["nickname"], "profile_image_url": row["profile_image_url"]}
    elif target.type == "walk":
        row = await conn.fetchrow(
            f"""SELECT w.user_id AS author_id, u.nickname AS author_nickname, w.memo,
                       w.distance_m, w.started_at, w.visibility
                FROM walks w JOIN users u ON u.id = w.user_id
                WHERE w.id = $2 AND {walk_visible_to("w", "$1")}""",
            viewer_id,
            target.id,
        )
        if row is None:
            return None
        snapshot = {
            "memo": row["memo"],
            "distance_m": row["distance_m"],
            "started_at": row["started_at"].isoformat(timespec="microseconds"),
            "visibility": row["visibility"],
        }
    else:
        row = await conn.fetchrow(
            f"""SELECT c.user_id AS author_id, u.nickname AS author_nickname, c.body, c.walk_id
                FROM comments c JOIN walks w ON w.id = c.walk_id JOIN users u ON u.id = c.user_id
                WHERE c.id = $2 AND {walk_visible_to("w", "$1")}
                  AND {comment_visible_to("c", "$1")} AND {user_visible_to("c.user_id", "$1")}""",
            viewer_id,
            target.id,
        )
        if row is None:
            return None
        snapshot = {"body": row["body"], "walk_id": str(row["walk_id"])}
    author_nickname = row["nickname"] if target.type == "user" else row["author_nickname"]
    snapshot["author"] = {"id": str(row["author_id"]), "nickname": author_nickname}
    return row["author_id"], snapshot


async def open_report_of(
    conn: asyncpg.Connection, reporter_id: uuid.UUID, target: TargetIn
) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await conn.fetchrow(
        f"""SELECT {REPORT_COLUMNS} FROM reports
            WHERE reporter_id = $1 AND target_type = $2 AND target_id = $3 AND status = 'open'""",
        reporter_id,
        target.type,
        target.id,
    )
    return record


async def auto_hide_due(
    conn: asyncpg.Connection, kind: str, target_id: uuid.UUID, reporters: int, min_age_h: float
) -> bool:
    """Whether enough distinct reporters with accounts old enough have open reports on it,
    filed since a moderator last restored it."""
    count: int = await conn.fetchval(
        """SELECT count(DISTINCT r.reporter_id) FROM reports r JOIN users u ON u.id = r.reporter_id
           WHERE r.target_type = $1 AND r.target_id = $2 AND r.status = 'open'
             AND u.created_at <= now() - make_interval(secs => $3 * 3600)
             -- A moderator who restored it decided: only reports filed since count again.
             AND r.created_at > coalesce(
                 (SELECT max(a.at) FROM audit_log a
                  WHERE a.action = 'restore' AND a.target ->> 'id' = r.target_id::text),
                 '-infinity')""",
        kind,
        target_id,
        min_age_h,
    )
    return count >= reporters


async def file_report(request: web.Request) -> web.Response:
    body = ReportIn.model_validate_json(await request.read())
    reporter_id = current_user(request)
    settings = request.app[settings_key]
    after = AfterCommit()
    async with request.app[db_pool_key].acquire() as conn:
        seen = await snapshot_of(conn, body.target, reporter_id)
        if seen is None:
            raise not_found(body.target.type)
        author_id, snapshot = seen
        if author_id == reporter_id:
            what = "yourself" if body.target.type == "user" else "your own content"
            raise invalid("target", f"you cannot report {what}")
        existing = await open_report_of(conn, reporter_id, body.target)
        if existing is not None:
            return json_response(report_json(existing))
        limit = Limit("report-user", settings.report_limit_per_user, REPORT_WINDOW_S)
        await enforce(request, (limit, str(reporter_id)))
        async with conn.transaction():
            record = await conn.fetchrow(
                f"""INSERT INTO reports (reporter_id, target_type, target_id, target_user_id,
                                         reason, note, snapshot)
                    VALUES ($1, $2, $3, $4, $5, $6, $7)
                    ON CONFLICT DO NOTHING
                    RETURNING {REPORT_COLUMNS}""",
                reporter_id,
                body.target.type,
                body.target.id,
                author_id,
                body.reason,
                body.note,
                snapshot,
            )
            if record is None:  # a concurrent request of the same reporter filed it first
                record = await open_report_of(conn, reporter_id, body.target)
                return json_response(report_json(record))
            hidden = False
            if body.target.type != "user" and await auto_hide_due(
                conn,
                body.target.type,
                body.target.id,
                settings.auto_hide_reporters,
                settings.auto_hide_min_account_age_h,
            ):
                hidden = await hide_content(
                    conn, body.target.type, body.target.id, body.reason, after
                )
    await after.run(request.app)
    if hidden:
        count_action(request.app, "auto_hide")
    return json_response(report_json(record), status=201)


async def list_my_reports(request: web.Request) -> web.Response:
    page = page_params(request)
    async with request.app[db_pool_key].acquire() as conn:
        records = await conn.fetch(
            f"""SELECT {REPORT_COLUMNS} FROM reports
                WHERE reporter_id = $1 AND (created_at, id) < ($2, $3)
                ORDER BY created_at DESC, id DESC LIMIT $4""",
            current_user(request),
            page.before_created_at,
            page.before_id,
            page.limit + 1,
        )
    items = [report_json(r) for r in records]
    return json_response(page_of(records, page, items))
