"""CORS for the origins in `CORS_ORIGINS`, so a web build of the app (Expo web,
react-native-web) can call the API from a browser.

A small middleware rather than aiohttp-cors, whose releases stopped from 2018 to 2025 and which
wants every route registered with it: every route added to routes.py would need a second line.
Here a preflight (`OPTIONS` with `Access-Control-Request-Method`) from a listed origin is
answered before authentication, and every answer to a listed origin, errors and streamed
answers included (the headers are added as each answer is prepared), says which origin may read
it and exposes the headers the polls, rate limits, bearer challenge and request ids need. Any
other origin gets no CORS header at all, so its browser reads nothing. Since what an answer says
depends on `Origin`, every answer carries `Vary: Origin`, to a listed origin, another one or
none, so that no shared cache hands one origin's answer to another. The API authenticates with a
bearer token, never a cookie, so credentials are not allowed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

ALLOWED_METHODS = "GET, POST, PATCH, DELETE"
ALLOWED_HEADERS = "Authorization, Content-Type, If-None-Match, X-Request-ID"
EXPOSED_HEADERS = "ETag, X-Poll-Interval, Retry-After, X-Request-ID, WWW-Authenticate"
PREFLIGHT_MAX_AGE_S = 600

ResponsePrepare = Callable[[web.Request, web.StreamResponse], Awaitable[None]]


def cors_middleware(origins: tuple[str, ...]) -> Middleware:
    """Answers the preflights of `origins`; `cors_headers` adds the rest to every answer."""
    allowed = frozenset(origins)

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            request.method == "OPTIONS"
            and "Access-Control-Request-Method" in request.headers
            and request.headers.get("Origin") in allowed
        ):
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Methods": ALLOWED_METHODS,
                    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                    "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
                },
            )
        return await handler(request)

    return cors


def cors_headers(origins: tuple[str, ...]) -> ResponsePrepare:
    """`on_response_prepare`: `Vary: Origin` on every answer, and the CORS headers on those to a
    listed origin."""
    allowed = frozenset(origins)

    async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
        varies = {
            v.strip().lower() for h in response.headers.getall("Vary", ()) for v in h.split(",")
        }
        if "origin" not in varies and "*" not in varies:
            response.headers.add("Vary", "Origin")
        origin = request.headers.get("Origin")
        if origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS

    return add_cors_headers
