"""The account pages (CONTRACT section 7) in a real browser on a phone-sized window: from the
email (the SMTP server's inbox, or the .eml file) to the page, the button, and the result seen
through the API. Opening a link changes nothing; each page forbids inline script and framing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page

from services.api.app import create_app
from services.api.pages.account_page_handlers import SECURITY_HEADERS
from services.api.web.languages import preferred_language
from shared.settings import Settings
from tests.browser_support import PHONE, screenshot
from tests.email.conftest import SmtpServer, free_port, link_in, parse, token_of
from tests.push.conftest import eventually, running_worker
from tests.support import Api

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'"
)


@pytest.fixture
async def site(
    email_settings_for: Callable[..., Settings], aiohttp_client: Any
) -> tuple[Api, Settings]:
    """The API on a known port, so that PUBLIC_BASE_URL (the emails' links) leads to it."""
    port = free_port()
    settings = email_settings_for(public_base_url=f"http://127.0.0.1:{port}")
    client = await aiohttp_client(create_app(settings), server_kwargs={"port": port})
    return Api(client), settings


async def _phone(browser: Browser, language: str = "ko-KR") -> Page:
    context = await browser.new_context(viewport=PHONE, locale=language, device_scale_factor=2)
    page = await context.new_page()
    page.on("console", lambda msg: _no_csp_violation(msg.text))
    return page


def _no_csp_violation(text: str) -> None:
    assert "Content Security Policy" not in text, text


async def _eml(mail_dir: Path, kind: str, count: int = 1) -> Any:
    def written() -> list[Path]:
        found = sorted(mail_dir.glob(f"*-{kind}-*.eml"))
        return found if len(found) >= count else []

    files = await eventually(written, what=f"{count} {kind} .eml file(s)")
    return parse(files[-1].read_bytes())


async def test_reset_from_the_eml_file_to_a_new_password_in_korean(
    site: tuple[Api, Settings], browser: Browser
) -> None:
    api, settings = site
    user = await api.signup()
    async with running_worker(settings):
        await api.call("POST", "/auth/password-reset", json={"email": user.email}, expect=202)
        link, _ = link_in(await _eml(Path(settings.mail_dir), "reset"))
    page = await _phone(browser)
    response = await page.goto(link)
    assert response is not None and response.status == 200
    assert await page.locator("html").get_attribute("lang") == "ko"
    await screenshot(page, "account-reset-ko")
    await page.fill("#new_password", "battery staple")
    await page.fill("#confirm_password", "battery stapel")
    await page.click("button[type=submit]")
    assert "다릅니다" in await page.locator(".error").inner_text()
    await screenshot(page, "account-reset-mismatch-ko")
    await page.fill("#new_password", "battery staple")
    await page.fill("#confirm_password", "battery staple")
    await page.click("button[type=submit]")
    assert "바뀌었습니다" in await page.locator("h1").inner_text()
    await screenshot(page, "account-reset-done-ko")
    login = {"email": user.email, "password": "battery staple"}
    await api.call("POST", "/auth/login", json=login, expect=200)
    await api.call("GET", "/me", user, expect=401)  # every other session ended


async def test_verify_from_the_eml_file_in_korean(
    site: tuple[Api, Settings], browser: Browser
) -> None:
    api, settings = site
    user = await api.signup()
    async with running_worker(settings):
        link, _ = link_in(await _eml(Path(settings.mail_dir), "verify"))
    page = await _phone(browser)
    await page.goto(link)
    await page.goto(link)  # opening it twice (a mail scanner, then the person) changes nothing
    assert (await api.call("GET", "/me", user, expect=200))["email_verified"] is False
    await screenshot(page, "account-verify-ko")
    await page.click("button[type=submit]")
    assert "확인되었습니다" in await page.locator("h1").inner_text()
    await screenshot(page, "account-verify-done-ko")
    assert (await api.call("GET", "/me", user, expect=200))["email_verified"] is True
    await page.goto(link)  # used: the page says so
    assert "쓸 수 없습니다" in await page.locator("h1").inner_text()
    await screenshot(page, "account-link-used-ko")


async def test_delete_without_the_app_from_the_email_form_to_the_smtp_inbox_to_erasure(
    site: tuple[Api, Settings],
    browser: Browser,
    smtp_server: SmtpServer,
    email_settings_for: Callable[..., Settings],
    db: asyncpg.Connection,
) -> None:
    api, settings = site
    user, friend = await api.signup(), await api.signup()
    await api.follow(friend, user)
    page = await _phone(browser)
    base = settings.public_base_url
    await page.goto(f"{base}/account/delete")
    await screenshot(page, "account-delete-ask-ko")
    await page.fill("#email", user.email)
    await page.click("button[type=submit]")
    assert "메일을 확인해 주세요" in await page.locator("h1").inner_text()
    await screenshot(page, "account-delete-sent-ko")
    smtp_settings = settings.model_copy(update={"smtp_url": _secret(smtp_server.url())})
    async with running_worker(smtp_settings):

        async def delete_email() -> Any:
            for message, to in zip(
                smtp_server.inbox.received, smtp_server.inbox.recipients, strict=True
            ):
                if to == [user.email] and "/account/delete" in link_in(message)[0]:
                    return message
            return None

        message = await eventually(delete_email, what="the deletion email")
    link, _ = link_in(message)
    await page.goto(link)
    await api.call("GET", f"/users/{user.id}", friend, expect=200)  # opening it erased nothing
    assert await page.locator("li").count() >= 6  # what will be erased, and what is kept
    await screenshot(page, "account-delete-confirm-ko")
    await page.click("button.danger")
    assert "삭제되었습니다" in await page.locator("h1").inner_text()
    await screenshot(page, "account-deleted-ko")
    await api.call("GET", f"/users/{user.id}", friend, expect=404)
    login = {"email": user.email, "password": "correct horse"}
    await api.call("POST", "/auth/login", json=login, expect=401)
    assert await db.fetchval("SELECT count(*) FROM follows") == 0


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


async def test_the_pages_speak_english_to_a_browser_that_prefers_it(
    site: tuple[Api, Settings], browser: Browser, db: asyncpg.Connection
) -> None:
    api, settings = site
    user = await api.signup()
    await api.call("POST", "/auth/delete-request", json={"email": user.email}, expect=202)

    async def token() -> str | None:
        rows = await db.fetch("SELECT 1 FROM email_outbox WHERE kind = 'delete'")
        return await token_of(db, "delete") if rows else None

    link = f"{settings.public_base_url}/account/delete?token={await eventually(token)}"
    page = await _phone(browser, "en-US")
    await page.goto(link)
    assert await page.locator("html").get_attribute("lang") == "en"
    assert "Delete your account" in await page.locator("h1").inner_text()
    await screenshot(page, "account-delete-confirm-en")
    await page.goto(f"{settings.public_base_url}/account/reset?token=nope")
    assert "cannot be used" in await page.locator("h1").inner_text()


@pytest.mark.parametrize("path", ["/account/verify", "/account/reset", "/account/delete"])
async def test_every_page_forbids_inline_script_framing_referrers_and_caching(
    api: Api, path: str
) -> None:
    for method, kwargs in [("GET", {"params": {"token": "x"}}), ("POST", {"data": {"token": "x"}})]:
        resp = await api.client.request(method, path, **kwargs)
        assert resp.content_type == "text/html"
        assert resp.headers["Content-Security-Policy"] == CSP
        for name, value in SECURITY_HEADERS.items():
            assert resp.headers[name] == value, name
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Cache-Control"] == "no-store"
        html = await resp.text()
        assert "<script" not in html and "style=" not in html and "<style" not in html


async def test_opening_a_link_many_times_changes_nothing(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    token = await token_of(db, "verify")
    for _ in range(3):
        resp = await api.client.get("/account/verify", params={"token": token})
        assert resp.status == 200 and token in await resp.text()
        resp = await api.client.head("/account/verify", params={"token": token})
    assert (await api.call("GET", "/me", user, expect=200))["email_verified"] is False
    resp = await api.client.post("/account/verify", data={"token": token})
    assert resp.status == 200
    assert (await api.call("GET", "/me", user, expect=200))["email_verified"] is True


async def test_the_stylesheet_is_served_and_the_pages_link_no_other_origin(api: Api) -> None:
    resp = await api.client.get("/static/account/account.css")
    assert resp.status == 200 and resp.content_type == "text/css"
    page = await (await api.client.get("/account/delete")).text()
    assert 'href="/static/account/account.css"' in page and "http" not in page.split("<body")[0]


async def test_a_short_password_on_the_reset_page_spends_no_token(
    api: Api, db: asyncpg.Connection
) -> None:
    user = await api.signup()
    await api.call("POST", "/auth/password-reset", json={"email": user.email}, expect=202)

    async def reset_token() -> str | None:
        rows = await db.fetch("SELECT 1 FROM email_outbox WHERE kind = 'reset'")
        return await token_of(db, "reset") if rows else None

    token = await eventually(reset_token)
    form = {"token": token, "new_password": "short", "confirm_password": "short"}
    resp = await api.client.post("/account/reset", data=form)
    assert resp.status == 422 and "8" in await resp.text()
    form = {"token": token, "new_password": "battery staple", "confirm_password": "battery staple"}
    resp = await api.client.post("/account/reset", data=form)
    assert resp.status == 200
    login = {"email": user.email, "password": "battery staple"}
    await api.call("POST", "/auth/login", json=login, expect=200)


async def test_the_deletion_form_asks_again_for_an_address_that_is_not_one(api: Api) -> None:
    resp = await api.client.post("/account/delete", data={"email": "no-at-sign"})
    assert resp.status == 422 and "이메일 주소를 확인해 주세요" in await resp.text()
    resp = await api.client.post(
        "/account/delete", data={"email": "someone@example.com"}, headers={"Accept-Language": "en"}
    )
    assert resp.status == 200 and "Check your email" in await resp.text()


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "ko"),
        ("", "ko"),
        ("fr-FR,fr;q=0.9", "ko"),
        ("en-US,en;q=0.9,ko;q=0.8", "en"),
        ("ko-KR,ko;q=0.9,en-US;q=0.8", "ko"),
        ("fr, en;q=0.5", "en"),
        ("en;q=0, ko;q=0.1", "ko"),
        ("ko;q=0.5, en;q=0.5", "ko"),
        ("en;q=junk, ko", "ko"),
    ],
)
def test_korean_unless_the_browser_ranks_english_higher(header: str | None, language: str) -> None:
    assert preferred_language(header) == language
