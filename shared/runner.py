"""Start an aiohttp app the same way in both services: uvloop, logging, graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web

from shared.logging_setup import AccessLogger, configure_logging
from shared.protocol_errors import ContractAppRunner, ContractRequestHandler
from shared.settings import Settings
from shared.timeouts import REQUEST_HEAD_TIMEOUT_S

log = logging.getLogger(__name__)


def process_settings() -> Settings:
    """A service process's settings, read after logging is set up so that their own warnings
    (a development secret) come out formatted like every other line."""
    configure_logging()
    settings = Settings()
    configure_logging(settings.log_format)  # LOG_FORMAT may come from `.env`
    return settings


def use_uvloop() -> None:
    """uvloop for every service process: faster sockets and callbacks than asyncio's loop."""
    if sys.platform != "win32":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# Connections the kernel may hold before they are accepted (Linux caps it at
# net.core.somaxconn, 4096 on current kernels). aiohttp's 128 overflowed when a stopped
# gateway's walkers all came back to the survivors at once: a dropped SYN is retried after 1 s
# (TCP's first retransmission), so every overflow was a handshake over a second (issue 15).
LISTEN_BACKLOG = 4096


# What an app does once it has stopped listening and before aiohttp's shutdown begins: aiohttp's
# `pre_shutdown` stops reading every open connection (web_protocol drops what arrives after
# `close()`), so work that needs its connections still read, such as the gateway's drain of its
# sockets, runs here, while they are.
drain_key: web.AppKey[Callable[[web.Application], Awaitable[None]]] = web.AppKey("drain")


async def stop_listening_and_drain(runner: web.BaseRunner, app: web.Application) -> None:
    """Close the listening sockets (new connections go to another instance), then run the app's
    drain, if it has one, with every open connection still served; `runner.cleanup()` next."""
    for site in list(runner.sites):
        await site.stop()
    drain = app.get(drain_key)
    if drain is not None:
        await drain(app)


def make_runner(
    app: web.Application,
    settings: Settings,
    *,
    head_timeout_s: float = REQUEST_HEAD_TIMEOUT_S,
    handler_class: type[ContractRequestHandler] = ContractRequestHandler,
) -> ContractAppRunner:
    """The runner both services serve on (tests start it with a shorter head timeout)."""
    return ContractAppRunner(
        app,
        handler_class=handler_class,
        access_log_class=AccessLogger,
        shutdown_timeout=settings.shutdown_timeout_s,
        keepalive_timeout=head_timeout_s,
    )


def serve(
    app: web.Application,
    settings: Settings,
    port: int,
    name: str,
    handler_class: type[ContractRequestHandler] = ContractRequestHandler,
) -> None:
    """Serve `app` on HOST:`port` until SIGINT or SIGTERM, then shut down gracefully (the app's
    drain, then its on_shutdown, while its connections are still open), as `web.run_app` does,
    but on `ContractAppRunner` (requests aiohttp cannot parse get the contract's error shape
    too) and with one log line instead of run_app's banner."""
    configure_logging(settings.log_format)
    use_uvloop()
    asyncio.run(_serve(app, settings, port, name, handler_class))


async def _serve(
    app: web.Application,
    settings: Settings,
    port: int,
    name: str,
    handler_class: type[ContractRequestHandler],
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = make_runner(app, settings, handler_class=handler_class)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, port, backlog=LISTEN_BACKLOG).start()
        log.info("%s listening on http://%s:%d", name, settings.host, port)
        await stop.wait()
        await stop_listening_and_drain(runner, app)
    finally:
        await runner.cleanup()
