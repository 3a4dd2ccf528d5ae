"""Staff sign-in and the console's session (CONTRACT section 6, Staff); the sign-in routes are in
staff_session_handlers.py.

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
import uuid
from dataclasses import dataclass
from typing import Literal

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler

from services.api.visibility import not_suspended
from shared.errors import ApiError, forbidden, unauthorized
from shared.keys import db_pool_key

COOKIE = "withbowwow_staff"
IDLE = dt.timedelta(minutes=30)
ABSOLUTE = dt.timedelta(hours=12)
API_PREFIX = "/admin/api/"
SIGN_IN_PATH = "/admin/api/session"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

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


def session_id_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def session_expiry(created_at: dt.datetime, last_seen_at: dt.datetime) -> dt.datetime:
    return min(last_seen_at + IDLE, created_at + ABSOLUTE)


async def _session(request: web.Request) -> Staff:
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        raise unauthorized("sign in to the console")
    session_hash = session_id_hash(session_id)
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
    expires_at = session_expiry(row["created_at"], row["last_seen_at"])
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
