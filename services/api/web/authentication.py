"""Bearer-token authentication for every route but the public ones (CONTRACT section 2).

A small PyJWT middleware instead of `aiohttp-jwt`, which rejects every token under PyJWT 2
unless configured, crashes in its permission check on Python 3.10+, and matches its whitelist
by regex prefix (`/public` would also open `/publicity`).

A token of a session that has ended is refused from the process's in-memory set of ended
sessions (shared/ended_sessions.py): no query per request. A validly signed token whose account
no longer exists is refused here too, in the one place every write passes: such a write fails
on a foreign key to `users`, which is answered 401 rather than 500.
"""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler

from shared.ended_sessions import ended_sessions_key
from shared.errors import unauthorized
from shared.keys import db_pool_key
from shared.tokens import InvalidToken, VerifiedAccessTokens, bearer_token

verified_tokens_key = web.AppKey("verified_tokens", VerifiedAccessTokens)
user_id_key = web.RequestKey("user_id", uuid.UUID)
session_id_key = web.RequestKey("session_id", uuid.UUID)

PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/legal",
        "/auth/signup",
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/auth/verify-email",
        "/auth/password-reset",
        "/auth/password-reset/confirm",
        "/auth/delete-request",
        "/auth/delete-confirm",
    }
)
# The web pages (section 7) need no token; `/admin/` takes the staff session instead, checked
# by the console's own middleware. Prefixes end with "/", so "/admin" never opens "/administer".
PUBLIC_PREFIXES = ("/account/", "/admin/", "/static/")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    unmatched = request.match_info.http_exception is not None  # 404/405 stay 404/405
    if unmatched or request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise unauthorized("missing bearer token")
    app = request.app
    try:
        claims = app[verified_tokens_key].verify(token)
    except InvalidToken:
        raise unauthorized("invalid or expired access token") from None
    if claims.session_id in app[ended_sessions_key]:
        raise unauthorized("this session has ended")
    request[user_id_key] = claims.user_id
    request[session_id_key] = claims.session_id
    try:
        return await handler(request)
    except asyncpg.ForeignKeyViolationError:
        if await app[db_pool_key].fetchval("SELECT 1 FROM users WHERE id = $1", claims.user_id):
            raise
        raise unauthorized("this account no longer exists") from None


def current_user(request: web.Request) -> uuid.UUID:
    return request[user_id_key]


def current_session(request: web.Request) -> uuid.UUID:
    """The session of the caller's access token (its end ends what the token opened)."""
    return request[session_id_key]
