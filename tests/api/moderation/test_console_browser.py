"""The moderation console in a real browser (CONTRACT section 7, `/admin/`; Debian's Chromium):
a moderator signs in with a TOTP code, finds a report filed through the API, hides the walk
(gone for others, marked for its author), and suspends a person whose walk-together socket is
open (their socket closes with 4001, the partner's with 4004). Screenshots of the queue, a case
and a user's page go to .data/test/screenshots/ for a person to look at."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from services.realtime.app import create_app as create_gateway
from services.realtime.limits import GatewayLimits
from shared.logging_setup import AccessLogger
from shared.settings import Settings
from tests.api.moderation.staff_support import PASSWORD, make_staff
from tests.api.walk_support import post_walk
from tests.browser_support import DESKTOP, SCREENSHOTS, screenshot
from tests.realtime.conftest import Gateway, closed_with, next_of_type
from tests.support import Api


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    server = TestServer(create_gateway(settings, GatewayLimits()))
    await server.start_server(access_log_class=AccessLogger)
    async with aiohttp.ClientSession() as session:
        try:
            yield Gateway(server, session)
        finally:
            await server.close()


async def test_a_moderator_hides_a_walk_and_suspends_a_walker_from_the_console(
    api: Api, browser: Browser, gateway: Gateway, database_url: str
) -> None:
    author, reporter, other = (
        await api.signup("산책왕"),
        await api.signup("reporter"),
        await api.signup("neighbour"),
    )
    walker, partner = await api.signup("troll"), await api.signup("partner")
    walk = await post_walk(api, author, memo="여기서 싸게 팝니다 → 링크 클릭")
    await api.call("POST", f"/users/{author.id}/follow", other, expect=201)
    await api.call(
        "POST",
        "/reports",
        reporter,
        expect=201,
        json={"target": {"type": "walk", "id": walk["id"]}, "reason": "spam", "note": "광고"},
    )
    await api.call(
        "POST",
        "/reports",
        partner,
        expect=201,
        json={
            "target": {"type": "user", "id": walker.id},
            "reason": "harassment",
            "note": "keeps sending me messages",
        },
    )
    invitation = await api.call(
        "POST", "/invitations", walker, expect=201, json={"invitee_id": partner.id}
    )
    await api.call("POST", f"/invitations/{invitation['id']}/accept", partner, expect=200)
    walker_ws = await gateway.connect(invitation["id"], walker.token)
    partner_ws = await gateway.connect(invitation["id"], partner.token)
    for ws in (walker_ws, partner_ws):
        await next_of_type(ws, "hello")
    moderator = await make_staff(api, database_url)

    context = await browser.new_context(viewport=DESKTOP, locale="ko-KR")
    page = await context.new_page()
    base = str(api.client.make_url("/admin/"))
    await page.goto(base)
    await page.fill("input[name=email]", moderator.user.email)
    await page.fill("input[name=password]", PASSWORD)
    await page.fill("input[name=totp]", moderator.code())
    await page.click("button[type=submit]")

    walk_case = page.locator(f"li.case[data-id='{walk['id']}']")
    await expect(walk_case).to_contain_text("여기서 싸게 팝니다")
    await expect(walk_case).to_contain_text("광고")
    await screenshot(page, "moderation-queue")
    user_case = page.locator(f"li.case[data-id='{walker.id}']")
    await user_case.click()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await user_case.screenshot(path=str(SCREENSHOTS / "moderation-case.png"))

    await walk_case.locator("input.note").fill("commercial spam")
    await walk_case.locator("button[data-action=hide]").click()
    await expect(walk_case).to_have_count(0)
    await api.call("GET", f"/walks/{walk['id']}", other, expect=404)
    assert (await api.call("GET", "/feed", other, expect=200))["items"] == []
    seen = await api.call("GET", f"/walks/{walk['id']}", author, expect=200)
    assert seen["moderation"] == {"hidden": True, "reason": "spam"}

    await user_case.locator("input.days").fill("7")
    await user_case.locator("button[data-action=suspend]").click()
    await expect(user_case).to_have_count(0)
    assert await closed_with(walker_ws) == 4001
    assert await closed_with(partner_ws) == 4004
    await api.call("GET", f"/users/{walker.id}", other, expect=404)

    await page.goto(f"{base}#/users/{walker.id}")
    await expect(page.locator("#user .badge.warn")).to_contain_text("정지")
    await screenshot(page, "moderation-user")
    await page.click("#user .profile button")
    await expect(page.locator("#user .badge.ok")).to_have_text("정상")
    await api.call("GET", f"/users/{walker.id}", other, expect=200)
    await context.close()


async def test_the_console_forbids_framing_caching_and_inline_script(api: Api) -> None:
    for path in ("/admin/", "/admin/console.js", "/admin/api/reports"):
        resp = await api.client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
    page = await (await api.client.get("/admin/")).text()
    assert "<script>" not in page and "onclick" not in page and "<script src=" in page


async def test_the_console_speaks_korean_or_english_as_the_browser_prefers(api: Api) -> None:
    async def language(accept: str | None) -> str:
        headers = {"Accept-Language": accept} if accept else {}
        resp = await api.client.get("/admin/", headers=headers)
        assert resp.headers["Vary"] == "Accept-Language"
        page = await resp.text()
        assert "{{" not in page
        return page.split('<html lang="', 1)[1].split('"', 1)[0]

    assert await language(None) == "ko"
    assert await language("ko-KR,ko;q=0.9,en;q=0.8") == "ko"
    assert await language("en-US,en;q=0.9,ko;q=0.5") == "en"
    assert await language("fr-FR, en;q=0.5") == "en"
    assert await language("fr-FR") == "ko"
