"""`/auth/signup`, `/auth/login`, `/auth/refresh`: argon2id passwords, JWT with one-time refresh."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.api.accounts.passwords import hash_password, verify_password
from services.api.social.users import fetch_me
from services.api.web.rate_limit import (
    LOGIN_PER_ADDRESS,
    LOGIN_PER_EMAIL,
    REFRESH_PER_ADDRESS,
    SIGNUP_PER_ADDRESS,
    client_address,
    enforce,
)
from services.api.web.text_fields import SingleLine
from shared.errors import ApiError, conflict, unauthorized
from shared.jsonutil import dumps
from shared.keys import db_pool_key, settings_key
from shared.settings import Settings
from shared.tokens import InvalidToken, issue_token, verify_token

routes = web.RouteTableDef()


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    email: EmailStr
    password: str = Field(min_length=8, max_length=256)
    nickname: SingleLine = Field(min_length=1, max_length=30)


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: SingleLine = Field(max_length=320)
    password: str = Field(max_length=256)


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(max_length=4096)


async def _token_pair(
    conn: asyncpg.Connection, settings: Settings, user_id: uuid.UUID
) -> dict[str, Any]:
    access, _ = issue_token(settings.jwt_key, user_id, "access", settings.access_token_ttl_s)
    jti = uuid.uuid4()
    refresh, refresh_expires = issue_token(
        settings.jwt_key, user_id, "refresh", settings.refresh_token_ttl_s, jti=jti
    )
    await conn.execute(
        "INSERT INTO refresh_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3)",
        jti,
        user_id,
        refresh_expires,
    )
    return {
        "user": await fetch_me(conn, user_id),
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": settings.access_token_ttl_s,
    }


@routes.post("/auth/signup")
async def signup(request: web.Request) -> web.Response:
    body = SignupIn.model_validate_json(await request.read())
    await enforce(request, (SIGNUP_PER_ADDRESS, client_address(request)))
    password_hash = await hash_password(body.password)
    settings = request.app[settings_key]
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        try:
            user_id = await conn.fetchval(
                """INSERT INTO users (email, password_hash, nickname)
                   VALUES ($1, $2, $3) RETURNING id""",
                body.email,
                password_hash,
                body.nickname,
            )
        except asyncpg.UniqueViolationError:
            raise conflict("an account with this email already exists") from None
        answer = await _token_pair(conn, settings, user_id)
    return web.json_response(answer, status=201, dumps=dumps)


@routes.post("/auth/login")
async def login(request: web.Request) -> web.Response:
    body = LoginIn.model_validate_json(await request.read())
    await enforce(
        request,
        (LOGIN_PER_EMAIL, body.email.lower()),
        (LOGIN_PER_ADDRESS, client_address(request)),
    )
    settings = request.app[settings_key]
    async with request.app[db_pool_key].acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, password_hash FROM users WHERE lower(email) = lower($1)", body.email
        )
        if not await verify_password(row["password_hash"] if row else None, body.password):
            raise unauthorized("wrong email or password")
        assert row is not None
        async with conn.transaction():
            answer = await _token_pair(conn, settings, row["id"])
    return web.json_response(answer, dumps=dumps)


@routes.post("/auth/refresh")
async def refresh(request: web.Request) -> web.Response:
    body = RefreshIn.model_validate_json(await request.read())
    await enforce(request, (REFRESH_PER_ADDRESS, client_address(request)))
    settings = request.app[settings_key]
    try:
        claims = verify_token(settings.jwt_key, body.refresh_token, "refresh")
    except InvalidToken:
        raise unauthorized("invalid or expired refresh token") from None
    if claims.jti is None:
        raise unauthorized("invalid refresh token")
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        user_id = await conn.fetchval(
            """UPDATE refresh_tokens SET used_at = now()
               WHERE jti = $1 AND used_at IS NULL AND expires_at > now()
               RETURNING user_id""",
            claims.jti,
        )
        if user_id is None:
            raise ApiError(401, "unauthorized", "refresh token already used or revoked")
        answer = await _token_pair(conn, settings, user_id)
    return web.json_response(answer, dumps=dumps)
