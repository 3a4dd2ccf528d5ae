"""The gateway's application factory."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from functools import partial

from aiohttp import web

from services.realtime.backstop import run_backstop
from services.realtime.broker import Broker
from services.realtime.connection import Connection, SlowClients
from services.realtime.heartbeat import run_heartbeat
from services.realtime.invitation_loader import invitation_loader
from services.realtime.keys import (
    admission_key,
    frame_handler_key,
    invitation_loader_key,
    ledger_key,
    limits_key,
    presence_key,
    redis_batch_key,
    rooms_key,
    teardown_key,
    topology_key,
)
from services.realtime.ledger import LocationLedger
from services.realtime.limits import GatewayLimits
from services.realtime.metrics import gateway_collector
from services.realtime.outbox import Outbox
from services.realtime.presence import Presence
from services.realtime.redis_batch import running_batch
from services.realtime.rooms import Rooms
from services.realtime.turns import Turns
from services.realtime.walk_together import location_or_answer, on_frame, walk_together
from shared.cluster import topology_of
from shared.db import db_pool_ctx
from shared.ended_sessions import ended_sessions_ctx, ended_sessions_key
from shared.errors import error_middleware
from shared.health import healthz
from shared.keys import db_pool_key, redis_key, settings_key
from shared.location_pauses import LocationPauses, location_pauses_ctx, location_pauses_key
from shared.metrics import http_metrics, metrics_ctx, metrics_key
from shared.redis_client import redis_ctx
from shared.request_id import observe_requests
from shared.runner import drain_key
from shared.settings import Settings
from shared.walk_events import last_location_key

REFRESH_SLICES = 10


@asynccontextmanager
async def topology_ctx(app: web.Application) -> AsyncIterator[None]:
    """Where each walk's keys and channel live: the one Redis, or a cluster's slot map."""
    app[topology_key] = topology_of(app[redis_key], app[settings_key].redis_url)
    yield


@asynccontextmanager
async def redis_batch_ctx(app: web.Application) -> AsyncIterator[None]:
    topology = app[topology_key]
    outbox = Outbox(topology.pubsub, app[limits_key].last_location_ttl_s, location_or_answer)
    async with running_batch(topology, outbox) as batch:
        app[redis_batch_key] = batch
        handler: Callable[[Connection, str | None], None] = partial(on_frame, batch)
        app[frame_handler_key] = handler
        app[presence_key] = Presence(batch, app[limits_key], topology.pubsub)
        yield


@asynccontextmanager
async def invitation_loader_ctx(app: web.Application) -> AsyncIterator[None]:
    loader = invitation_loader(app[db_pool_key])
    app[invitation_loader_key] = loader
    try:
        yield
    finally:
        await loader.close()


@asynccontextmanager
async def ledger_ctx(app: web.Application) -> AsyncIterator[None]:
    """After the rooms' context in the exit order: the last counts of closed sockets are written."""
    ledger = LocationLedger(app[db_pool_key], app[limits_key].ledger_flush_s)
    app[ledger_key] = ledger
    writer = asyncio.create_task(ledger.run(), name="location-ledger")
    try:
        yield
    finally:
        ledger.stop()
        await writer


@asynccontextmanager
async def rooms_ctx(app: web.Application) -> AsyncIterator[None]:
    limits = app[limits_key]
    slow = SlowClients(limits.slow_retry_s)
    broker: Broker[Connection] = Broker(app[topology_key], limits.pubsub_health_check_s)
    batch = app[redis_batch_key]

    def forget_location(connection: Connection) -> None:
        batch.fire("DEL", last_location_key(connection.invitation_id, connection.user_id))

    rooms = Rooms(broker, slow, limits.close_timeout_s, forget_location)
    app[rooms_key] = rooms
    app[ended_sessions_key].on_ended(rooms.end_sessions)
    pauses: LocationPauses = app[location_pauses_key]
    rooms.paused = pauses
    pauses.on_paused(rooms.stop_users)
    app[metrics_key].registry.register(gateway_collector(broker.member_count, lambda: broker.lag_s))
    listener = asyncio.create_task(broker.listen(rooms.deliver), name="pubsub-listener")
    await broker.connected()
    tasks = [
        listener,
        asyncio.create_task(slow.run(), name="slow-clients"),
        asyncio.create_task(rooms.reap(), name="close-reaper"),
        asyncio.create_task(
            run_backstop(app[db_pool_key], rooms, limits.backstop_interval_s),
            name="walk-end-backstop",
        ),
        asyncio.create_task(refresh_seats(app), name="presence-refresh"),
        asyncio.create_task(run_heartbeat(broker, limits.heartbeat_s), name="heartbeat"),
        asyncio.create_task(probe_pubsub(app, broker), name="pubsub-probe"),
    ]
    try:
        yield
    finally:
        broker.stop()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task


async def refresh_seats(app: web.Application) -> None:
    """Keep this process's users online in Redis; a crashed gateway's users lapse offline.

    Every seat is refreshed once each `presence_ttl_s / 3`, a slice of the walks at a time:
    all 10,000 seats of a process at once held the loop long enough to delay every socket.
    """
    tick_s = app[limits_key].presence_ttl_s / 3 / REFRESH_SLICES
    broker = app[rooms_key].broker
    for turn in itertools.count():
        await asyncio.sleep(tick_s)
        members: list[Connection] = broker.members_in_slice(turn % REFRESH_SLICES, REFRESH_SLICES)
        if members:
            app[presence_key].refresh([(c.invitation_id, c.user_id) for c in members])


async def probe_pubsub(app: web.Application, broker: Broker[Connection]) -> None:
    """Measure the pub/sub lag through the batch writer; the outbox sheds on it."""
    batch = app[redis_batch_key]
    publish = app[topology_key].pubsub.publish

    def send(channel: bytes, data: bytes) -> None:
        batch.fire(publish, channel, data)

    await broker.probe(send, batch.outbox.observe_lag, app[limits_key].pubsub_probe_s)


async def drain_sockets(app: web.Application) -> None:
    """On SIGTERM, with the listener closed, every socket closes with 1001 (going away) in turns
    over SHUTDOWN_DRAIN_S, so clients reconnect elsewhere a few at a time (shared/runner.py)."""
    await app[rooms_key].drain(1001, app[settings_key].shutdown_drain_s)


async def close_sockets(app: web.Application) -> None:
    """On shutdown every socket still open (joined during the drain) closes with 1001."""
    await app[rooms_key].close_all(1001)


def create_app(settings: Settings, limits: GatewayLimits | None = None) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[settings_key] = settings
    app[limits_key] = limits or GatewayLimits()
    app[teardown_key] = Turns(app[limits_key].closes_per_turn)
    app[admission_key] = Turns(app[limits_key].handshakes_per_turn)
    observe_requests(app, http_metrics(app).http)
    app.cleanup_ctx.extend(
        [
            db_pool_ctx,
            invitation_loader_ctx,
            redis_ctx,
            topology_ctx,
            metrics_ctx("gateway", lambda s: s.realtime_metrics_port),
            ended_sessions_ctx,
            location_pauses_ctx,
            redis_batch_ctx,
            ledger_ctx,
            rooms_ctx,
        ]
    )
    app[drain_key] = drain_sockets
    app.on_shutdown.append(close_sockets)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/ws/walk-together/{invitation_id}", walk_together)
    return app
