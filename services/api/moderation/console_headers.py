"""Every `/admin/` answer, errors included, forbids inline script and framing, caching and
referrers (the console's page and API alike, CONTRACT section 7)."""

from __future__ import annotations

from aiohttp import web

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: the console's headers on every `/admin/` response."""
    if request.path.startswith("/admin/"):
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
