"""The API's route table: `/healthz` plus each domain's handler modules, read in this order."""

from __future__ import annotations

from aiohttp import web

from services.api.accounts import deletion, email_links
from services.api.accounts import handlers as accounts
from services.api.consents import handlers as consents
from services.api.export import handlers as export
from services.api.location_rights import pause as location_pause
from services.api.location_rights import withdrawal as location_withdrawal
from services.api.moderation import console_api, console_pages, reports, staff_sessions
from services.api.notifications import devices
from services.api.notifications import handlers as notifications
from services.api.notifications import settings_handlers as notification_settings
from services.api.pages.handlers import setup_pages
from services.api.rankings import badge_handlers as badges
from services.api.rankings import handlers as rankings
from services.api.social import blocks, dogs, follow_requests, search, users
from services.api.together import handlers as invitations
from services.api.together import location_log, tickets
from services.api.walks import feed, interactions, privacy_zones
from services.api.walks import handlers as walks
from shared.health import healthz

RESOURCE_MODULES = (
    consents,
    location_withdrawal,
    location_pause,
    accounts,
    deletion,
    email_links,
    users,
    search,
    blocks,
    follow_requests,
    dogs,
    walks,
    privacy_zones,
    feed,
    interactions,
    invitations,
    location_log,
    tickets,
    notifications,
    notification_settings,
    devices,
    rankings,
    badges,
    reports,
    staff_sessions,
    console_api,
    console_pages,
    export,
)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, allow_head=False)
    for module in RESOURCE_MODULES:
        app.router.add_routes(module.routes)
    setup_pages(app)  # the account pages (section 7): HTML, their templates and stylesheet
