"""The REST API's application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from services.api.accounts.sessions import session_housekeeping_ctx
from services.api.consents.gate import consent_gate
from services.api.consents.retention import consent_pruner_ctx
from services.api.export.slots import export_slots, export_slots_key
from services.api.filtering.fields import use_wordlist
from services.api.location_rights.notices import location_notices_ctx
from services.api.moderation.console_headers import add_security_headers
from services.api.moderation.evidence import evidence_pruner_ctx
from services.api.moderation.metrics import watch_moderation
from services.api.moderation.staff_sessions import staff_middleware
from services.api.notifications.push_jobs import push_emitter, push_jobs_key
from services.api.routes import setup_routes
from services.api.together.location_log import location_log_pruner_ctx
from services.api.together.sweeper import invitation_sweeper_ctx
from services.api.walks.feed_heads import READ_TIMEOUT_S, feed_head_reads_key
from services.api.web.after_response import after_response_ctx
from services.api.web.authentication import auth_middleware, verified_tokens_key
from services.api.web.cors import cors_headers, cors_middleware
from services.api.web.rate_limit import ForwardedForWarning, forwarded_for_warning_key
from shared.cluster import pipelined_connection, topology_of
from shared.db import db_pool_ctx
from shared.ended_sessions import ended_sessions_ctx
from shared.errors import error_middleware
from shared.keys import redis_key, settings_key
from shared.metrics import http_metrics, metrics_ctx
from shared.redis_client import redis_ctx
from shared.request_id import observe_requests
from shared.settings import Settings
from shared.tokens import VerifiedAccessTokens

MAX_BODY_BYTES = 1024 * 1024


@asynccontextmanager
async def push_jobs_ctx(app: web.Application) -> AsyncIterator[None]:
    async with push_emitter(app[redis_key]) as emitter:
        app[push_jobs_key] = emitter
        yield


@asynccontextmanager
async def feed_head_reads_ctx(app: web.Application) -> AsyncIterator[None]:
    name = "api-feed-heads"
    topology = topology_of(app[redis_key], app[settings_key].redis_url)
    reads = pipelined_connection(topology, name, READ_TIMEOUT_S)
    app[feed_head_reads_key] = reads
    yield
    reads.close()


def create_app(settings: Settings) -> web.Application:
    # CORS outermost: it answers preflights before anything else; its headers go on every answer
    # as it is prepared, errors and streamed ones included.
    cors = [cors_middleware(settings.cors_origins)] if settings.cors_origins else []
    app = web.Application(
        middlewares=[*cors, error_middleware, auth_middleware, consent_gate, staff_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[settings_key] = settings
    app[verified_tokens_key] = VerifiedAccessTokens(settings.jwt_key)
    use_wordlist(settings.moderation_wordlist_file)
    metrics = http_metrics(app)
    observe_requests(app, metrics.http)
    watch_moderation(app, metrics)
    app.on_response_prepare.append(add_security_headers)
    if settings.cors_origins:
        app.on_response_prepare.append(cors_headers(settings.cors_origins))
    app[forwarded_for_warning_key] = ForwardedForWarning()
    app[export_slots_key] = export_slots(settings)
    app.cleanup_ctx.extend(
        [
            db_pool_ctx,
            redis_ctx,
            ended_sessions_ctx,
            session_housekeeping_ctx,
            metrics_ctx("api", lambda s: s.api_metrics_port),
            feed_head_reads_ctx,
            push_jobs_ctx,
            invitation_sweeper_ctx,
            location_log_pruner_ctx,
            evidence_pruner_ctx,
            after_response_ctx,
            location_notices_ctx,
            consent_pruner_ctx,
        ]
    )
    setup_routes(app)
    return app
