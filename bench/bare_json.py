"""The baseline for the feed poll: a bare aiohttp JSON endpoint on uvloop, auth included.

It verifies the bearer JWT exactly as the API does (`shared.tokens.verify_token`) and answers a
small constant JSON body: what a poll costs with no database and no framework of ours.
"""

from __future__ import annotations

import asyncio
import os

from aiohttp import web

from shared.jsonutil import dumps
from shared.tokens import InvalidToken, bearer_token, verify_token

secret_key = web.AppKey("secret", str)
BODY = {"items": [], "new_count": 0, "latest_cursor": None}


async def feed(request: web.Request) -> web.Response:
    token = bearer_token(request.headers.get("Authorization"))
    try:
        if token is None:
            raise InvalidToken("missing")
        verify_token(request.app[secret_key], token, "access")
    except InvalidToken:
        return web.json_response({"error": {"code": "unauthorized"}}, status=401)
    return web.json_response(BODY, dumps=dumps)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(secret: str) -> web.Application:
    app = web.Application()
    app[secret_key] = secret
    app.router.add_get("/feed", feed)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    app = create_app(os.environ["JWT_SECRET"])
    port = int(os.environ["API_PORT"])
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
