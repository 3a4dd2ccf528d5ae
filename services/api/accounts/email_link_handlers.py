"""The routes of the emails' links (CONTRACT section 3, Email); what a link does is in
email_links.py, which the account pages call too:

- `POST /me/email-verification` → 202: a new verification email, at most 5 an hour;
- `POST /auth/verify-email {token}` → 200;
- `POST /auth/password-reset {email}` and `POST /auth/delete-request {email}` → 202 whether
  or not an account has that email, in the same time (email_links.py: how, and the limits);
- `POST /auth/password-reset/confirm {token, new_password}` → 200 with a new pair (a new
  session), every other session ended, every other link voided;
- `POST /auth/delete-confirm {token}` → 204: the account erased as `DELETE /me` erases it.

A token that is unknown, used, voided or expired is 401.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.api.accounts.email_links import (
    HOUR_S,
    BadToken,
    confirm_deletion,
    request_link,
    reset_password,
    verify_email,
)
from services.api.accounts.limits import count_link_failure
from services.api.email.outbox import send_link
from services.api.web.authentication import current_user
from services.api.web.rate_limit import Limit, enforce
from shared.errors import ApiError, unauthorized
from shared.jsonutil import json_response
from shared.keys import db_pool_key, settings_key

VERIFICATION_EMAILS_PER_HOUR = 5


class EmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    email: EmailStr


class TokenIn(BaseModel):
    """A link's token. Any string: one that is not a live token of ours, whatever its length,
    is a bad link, 401 (CONTRACT section 3, Email), found so by `use_token`."""

    model_config = ConfigDict(extra="forbid")
    token: str


class ResetConfirmIn(TokenIn):
    new_password: str = Field(min_length=8, max_length=256)


async def _refused(request: web.Request) -> ApiError:
    """A token that does not work: counted against its address like a junk refresh token
    (429 once too many), else 401."""
    await count_link_failure(request)
    return unauthorized("this link is invalid, used or expired")


async def resend_verification(request: web.Request) -> web.Response:
    user_id = current_user(request)
    limit = Limit("verify-link-user", VERIFICATION_EMAILS_PER_HOUR, HOUR_S)
    await enforce(request, (limit, str(user_id)))
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        verified = await conn.fetchval(
            "SELECT email_verified_at IS NOT NULL FROM users WHERE id = $1", user_id
        )
        if verified is False:  # verified already: nothing to send
            await send_link(conn, request.app[settings_key], user_id, "verify")
    return web.Response(status=202)


async def post_verify_email(request: web.Request) -> web.Response:
    body = TokenIn.model_validate_json(await request.read())
    try:
        await verify_email(request, body.token)
    except BadToken:
        raise await _refused(request) from None
    return json_response({"email_verified": True})


async def post_password_reset(request: web.Request) -> web.Response:
    body = EmailIn.model_validate_json(await request.read())
    await request_link(request, "reset", body.email)
    return web.Response(status=202)


async def post_password_reset_confirm(request: web.Request) -> web.Response:
    body = ResetConfirmIn.model_validate_json(await request.read())
    try:
        answer = await reset_password(request, body.token, body.new_password)
    except BadToken:
        raise await _refused(request) from None
    return json_response(answer)


async def post_delete_request(request: web.Request) -> web.Response:
    body = EmailIn.model_validate_json(await request.read())
    await request_link(request, "delete", body.email)
    return web.Response(status=202)


async def post_delete_confirm(request: web.Request) -> web.Response:
    body = TokenIn.model_validate_json(await request.read())
    try:
        await confirm_deletion(request, body.token)
    except BadToken:
        raise await _refused(request) from None
    return web.Response(status=204)
