"""`/auth/*` and `/me/password`: argon2id passwords, sessions (sessions.py) and their tokens."""

from __future__ import annotations

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.api.accounts.limits import (
    count_login_failure,
    count_refresh_failure,
    count_signup,
    remember_sign_in,
    reserve_login,
    reserve_password_check,
)
from services.api.accounts.passwords import hash_password, verify_password
from services.api.accounts.sessions import (
    announce_ended,
    end_session,
    end_user_sessions,
    rotate_session,
    session_answer,
    start_session,
)
from services.api.accounts.standing import current_suspension, email_banned, suspended_error
from services.api.consents.documents import load_documents
from services.api.consents.records import record_consents
from services.api.email.outbox import send_link
from services.api.email.tokens import void_tokens
from services.api.filtering.fields import PublicLine
from services.api.web.authentication import current_user
from services.api.web.languages import preferred_language
from services.api.web.rate_limit import client_address
from services.api.web.text_fields import SingleLine
from shared.errors import ApiError, conflict, forbidden, unauthorized
from shared.jsonutil import json_response
from shared.keys import db_pool_key, settings_key
from shared.settings import Settings
from shared.tokens import InvalidToken, verify_token


class SignupConsentsIn(BaseModel):
    """The versions of the documents accepted, and the age confirmation (section 3, Consents)."""

    model_config = ConfigDict(extra="forbid")
    terms: str | None = Field(default=None, max_length=64)
    privacy: str | None = Field(default=None, max_length=64)
    location_terms: str | None = Field(default=None, max_length=64)
    marketing: bool | None = Field(default=None, strict=True)
    age_14_or_over: bool | None = Field(default=None, strict=True)


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    email: EmailStr
    password: str = Field(min_length=8, max_length=256)
    nickname: PublicLine = Field(min_length=1, max_length=30)
    consents: SignupConsentsIn


def _accepted_versions(consents: SignupConsentsIn, settings: Settings) -> dict[str, str]:
    """What sign-up records as given: every required document at its current version (else 422
    naming each one missing or out of date), and marketing when ticked. Under 14 is refused:
    a guardian's consent is not offered."""
    documents = load_documents(settings.legal_documents_file)
    given = consents.model_dump()
    details = [
        {"field": f"consents.{kind}", "message": f"accept the current version ({doc.version})"}
        for kind, doc in documents.items()
        if doc.required and given.get(kind) != doc.version
    ]
    if consents.age_14_or_over is not True:
        details.append(
            {"field": "consents.age_14_or_over", "message": "you must be 14 or over to sign up"}
        )
    if details:
        raise ApiError(422, "validation_error", "consents are missing or out of date", details)
    versions = {kind: doc.version for kind, doc in documents.items() if doc.required}
    if consents.marketing and "marketing" in documents:
        versions["marketing"] = documents["marketing"].version
    return versions


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: SingleLine = Field(max_length=320)
    password: str = Field(max_length=256)


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(max_length=4096)


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


async def signup(request: web.Request) -> web.Response:
    body = SignupIn.model_validate_json(await request.read())
    settings = request.app[settings_key]
    versions = _accepted_versions(body.consents, settings)
    await count_signup(request)
    async with request.app[db_pool_key].acquire() as conn:
        if await email_banned(conn, settings, body.email):
            raise suspended_error(None)
    password_hash = await hash_password(body.password)
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        try:
            user_id = await conn.fetchval(
                """INSERT INTO users (email, password_hash, nickname, language)
                   VALUES ($1, $2, $3, $4) RETURNING id""",
                body.email,
                password_hash,
                body.nickname,
                preferred_language(request.headers.get("Accept-Language")),
            )
        except asyncpg.UniqueViolationError:
            raise conflict("an account with this email already exists") from None
        await record_consents(conn, user_id, versions, "given", client_address(request))
        await send_link(conn, settings, user_id, "verify")  # the verification email
        tokens = await start_session(conn, settings, user_id)
        answer = await session_answer(conn, settings, user_id, tokens)
    await remember_sign_in(request, body.email)
    return json_response(answer, status=201)


async def login(request: web.Request) -> web.Response:
    body = LoginIn.model_validate_json(await request.read())
    attempt = await reserve_login(request, body.email)
    settings = request.app[settings_key]
    async with request.app[db_pool_key].acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, password_hash FROM users WHERE lower(email) = lower($1)", body.email
        )
        if not await verify_password(row["password_hash"] if row else None, body.password):
            await count_login_failure(request, body.email)  # 429 past the account's ceiling
            raise unauthorized("wrong email or password")
        assert row is not None
        await attempt.refund()  # the password was right: not a failure, whatever follows
        suspension = await current_suspension(conn, row["id"])
        if suspension is not None:
            raise suspended_error(suspension.until)
        async with conn.transaction():
            tokens = await start_session(conn, settings, row["id"])
            answer = await session_answer(conn, settings, row["id"], tokens)
    await remember_sign_in(request, body.email)
    return json_response(answer)


async def refresh(request: web.Request) -> web.Response:
    body = RefreshIn.model_validate_json(await request.read())
    settings = request.app[settings_key]
    try:
        claims = verify_token(settings.jwt_key, body.refresh_token, "refresh")
    except InvalidToken:
        await count_refresh_failure(request)
        raise unauthorized("invalid or expired refresh token") from None
    async with request.app[db_pool_key].acquire() as conn:
        async with conn.transaction():
            tokens = await rotate_session(conn, settings, claims)
            if tokens is not None:
                answer = await session_answer(conn, settings, claims.user_id, tokens)
        if tokens is None:
            # Not the session's current refresh token: a replay ends the session, newest pair too.
            ended = await end_session(conn, claims.session_id)
    if tokens is None:
        await announce_ended(request.app, ended)
        raise unauthorized("refresh token already used or revoked")
    return json_response(answer)


async def logout(request: web.Request) -> web.Response:
    """Ends the token's session whatever state the token is in (used, expired): 204 either way."""
    body = RefreshIn.model_validate_json(await request.read())
    try:
        claims = verify_token(
            request.app[settings_key].jwt_key, body.refresh_token, "refresh", allow_expired=True
        )
    except InvalidToken:
        await count_refresh_failure(request)  # junk, as at /auth/refresh
        return web.Response(status=204)  # not one of ours: no session to end
    async with request.app[db_pool_key].acquire() as conn:
        ended = await end_session(conn, claims.session_id)
    await announce_ended(request.app, ended)
    return web.Response(status=204)


async def logout_all(request: web.Request) -> web.Response:
    async with request.app[db_pool_key].acquire() as conn:
        ended = await end_user_sessions(conn, current_user(request))
    await announce_ended(request.app, ended)
    return web.Response(status=204)


async def change_password(request: web.Request) -> web.Response:
    """A new password, a new session, and every other session ended."""
    body = PasswordChangeIn.model_validate_json(await request.read())
    user_id = current_user(request)
    settings = request.app[settings_key]
    pool = request.app[db_pool_key]
    current_hash = await pool.fetchval("SELECT password_hash FROM users WHERE id = $1", user_id)
    if current_hash is None:
        raise unauthorized("this account no longer exists")
    attempt = await reserve_password_check(request, user_id)
    if not await verify_password(current_hash, body.current_password):
        raise forbidden("current_password is wrong")
    await attempt.refund()  # only failures count
    new_hash = await hash_password(body.new_password)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, new_hash)
        await void_tokens(conn, user_id)  # the links already emailed stop working
        ended = await end_user_sessions(conn, user_id)
        tokens = await start_session(conn, settings, user_id)
        answer = await session_answer(conn, settings, user_id, tokens)
    await announce_ended(request.app, ended)
    return json_response(answer)
