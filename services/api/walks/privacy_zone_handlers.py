"""`/me/privacy-zones`: the caller's privacy zones (privacy_zones.py), listed, added and removed."""

from __future__ import annotations

from aiohttp import web

from services.api.walks.privacy_zones import (
    MAX_ZONES_PER_USER,
    ZoneIn,
    add_zone,
    delete_zone,
    list_zones,
)
from services.api.web.authentication import current_user
from services.api.web.path_params import path_uuid
from shared.errors import conflict, not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key


async def get_privacy_zones(request: web.Request) -> web.Response:
    async with request.app[db_pool_key].acquire() as conn:
        zones = await list_zones(conn, current_user(request))
    return json_response(zones)


async def create_privacy_zone(request: web.Request) -> web.Response:
    zone = ZoneIn.model_validate_json(await request.read())
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        created = await add_zone(conn, current_user(request), zone)
    if created is None:
        raise conflict(f"at most {MAX_ZONES_PER_USER} privacy zones per user")
    return json_response(created, status=201)


async def remove_privacy_zone(request: web.Request) -> web.Response:
    """Only the caller's own zone: someone else's is 404 and stays."""
    zone_id = path_uuid(request, "privacy zone")
    async with request.app[db_pool_key].acquire() as conn:
        if not await delete_zone(conn, current_user(request), zone_id):
            raise not_found("privacy zone")
    return web.Response(status=204)
