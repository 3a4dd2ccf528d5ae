"""Start an aiohttp app the same way in both services: uvloop, logging, graceful shutdown."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable

from aiohttp import web

from shared.logging_setup import PathOnlyAccessLogger, configure_logging
from shared.settings import Settings


def process_settings() -> Settings:
    """A service process's settings, read after logging is set up so that their own warnings
    (a development secret) come out formatted like every other line."""
    configure_logging()
    return Settings()


def use_uvloop() -> None:
    """uvloop for every service process: faster sockets and callbacks than asyncio's loop."""
    if sys.platform != "win32":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def serve(app: web.Application | Awaitable[web.Application], settings: Settings, port: int) -> None:
    configure_logging()
    use_uvloop()
    web.run_app(
        app,
        host=settings.host,
        port=port,
        access_log_class=PathOnlyAccessLogger,
        shutdown_timeout=settings.shutdown_timeout_s,
        handle_signals=True,
    )
