"""A real browser for the tests of the web pages and the WebSocket (CONTRACT sections 4 and 7).

Headless Chromium from Debian's `chromium` package, driven by Playwright over its own protocol
with `executable_path`: no registry here serves Playwright's browser download, and the Debian
binary is the one a reviewer runs. `make test` installs it (tools/browser.sh) where it is missing.
Screenshots go to `.data/test/screenshots/`, for a person to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / ".data" / "test" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# A phone-sized window (an iPhone 14's CSS pixels) and a console-sized one.
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG under SCREENSHOTS, named for what it shows."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
