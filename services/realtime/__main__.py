"""`python -m services.realtime`: serve the gateway on HOST:REALTIME_PORT."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from services.realtime.app import create_app
from services.realtime.gc_policy import gc_policy
from services.realtime.keys import limits_key, rooms_key
from services.realtime.upgrade_url import GatewayRequestHandler
from shared.runner import process_settings, serve


@asynccontextmanager
async def gc_policy_ctx(app: web.Application) -> AsyncIterator[None]:
    broker = app[rooms_key].broker
    async with gc_policy(broker.member_count, app[limits_key].gc_interval_s):
        yield


def main() -> None:
    settings = process_settings()
    app = create_app(settings)
    # Process-wide, so it belongs to the process's entry point, not to every app (tests).
    app.cleanup_ctx.append(gc_policy_ctx)
    serve(
        app,
        settings,
        settings.realtime_port,
        "walk-together gateway",
        handler_class=GatewayRequestHandler,
    )


if __name__ == "__main__":
    main()
