"""Typed state the gateway keeps on its `web.Application`."""

from __future__ import annotations

from aiohttp import web

from services.realtime.ledger import LocationLedger
from services.realtime.limits import GatewayLimits
from services.realtime.presence import Presence
from services.realtime.redis_batch import RedisBatch
from services.realtime.rooms import Rooms

ledger_key = web.AppKey("ledger", LocationLedger)
limits_key = web.AppKey("limits", GatewayLimits)
presence_key = web.AppKey("presence", Presence)
redis_batch_key = web.AppKey("redis_batch", RedisBatch)
rooms_key = web.AppKey("rooms", Rooms)
