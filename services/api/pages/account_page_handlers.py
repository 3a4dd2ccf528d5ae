"""`/account/verify`, `/account/reset`, `/account/delete` (CONTRACT section 7): the pages the
emails' links open, in Korean or, when the browser prefers it, English.

Opening a link changes nothing: a GET only shows the page (whether its token still works, and
what its button will do), so a mail scanner that fetches links does no harm. The button posts
a plain HTML form back to the same path, handled here by the very functions behind the JSON
routes (services/api/accounts/email_links.py). No script at all, so the pages work in any
mail app's browser. The forms need no CSRF token: no cookie or other ambient credential is
involved, the only authority is the emailed token the form carries, which a forging site does
not have (and the email form does nothing `POST /auth/delete-request` does not do for anyone).

Every page answers with a Content-Security-Policy that allows no inline script and no framing,
`Referrer-Policy: no-referrer` (the URL holds the token), `X-Frame-Options: DENY` and
`Cache-Control: no-store`. The stylesheet is served from /static/account/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from services.api.accounts.email_links import (
    BadToken,
    confirm_deletion,
    request_link,
    reset_password,
    verify_email,
)
from services.api.email.tokens import MAX_TOKEN_CHARS, Kind, peek_token
from services.api.pages.texts import TEXTS
from services.api.web.languages import preferred_language
from shared.errors import ApiError
from shared.keys import db_pool_key

HERE = Path(__file__).resolve().parent
STATIC_PREFIX = "/static/account/"
pages_templates_key = web.AppKey("pages_templates", jinja2.Environment)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
MAX_PASSWORD = 256


def setup_pages(app: web.Application) -> None:
    """The pages' templates (autoescaped, under their own key) and stylesheet; their routes are
    in services/api/routes.py."""
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        app_key=pages_templates_key,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app.router.add_static(STATIC_PREFIX, HERE / "static", append_version=False)


def _page(
    request: web.Request, template: str, title: str, status: int = 200, **context: Any
) -> web.Response:
    lang = preferred_language(request.headers.get("Accept-Language"))
    t = TEXTS[lang]
    response = aiohttp_jinja2.render_template(
        template,
        request,
        {"lang": lang, "t": t, "title": t[title], **context},
        app_key=pages_templates_key,
        status=status,
    )
    response.headers.update(SECURITY_HEADERS)
    response.headers.add("Vary", "Accept-Language")
    return response


def _message(
    request: web.Request,
    title: str,
    message: str,
    *,
    status: int = 200,
    detail: str | None = None,
    tone: str | None = None,
    link: dict[str, str] | None = None,
) -> web.Response:
    t = TEXTS[preferred_language(request.headers.get("Accept-Language"))]
    return _page(
        request,
        "message.html",
        title,
        status,
        message=t[message],
        detail=t[detail] if detail else None,
        tone=tone,
        link={"href": link["href"], "text": t[link["text"]]} if link else None,
    )


def _bad_link(request: web.Request, kind: Kind) -> web.Response:
    again = {"href": "/account/delete", "text": "request_again"} if kind == "delete" else None
    return _message(
        request, "bad_link_title", "bad_link", detail=f"bad_link_{kind}", tone="error", link=again
    )


def _too_many(request: web.Request, error: ApiError) -> web.Response:
    response = _message(request, "too_many_title", "too_many", status=429, tone="error")
    response.headers.update(error.headers or {})
    return response


async def _live(request: web.Request, kind: Kind, token: str) -> bool:
    async with request.app[db_pool_key].acquire() as conn:
        return await peek_token(conn, kind, token) is not None


def _token_of(request: web.Request) -> str:
    return request.query.get("token", "")[:MAX_TOKEN_CHARS]


async def _form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str)}


async def verify_page(request: web.Request) -> web.Response:
    token = _token_of(request)
    if not await _live(request, "verify", token):
        return _bad_link(request, "verify")
    return _page(request, "verify.html", "verify_title", token=token)


async def verify_submit(request: web.Request) -> web.Response:
    form = await _form(request)
    try:
        await verify_email(request, form.get("token", ""))
    except BadToken:
        return _bad_link(request, "verify")
    return _message(request, "verified_title", "verified", tone="success")


async def reset_page(request: web.Request) -> web.Response:
    token = _token_of(request)
    if not await _live(request, "reset", token):
        return _bad_link(request, "reset")
    return _page(request, "reset.html", "reset_title", token=token, error=None)


async def reset_submit(request: web.Request) -> web.Response:
    form = await _form(request)
    token, password = form.get("token", ""), form.get("new_password", "")
    problem = (
        "too_short"
        if len(password) < 8
        else "too_long"
        if len(password) > MAX_PASSWORD
        else "mismatch"
        if password != form.get("confirm_password")
        else None
    )
    if problem:
        if not await _live(request, "reset", token):
            return _bad_link(request, "reset")
        t = TEXTS[preferred_language(request.headers.get("Accept-Language"))]
        return _page(
            request, "reset.html", "reset_title", status=422, token=token, error=t[problem]
        )
    try:
        await reset_password(request, token, password)
    except BadToken:
        return _bad_link(request, "reset")
    except ApiError as refused:  # account_suspended: a reset does not lift a suspension
        return _message(request, "reset_refused_title", "reset_refused", status=refused.status)
    return _message(request, "reset_done_title", "reset_done", tone="success")


async def delete_page(request: web.Request) -> web.Response:
    token = _token_of(request)
    if not token:  # the page an app-store listing names: ask for the email
        return _page(request, "delete.html", "delete_title", token=None, error=None)
    if not await _live(request, "delete", token):
        return _bad_link(request, "delete")
    return _page(request, "delete.html", "delete_title", token=token, error=None)


async def delete_submit(request: web.Request) -> web.Response:
    form = await _form(request)
    token = form.get("token")
    try:
        if token is None:
            email = form.get("email", "").strip()
            if not email or "@" not in email or len(email) > 320:
                t = TEXTS[preferred_language(request.headers.get("Accept-Language"))]
                return _page(
                    request, "delete.html", "delete_title", 422, token=None, error=t["bad_email"]
                )
            await request_link(request, "delete", email)
            return _message(request, "delete_sent_title", "delete_sent")
        await confirm_deletion(request, token)
    except BadToken:
        return _bad_link(request, "delete")
    except ApiError as exc:
        if exc.status == 429:
            return _too_many(request, exc)
        raise
    return _message(request, "deleted_title", "deleted", tone="success")
