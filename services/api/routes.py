"""The API's route table: `/healthz` plus each resource module's routes."""

from __future__ import annotations

from aiohttp import web

from services.api.handlers import (
    auth,
    badges,
    devices,
    dogs,
    feed,
    interactions,
    invitations,
    notifications,
    rankings,
    users,
    walks,
)
from shared.health import healthz

RESOURCE_MODULES = (
    auth,
    users,
    dogs,
    walks,
    feed,
    interactions,
    invitations,
    notifications,
    devices,
    rankings,
    badges,
)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, allow_head=False)
    for module in RESOURCE_MODULES:
        app.router.add_routes(module.routes)
