"""The console's page (CONTRACT section 7, `/admin/`): one static page and its script and style,
served beside these handlers, working on the JSON API. Every `/admin/` answer, errors included,
forbids inline script and framing, caching and referrers."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

routes = web.RouteTableDef()

HERE = Path(__file__).parent / "console"
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
_FILES = {
    "/admin/": ("index.html", "text/html"),
    "/admin/console.js": ("console.js", "text/javascript"),
    "/admin/console.css": ("console.css", "text/css"),
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: the console's headers on every `/admin/` response."""
    if request.path.startswith("/admin/"):
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value


def _serve(name: str, content_type: str) -> web.Response:
    return web.Response(body=(HERE / name).read_bytes(), content_type=content_type, charset="utf-8")


@routes.get("/admin/")
async def console_page(request: web.Request) -> web.Response:
    return _serve(*_FILES["/admin/"])


@routes.get("/admin/console.js")
async def console_script(request: web.Request) -> web.Response:
    return _serve(*_FILES["/admin/console.js"])


@routes.get("/admin/console.css")
async def console_style(request: web.Request) -> web.Response:
    return _serve(*_FILES["/admin/console.css"])
