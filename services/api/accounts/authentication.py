"""Bearer-token authentication for every route but `/auth/*` and `/healthz`.

A small PyJWT middleware instead of `aiohttp-jwt`, which rejects every token under PyJWT 2
unless configured, crashes in its permission check on Python 3.10+, and matches its whitelist
by regex prefix (`/public` would also open `/publicity`).
"""

from __future__ import annotations

import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from services.api.keys import user_id_key
from shared.errors import unauthorized
from shared.keys import settings_key
from shared.tokens import InvalidToken, bearer_token, verify_token

PUBLIC_PATHS = frozenset({"/healthz", "/auth/signup", "/auth/login", "/auth/refresh"})


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    unmatched = request.match_info.http_exception is not None  # 404/405 stay 404/405
    if unmatched or request.path in PUBLIC_PATHS:
        return await handler(request)
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise unauthorized("missing bearer token")
    try:
        claims = verify_token(request.app[settings_key].jwt_key, token, "access")
    except InvalidToken:
        raise unauthorized("invalid or expired access token") from None
    request[user_id_key] = claims.user_id
    return await handler(request)


def current_user(request: web.Request) -> uuid.UUID:
    return request[user_id_key]
