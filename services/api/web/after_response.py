"""Work a request starts that its answer does not wait for (CONTRACT section 3, Email: a
password reset for an unknown address must answer exactly as for a known one, in time too, so
the lookup and the write happen after the answer).

Each piece of work is a task the app keeps until it ends; at shutdown the app waits for them
before its database pool closes. A failure is logged by its type only (the work may hold an
email address).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

after_response_key = web.AppKey("after_response", set[asyncio.Task[None]])


def after_response(app: web.Application, what: str, work: Coroutine[Any, Any, None]) -> None:
    """Run `work` on its own, after the handler answers; `what` names it in a failure's log."""

    async def run() -> None:
        try:
            await work
        except Exception as exc:
            log.error("%s failed after the response (%s)", what, type(exc).__name__)

    tasks = app[after_response_key]
    task = asyncio.create_task(run(), name=what)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


@asynccontextmanager
async def after_response_ctx(app: web.Application) -> AsyncIterator[None]:
    app[after_response_key] = set()
    yield
    if app[after_response_key]:
        await asyncio.gather(*app[after_response_key], return_exceptions=True)
