"""Jobs and emails the worker gave up on, for an operator (`make push-dead`)."""

from __future__ import annotations

import asyncpg


async def list_dead_letters(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT d.failed_at, d.notification_id, n.type, n.user_id, d.attempts, d.reason
             FROM push_dead_letters d
             JOIN notifications n ON n.id = d.notification_id
            ORDER BY d.failed_at DESC, d.notification_id
            LIMIT $1""",
        limit,
    )
    return rows


def format_dead_letters(rows: list[asyncpg.Record]) -> str:
    if not rows:
        return "no dead push jobs"
    lines = ["failed_at\tnotification_id\ttype\trecipient\tattempts\treason"]
    lines += [
        f"{r['failed_at'].isoformat()}\t{r['notification_id']}\t{r['type']}\t{r['user_id']}\t"
        f"{r['attempts']}\t{r['reason']}"
        for r in rows
    ]
    return "\n".join(lines)


async def list_dead_emails(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Emails set aside (an SMTP 5xx, or a link that expired unsent): whose and why, not the
    address or the message (which is not kept)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT settled_at, id, kind, user_id, attempts, last_error
             FROM email_outbox WHERE state = 'dead'
            ORDER BY settled_at DESC, id
            LIMIT $1""",
        limit,
    )
    return rows


def format_dead_emails(rows: list[asyncpg.Record]) -> str:
    if not rows:
        return "no dead emails"
    lines = ["failed_at\temail_id\tkind\trecipient\tattempts\treason"]
    lines += [
        f"{r['settled_at'].isoformat()}\t{r['id']}\t{r['kind']}\t{r['user_id']}\t"
        f"{r['attempts']}\t{r['last_error']}"
        for r in rows
    ]
    return "\n".join(lines)
