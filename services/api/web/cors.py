"""CORS for the origins in `CORS_ORIGINS`, so a web build of the app (Expo web,
react-native-web) can call the API from a browser.

A small middleware rather than aiohttp-cors, whose releases stopped from 2018 to 2025 and which
wants every route registered with it: every route added to routes.py would need a second line.
Here a preflight (`OPTIONS` with `Access-Control-Request-Method`) from a listed origin is
answered before authentication, and every answer to a listed origin, errors included, says
which origin may read it and exposes the headers the polls and rate limits need. Any other
origin gets no CORS header at all, so its browser reads nothing. The API authenticates with a
bearer token, never a cookie, so credentials are not allowed.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

ALLOWED_METHODS = "GET, POST, PATCH, DELETE"
ALLOWED_HEADERS = "Authorization, Content-Type, If-None-Match"
EXPOSED_HEADERS = "ETag, X-Poll-Interval, Retry-After"
PREFLIGHT_MAX_AGE_S = 600


def cors_middleware(origins: tuple[str, ...]) -> Middleware:
    allowed = frozenset(origins)

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin not in allowed:
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": ALLOWED_METHODS,
                    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                    "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
                    "Vary": "Origin",
                },
            )
        response = await handler(request)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.headers.add("Vary", "Origin")
        return response

    return cors
