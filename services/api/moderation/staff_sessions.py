"""Staff sign-in and the console's session (CONTRACT section 6, Staff).

- Sign-in takes email, password and the current TOTP code (RFC 6238, pyotp); every wrong part,
  and a person who is not staff, gets the same 401. Failures count against the same budgets
  as `/auth/login` (accounts/limits.py), keyed so that guesses from elsewhere never lock the
  owner out at their own address. A code works once: the time step it matched is stored, and
  a code of that step or an earlier one is refused.
- The session is not an app token: a random id in an HttpOnly, SameSite=Strict cookie scoped to
  `/admin` (Secure when `PUBLIC_BASE_URL` is https), stored only as its SHA-256; a fresh id at
  every sign-in (no fixation; a session the browser brought is ended), 30 minutes idle and 12
  hours at most, ended when the role is revoked (the session row needs a `staff` row).
- Every `/admin/api/*` request but the sign-in needs the cookie (401), and every write also
  `X-CSRF-Token` equal to the session's token (403). An app bearer token opens nothing here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Literal

import asyncpg
import pyotp
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict, Field

from services.api.accounts.limits import remember_sign_in, reserve_login
from services.api.accounts.passwords import verify_password
from services.api.moderation.audit import audit
from services.api.visibility import not_suspended
from services.api.web.text_fields import SingleLine
from shared.errors import ApiError, forbidden, unauthorized
from shared.jsonutil import json_response
from shared.keys import db_pool_key, settings_key

COOKIE = "withbowwow_staff"
IDLE = dt.timedelta(minutes=30)
ABSOLUTE = dt.timedelta(hours=12)
TOTP_STEP_S = 30
API_PREFIX = "/admin/api/"
SIGN_IN_PATH = "/admin/api/session"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WRONG = "wrong email, password or code"

Role = Literal["moderator", "admin"]


@dataclass(frozen=True, slots=True)
class Staff:
    user_id: uuid.UUID
    role: Role
    session_hash: bytes
    csrf_token: str
    expires_at: dt.datetime


staff_key = web.RequestKey("staff", Staff)


def current_staff(request: web.Request) -> Staff:
    return request[staff_key]


def require_admin(request: web.Request) -> Staff:
    staff = current_staff(request)
    if staff.role != "admin":
        raise forbidden("admins only")
    return staff


def _hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


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


def _expiry(created_at: dt.datetime, last_seen_at: dt.datetime) -> dt.datetime:
    return min(last_seen_at + IDLE, created_at + ABSOLUTE)


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
            await conn.execute("DELETE FROM staff_sessions WHERE id_hash = $1", _hash(previous))
        session_id = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        created = await conn.fetchrow(
            """INSERT INTO staff_sessions (id_hash, user_id, csrf_token, expires_at)
               VALUES ($1, $2, $3, clock_timestamp() + $4::interval)
               RETURNING created_at, last_seen_at""",
            _hash(session_id),
            row["id"],
            csrf_token,
            ABSOLUTE,
        )
        await audit(conn, row["id"], "sign_in")
    await attempt.refund()  # only failures count
    await remember_sign_in(request, body.email)
    expires_at = _expiry(created["created_at"], created["last_seen_at"])
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


async def _session(request: web.Request) -> Staff:
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        raise unauthorized("sign in to the console")
    session_hash = _hash(session_id)
    row = await request.app[db_pool_key].fetchrow(
        f"""UPDATE staff_sessions ss SET last_seen_at = clock_timestamp()
           FROM staff s
           WHERE ss.id_hash = $1 AND s.user_id = ss.user_id
             AND {not_suspended("ss.user_id")}
             AND ss.expires_at > clock_timestamp()
             AND ss.last_seen_at > clock_timestamp() - $2::interval
           RETURNING ss.user_id, s.role, ss.csrf_token, ss.created_at, ss.last_seen_at""",
        session_hash,
        IDLE,
    )
    if row is None:
        raise unauthorized("the console session has ended: sign in again")
    expires_at = _expiry(row["created_at"], row["last_seen_at"])
    return Staff(row["user_id"], row["role"], session_hash, row["csrf_token"], expires_at)


@web.middleware
async def staff_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The staff session on `/admin/api/*` (the bearer middleware leaves `/admin/` to this)."""
    path = request.path
    if not path.startswith(API_PREFIX) or (path == SIGN_IN_PATH and request.method == "POST"):
        return await handler(request)
    staff = await _session(request)
    if request.method in WRITE_METHODS:
        given = request.headers.get("X-CSRF-Token", "")
        if not hmac.compare_digest(given.encode(), staff.csrf_token.encode()):
            raise ApiError(403, "forbidden", "missing or wrong X-CSRF-Token")
    request[staff_key] = staff
    return await handler(request)


async def end_staff_sessions(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM staff_sessions WHERE user_id = $1", user_id)
