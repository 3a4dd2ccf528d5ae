"""What the emails' links do (CONTRACT section 3, Email; section 7, the account pages): the
JSON routes (email_link_handlers.py) and the account pages (services/api/pages) both call the
functions below.

Asking for a reset or deletion link answers the same whether or not an account has that email:
the same status and empty body, and the same time, as the lookup and the outbox write happen
after the answer (web/after_response.py). Past a limit, 429: at most 3 a kind an hour for one
email (counted on the address given, whether or not an account has it, so the limit says
nothing either), and `PASSWORD_RESET_LIMIT_PER_ADDRESS` from one client address.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal

from aiohttp import web

from services.api.accounts.deletion import forget_copies, lock_and_erase
from services.api.accounts.passwords import hash_password
from services.api.accounts.sessions import (
    announce_ended,
    end_user_sessions,
    session_answer,
    start_session,
)
from services.api.accounts.standing import current_suspension, suspended_error
from services.api.email.outbox import send_link
from services.api.email.tokens import use_token, void_tokens
from services.api.web.after_response import after_response
from services.api.web.rate_limit import Limit, client_address, enforce
from shared.keys import db_pool_key, settings_key

log = logging.getLogger(__name__)

EMAILS_PER_HOUR = 3  # reset or deletion links to one email address
HOUR_S = 3600

LinkRequest = Literal["reset", "delete"]


class BadToken(Exception):
    """The token is unknown, used, voided or expired."""


async def request_link(request: web.Request, kind: LinkRequest, email: str) -> None:
    """Count the request against its limits (429 past one), then, after the answer, email a
    link of this kind if an account has that address. Nothing in the answer or its timing
    depends on whether one has."""
    settings = request.app[settings_key]
    per_address = Limit(f"{kind}-link-addr", settings.password_reset_limit_per_address, HOUR_S)
    per_email = Limit(f"{kind}-link-email", EMAILS_PER_HOUR, HOUR_S)
    await enforce(request, (per_address, client_address(request)), (per_email, email.lower()))
    after_response(request.app, f"{kind} link", _email_link(request.app, kind, email))


async def _email_link(app: web.Application, kind: LinkRequest, email: str) -> None:
    async with app[db_pool_key].acquire() as conn, conn.transaction():
        user_id = await conn.fetchval("SELECT id FROM users WHERE lower(email) = lower($1)", email)
        if user_id is not None:
            await send_link(conn, app[settings_key], user_id, kind)


async def reset_password(request: web.Request, token: str, new_password: str) -> dict[str, Any]:
    """Set the new password of the token's account: a new session, every other one ended,
    every link voided; the answer of a login. BadToken if the token does not work; 403
    account_suspended for a suspended or banned account."""
    app = request.app
    settings = app[settings_key]
    new_hash = await hash_password(new_password)
    async with app[db_pool_key].acquire() as conn, conn.transaction():
        user_id = await use_token(conn, "reset", token)
        if user_id is None:
            raise BadToken
        # A reset starts a session as login does, so it is refused as login is (the token and
        # the password stay as they were: the transaction rolls back).
        suspension = await current_suspension(conn, user_id)
        if suspension is not None:
            raise suspended_error(suspension.until)
        # Following the link proved the address is theirs.
        await conn.execute(
            """UPDATE users SET password_hash = $2,
                                    email_verified_at = coalesce(email_verified_at, now())
                   WHERE id = $1""",
            user_id,
            new_hash,
        )
        await void_tokens(conn, user_id)
        ended = await end_user_sessions(conn, user_id)
        tokens = await start_session(conn, settings, user_id)
        answer = await session_answer(conn, settings, user_id, tokens)
    await announce_ended(app, ended)
    log.info("password reset through an emailed link")
    return answer


async def verify_email(request: web.Request, token: str) -> None:
    """Mark the token's account's email verified. BadToken if the token does not work."""
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        user_id = await use_token(conn, "verify", token)
        if user_id is None:
            raise BadToken
        await conn.execute(
            "UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1",
            user_id,
        )


async def confirm_deletion(request: web.Request, token: str) -> None:
    """Erase the token's account as `DELETE /me` does. BadToken if the token does not work."""
    app = request.app
    max_walk = dt.timedelta(seconds=app[settings_key].max_walk_duration_s)
    async with app[db_pool_key].acquire() as conn, conn.transaction():
        user_id = await use_token(conn, "delete", token)
        erased = await lock_and_erase(conn, user_id, max_walk) if user_id else None
        if erased is None:
            raise BadToken
    await forget_copies(app, erased)
    log.info("account deleted through an emailed link")
