"""A real browser (Chromium) opens the walk-together socket from a page and sees the contract's
close code as `CloseEvent.code`, never 1006 (CONTRACT section 4: one closing handshake)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from services.realtime.app import create_app
from shared.logging_setup import AccessLogger
from shared.settings import Settings
from tests.realtime.conftest import Walk, Walker, next_of_type
from tests.realtime.test_replace_and_end import end_walk
from tests.support import Api

PAGE_DIR = Path(__file__).parent / "browser_page"
WAIT_MS = 10_000


@pytest.fixture
async def page_server() -> AsyncIterator[TestServer]:
    """The web build's page, from an origin of its own (127.0.0.1 on another port)."""
    app = web.Application()
    app.router.add_static("/", PAGE_DIR)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(access_log_class=AccessLogger)
    yield server
    await server.close()


@pytest.fixture
async def browser_gateway(settings: Settings, page_server: TestServer) -> AsyncIterator[TestServer]:
    """A gateway that lets the page's origin in (CORS_ORIGINS)."""
    origin = str(page_server.make_url("/").origin())
    server = TestServer(create_app(settings.model_copy(update={"cors_origins": (origin,)})))
    await server.start_server(access_log_class=AccessLogger)
    yield server
    await server.close()


class WalkPage:
    def __init__(self, page: Page, gateway: TestServer, console: list[str]) -> None:
        self.page = page
        self.gateway = gateway
        self.console = console

    async def open(self, walk: Walk, walker: Walker) -> None:
        url = f"ws://127.0.0.1:{self.gateway.port}/ws/walk-together/{walk.id}?token={walker.token}"
        await self.page.evaluate("url => openWalk(url)", url)
        await self.page.wait_for_function(
            "walk.messages.some(m => m.type === 'hello')", timeout=WAIT_MS
        )

    async def close_event(self) -> Any:
        await self.page.wait_for_function("walk.close !== null", timeout=WAIT_MS)
        return await self.page.evaluate("walk.close")


@pytest.fixture
async def walk_page(
    browser: Browser, page_server: TestServer, browser_gateway: TestServer
) -> AsyncIterator[WalkPage]:
    page = await browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    await page.goto(str(page_server.make_url("/index.html")))
    yield WalkPage(page, browser_gateway, console)
    await page.close()


def clean(event: Any, code: int, console: list[str]) -> None:
    assert event["code"] == code, (event, console)
    assert event["wasClean"] is True
    assert not any("Close received after close" in line for line in console), console


async def test_the_browser_sees_4004_when_the_walk_ends(
    walk_page: WalkPage, walk: Walk, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    await walk_page.open(walk, walk.inviter)
    await end_walk(db, redis, walk, "finished")
    clean(await walk_page.close_event(), 4004, walk_page.console)
    messages = await walk_page.page.evaluate("walk.messages")
    assert {"type": "walk_ended", "status": "finished"} in messages


async def test_the_browser_sees_4009_when_the_walker_connects_again(
    walk_page: WalkPage, walk: Walk
) -> None:
    await walk_page.open(walk, walk.inviter)
    url = f"ws://127.0.0.1:{walk_page.gateway.port}/ws/walk-together/{walk.id}"
    async with aiohttp.ClientSession() as session:
        newer = await session.ws_connect(
            url, headers={"Authorization": f"Bearer {walk.inviter.token}"}
        )
        await next_of_type(newer, "hello")
        clean(await walk_page.close_event(), 4009, walk_page.console)
        await newer.close()


async def test_the_browser_sees_4001_when_the_walker_signs_out(
    walk_page: WalkPage, walk: Walk, api: Api
) -> None:
    await walk_page.open(walk, walk.inviter)
    headers = {"Authorization": f"Bearer {walk.inviter.token}"}
    await api.call("POST", "/auth/logout-all", headers=headers, expect=204)
    clean(await walk_page.close_event(), 4001, walk_page.console)
