"""Everything a running worker holds: the DB pool, one Redis client (a cluster's, if REDIS_URL
names a cluster node), one HTTP session with a sized keep-alive pool, the sender (FCM, or a
logger when no credentials are configured), and the internal listener on PUSH_METRICS_PORT
(`/metrics`, `/healthz`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp

from services.api.push_worker.fcm import FcmSender, LoggingSender, PushSender
from services.api.push_worker.mail_senders import SmtpUrlError
from services.api.push_worker.mailer import EmailMetrics, Mailer, mail_sender
from services.api.push_worker.metrics import PushMetrics
from services.api.push_worker.oauth import AccessTokens, ServiceAccount
from services.api.push_worker.worker import Clock, PushWorker, utc_now
from shared.db import create_pool
from shared.metrics import ProcessMetrics, metrics_listener
from shared.redis_client import open_redis
from shared.settings import Settings

log = logging.getLogger(__name__)


class CredentialsError(Exception):
    """FCM_CREDENTIALS_FILE cannot be used: better to stop at start than to fail every push."""


def load_service_account(path: str) -> ServiceAccount:
    try:
        return ServiceAccount.from_file(path)
    except (OSError, ValueError, KeyError) as exc:
        # These messages name the problem (missing field, bad JSON, bad key), never the key.
        raise CredentialsError(f"FCM_CREDENTIALS_FILE {path}: {exc}") from None


@asynccontextmanager
async def fcm_sender(settings: Settings, metrics: PushMetrics) -> AsyncIterator[PushSender]:
    if not settings.fcm_enabled:
        log.warning("FCM_PROJECT_ID / FCM_CREDENTIALS_FILE not set: pushes are LOGGED, not sent")
        yield LoggingSender()
        return
    assert settings.fcm_project_id is not None and settings.fcm_credentials_file is not None
    account = load_service_account(settings.fcm_credentials_file)
    connector = aiohttp.TCPConnector(
        limit=settings.push_concurrency,
        limit_per_host=settings.push_concurrency,
        keepalive_timeout=60,
        ttl_dns_cache=300,
    )
    async with aiohttp.ClientSession(connector=connector) as session:
        tokens = AccessTokens(session, account, timeout_s=settings.push_send_timeout_s)
        metrics.oauth_refreshes = tokens.refreshes
        # Not the service account's address: no log line holds an email address.
        log.info(
            "sending pushes to FCM project %s at %s", settings.fcm_project_id, settings.fcm_base_url
        )
        try:
            yield FcmSender(
                session,
                tokens,
                base_url=settings.fcm_base_url,
                project_id=settings.fcm_project_id,
                timeout_s=settings.push_send_timeout_s,
            )
        finally:
            await tokens.aclose()


@asynccontextmanager
async def open_worker(settings: Settings, *, clock: Clock = utc_now) -> AsyncIterator[PushWorker]:
    async with AsyncExitStack() as stack:
        pool = await stack.enter_async_context(
            create_pool(settings.database_url, max_size=settings.db_pool_max_size)
        )
        redis = await open_redis(settings.redis_url)
        stack.push_async_callback(redis.aclose)
        metrics = PushMetrics(ProcessMetrics())
        sender = await stack.enter_async_context(fcm_sender(settings, metrics))
        try:
            mails = mail_sender(settings)
        except SmtpUrlError as exc:
            raise CredentialsError(str(exc)) from None
        mailer = Mailer(settings, pool, mails, EmailMetrics(metrics.process, pool))
        worker = PushWorker(settings, pool, redis, sender, metrics, clock=clock, mailer=mailer)
        metrics.watch(redis, worker.jobs_in_flight)
        metrics.port = await stack.enter_async_context(
            metrics_listener(
                metrics.process,
                pool,
                redis,
                host=settings.host,
                port=settings.push_metrics_port,
                process="push worker",
            )
        )
        yield worker
