"""`/admin/api/session`: staff sign-in (email, password and a TOTP code), the console's session,
and sign-out; the rules are in staff_sessions.py."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import time
import uuid

import asyncpg
import pyotp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.api.accounts.limits import remember_sign_in, reserve_login
from services.api.accounts.passwords import verify_password
from services.api.moderation.audit import audit
from services.api.moderation.staff_sessions import (
    ABSOLUTE,
    COOKIE,
    current_staff,
    session_expiry,
    session_id_hash,
)
from services.api.visibility import not_suspended
from services.api.web.text_fields import SingleLine
from shared.errors import unauthorized
from shared.jsonutil import json_response
from shared.keys import db_pool_key, settings_key

TOTP_STEP_S = 30
WRONG = "wrong email, password or code"


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: SingleLine = Field(max_length=320)
    password: str = Field(max_length=256)
    totp: str = Field(max_length=16)


def totp_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (of the current one and its neighbours, for clock drift) whose code is
    `code`; None if none is."""
    code = code.strip()
    if not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = int(now // TOTP_STEP_S)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * TOTP_STEP_S), code):
            return step
    return None


async def _spend_code(conn: asyncpg.Connection, user_id: uuid.UUID, step: int) -> bool:
    """Use the code of `step` once: refused if it, or a later one, was used already."""
    spent = await conn.fetchval(
        """UPDATE staff SET totp_last_step = $2 WHERE user_id = $1 AND totp_last_step < $2
           RETURNING true""",
        user_id,
        step,
    )
    return spent is not None


def _session_body(role: str, csrf_token: str, expires_at: dt.datetime) -> dict[str, object]:
    return {"csrf_token": csrf_token, "role": role, "expires_at": expires_at}


async def sign_in(request: web.Request) -> web.Response:
    body = SignInIn.model_validate_json(await request.read())
    attempt = await reserve_login(request, body.email)
    pool = request.app[db_pool_key]
    row = await pool.fetchrow(
        f"""SELECT u.id, u.password_hash, s.role, s.totp_secret,
                  {not_suspended("u.id")} AS in_good_standing
           FROM users u LEFT JOIN staff s ON s.user_id = u.id
           WHERE lower(u.email) = lower($1)""",
        body.email,
    )
    password_ok = await verify_password(row["password_hash"] if row else None, body.password)
    # A suspended or banned staff member is refused as anyone else is: one message for all.
    if row is None or not password_ok or row["role"] is None or not row["in_good_standing"]:
        raise unauthorized(WRONG)
    step = totp_step(row["totp_secret"], body.totp)
    async with pool.acquire() as conn, conn.transaction():
        if step is None or not await _spend_code(conn, row["id"], step):
            raise unauthorized(WRONG)
        previous = request.cookies.get(COOKIE)
        if previous:  # whatever the browser brought is never continued (no fixation)
            await conn.execute(
                "DELETE FROM staff_sessions WHERE id_hash = $1", session_id_hash(previous)
            )
        session_id = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        created = await conn.fetchrow(
            """INSERT INTO staff_sessions (id_hash, user_id, csrf_token, expires_at)
               VALUES ($1, $2, $3, clock_timestamp() + $4::interval)
               RETURNING created_at, last_seen_at""",
            session_id_hash(session_id),
            row["id"],
            csrf_token,
            ABSOLUTE,
        )
        await audit(conn, row["id"], "sign_in")
    await attempt.refund()  # only failures count
    await remember_sign_in(request, body.email)
    expires_at = session_expiry(created["created_at"], created["last_seen_at"])
    response = json_response(_session_body(row["role"], csrf_token, expires_at))
    secure = request.app[settings_key].public_base_url.lower().startswith("https://")
    response.set_cookie(
        COOKIE, session_id, path="/admin", httponly=True, samesite="Strict", secure=secure
    )
    return response


async def get_session(request: web.Request) -> web.Response:
    """The signed-in console's session (its CSRF token, after a reload of the page)."""
    staff = current_staff(request)
    return json_response(_session_body(staff.role, staff.csrf_token, staff.expires_at))


async def sign_out(request: web.Request) -> web.Response:
    staff = current_staff(request)
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM staff_sessions WHERE id_hash = $1", staff.session_hash)
        await audit(conn, staff.user_id, "sign_out")
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/admin")
    return response
