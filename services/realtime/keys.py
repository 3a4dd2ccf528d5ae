"""Typed state the gateway keeps on its `web.Application`."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from services.realtime.connection import Connection
from services.realtime.invitation_loader import InvitationLoader
from services.realtime.ledger import LocationLedger
from services.realtime.limits import GatewayLimits
from services.realtime.presence import Presence
from services.realtime.redis_batch import RedisBatch
from services.realtime.rooms import Rooms
from services.realtime.turns import Turns
from shared.cluster import Topology

invitation_loader_key = web.AppKey("invitation_loader", InvitationLoader)
ledger_key = web.AppKey("ledger", LocationLedger)
limits_key = web.AppKey("limits", GatewayLimits)
presence_key = web.AppKey("presence", Presence)
redis_batch_key = web.AppKey("redis_batch", RedisBatch)
# walk_together.on_frame bound to the process's batch: what every socket's text frames go to.
frame_handler_key: web.AppKey[Callable[[Connection, str | None], None]] = web.AppKey(
    "frame_handler"
)
rooms_key = web.AppKey("rooms", Rooms)
# Turns of handlers (turns.py): the ends of sockets, and handshakes.
teardown_key = web.AppKey("teardown", Turns)
admission_key = web.AppKey("admission", Turns)
# The one Redis, or a Redis Cluster's slot map (shared/cluster.py).
topology_key: web.AppKey[Topology] = web.AppKey("topology")
