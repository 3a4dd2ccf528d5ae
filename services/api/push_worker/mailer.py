"""The email half of the push worker (CONTRACT section 3, Email): it delivers the rows of
`email_outbox` (services/api/email/outbox.py) over SMTP, or to `.eml` files without SMTP_URL.

The rows are the queue, claimed in PostgreSQL: a claim (`claim`, `lease_until`) is taken with
FOR UPDATE SKIP LOCKED, so workers never share an email, and a crashed worker's emails come
back when its leases end. Right before it is sent, each email is checked to be still this
worker's claim and still to go, and held for the length of its SMTP exchange; it is marked
sent in the statement right after the server accepted it, before the next one is tried. A
worker told to stop finishes the email in hand, marks it, hands back the rest, and returns, so
a restart sends nothing twice. What may still happen is the unavoidable: a worker killed
between the server's 250 and that statement sends that one email again (with the same
Message-ID, for the receiving side to notice).

Failures: an SMTP 4xx, a refused or dropped connection, a timeout, a database that cannot be
reached: the email stays pending and is tried again after a backoff (exponential, capped),
for as long as SMTP is down: none is lost. An SMTP 5xx to the message is permanent: the row
is set aside as a dead letter (`state = 'dead'`, `last_error` the code), which an operator
lists with `make push-dead`. So is an email whose link expired before it could be sent.
Once sent or set aside, the row keeps no message (it held the link).

No log line names the recipient, the link or the server's text: an email is its row's id and
kind, a failure its SMTP code.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from contextlib import suppress
from dataclasses import dataclass

import asyncpg
from prometheus_client import Counter, Gauge

from services.api.push_worker.backoff import retry_delay
from services.api.push_worker.mail_senders import (
    ConnectFailed,
    Failure,
    FileSender,
    MailSender,
    Outgoing,
    Result,
    SmtpSender,
)
from shared.metrics import ProcessMetrics
from shared.settings import Settings

log = logging.getLogger(__name__)

BATCH = 20
# A batch is claimed for CLAIM_LEASE_S; each email, right before it is sent, for longer (its
# SMTP exchange has several commands, each up to SMTP_TIMEOUT_S). A crashed worker's emails
# come back when these end.
CLAIM_LEASE_S = 120.0
PRUNE_INTERVAL_S = 300.0
OUTAGE_PAUSE_MAX_S = 5.0
EXPIRED = "its link expired before it could be sent"

_CLAIM = """
UPDATE email_outbox o
   SET attempts = o.attempts + 1, lease_until = now() + make_interval(secs => $2), claim = $3
  FROM (SELECT id FROM email_outbox
         WHERE state = 'pending' AND due_at <= now()
           AND (lease_until IS NULL OR lease_until <= now())
         ORDER BY due_at
         LIMIT $1
           FOR UPDATE SKIP LOCKED) AS free
 WHERE o.id = free.id
RETURNING o.id, o.kind, o.recipient, o.message, o.attempts, o.created_at,
          o.expires_at <= now() AS expired
"""


@dataclass(frozen=True, slots=True)
class ClaimedEmail:
    id: uuid.UUID
    kind: str
    recipient: str
    message: str
    attempts: int
    created_at: dt.datetime
    expired: bool
    claim: uuid.UUID

    @property
    def file_name(self) -> str:
        return f"{self.created_at.strftime('%Y%m%dT%H%M%S')}-{self.kind}-{self.id}"


class EmailMetrics:
    def __init__(self, metrics: ProcessMetrics, pool: asyncpg.Pool) -> None:
        registry = metrics.registry
        self.sends = Counter(
            "withbowwow_email_sends",
            "Emails handed over, by result: ok, temporary (SMTP 4xx), permanent (SMTP 5xx), "
            "network (no answer from the server).",
            ["result"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "withbowwow_email_dead_letters",
            "Emails set aside: refused for good by the SMTP server, or expired unsent.",
            registry=registry,
        )
        self.pending = Gauge(
            "withbowwow_email_pending",
            "Emails waiting in the outbox: not yet sent, or waiting out a backoff.",
            registry=registry,
        )
        self.pending_age = Gauge(
            "withbowwow_email_pending_age_seconds",
            "How long the oldest email waiting in the outbox has waited (0: none).",
            registry=registry,
        )

        async def backlog() -> None:
            row = await pool.fetchrow(
                """SELECT count(*) AS pending,
                          coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age
                   FROM email_outbox WHERE state = 'pending'"""
            )
            assert row is not None
            self.pending.set(row["pending"])
            self.pending_age.set(float(row["age"]))

        metrics.scrape_hooks.append(backlog)


def mail_sender(settings: Settings) -> MailSender:
    if settings.smtp_url is None:
        sender = FileSender(settings.mail_dir)
        # Once, at start: where they go, never what they say.
        log.warning("SMTP_URL not set: emails are NOT sent but written as %s", sender.describe())
        return sender
    smtp = SmtpSender(
        settings.smtp_url.get_secret_value(), settings.mail_from, settings.smtp_timeout_s
    )
    log.info("sending emails through the %s", smtp.describe())
    return smtp


class Mailer:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        sender: MailSender,
        metrics: EmailMetrics,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._sender = sender
        self.metrics = metrics
        self._send_lease_s = max(CLAIM_LEASE_S, 5 * settings.smtp_timeout_s)
        self._stopping = asyncio.Event()

    async def run(self, stopping: asyncio.Event) -> None:
        """Deliver until `stopping` is set; the batch in hand is finished first."""
        self._stopping = stopping
        failures = 0
        last_prune = 0.0
        loop = asyncio.get_running_loop()
        while not stopping.is_set():
            try:
                claimed = await self._deliver_batch()
                if loop.time() - last_prune > PRUNE_INTERVAL_S:
                    await self._prune()
                    last_prune = loop.time()
                failures = 0
                pause = 0.0 if claimed >= BATCH else self._settings.email_poll_interval_s
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                failures += 1
                pause = min(OUTAGE_PAUSE_MAX_S, 0.1 * 2**failures)
                log.warning("email: database unavailable (%s); again in %.1fs", exc, pause)
            except Exception:
                log.exception("email delivery failed")
                pause = 1.0
            if pause:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), pause)

    async def _deliver_batch(self) -> int:
        async with self._pool.acquire() as conn:
            claim = uuid.uuid4()
            rows = await conn.fetch(_CLAIM, BATCH, CLAIM_LEASE_S, claim)
        emails = [ClaimedEmail(**dict(row), claim=claim) for row in rows]
        live = []
        for claimed in emails:
            if claimed.expired:
                await self._give_up(claimed, EXPIRED)
            else:
                live.append(claimed)
        if live:
            await self._send_all(live)
        return len(emails)

    async def _send_all(self, emails: list[ClaimedEmail]) -> None:
        try:
            async with self._sender.session() as connection:
                for index, claimed in enumerate(emails):
                    if self._stopping.is_set():
                        await self._release(emails[index:])
                        return
                    if not await self._still_pending(claimed):
                        log.info("email %s (%s) withdrawn before sending", claimed.id, claimed.kind)
                        continue
                    outgoing = Outgoing(claimed.recipient, claimed.message, claimed.file_name)
                    result = await connection.send(outgoing)
                    self.metrics.sends.labels(result.label).inc()
                    await self._settle(claimed, result)
                    if result.failure is Failure.NETWORK:
                        # The connection is gone: the rest wait as long as this one.
                        for rest in emails[index + 1 :]:
                            await self._retry(rest, Result(Failure.NETWORK, "connection lost"))
                        return
        except ConnectFailed as exc:
            self.metrics.sends.labels(exc.result.label).inc()
            log.warning("email: cannot reach the mail server (%s)", exc.result.detail)
            for claimed in emails:
                await self._retry(claimed, exc.result)

    async def _release(self, emails: list[ClaimedEmail]) -> None:
        """Stopping: hand back the emails not tried yet, as if never claimed."""
        await self._mark(
            """UPDATE email_outbox SET lease_until = NULL, attempts = attempts - 1
               WHERE id = ANY($1::uuid[]) AND state = 'pending'""",
            [claimed.id for claimed in emails],
        )

    async def _still_pending(self, claimed: ClaimedEmail) -> bool:
        """Right before sending: the email is still ours and still to go (its account was not
        deleted since the claim, which takes its emails along), held long enough to send it."""
        async with self._pool.acquire() as conn:
            return bool(
                await conn.fetchval(
                    """UPDATE email_outbox SET lease_until = now() + make_interval(secs => $3)
                       WHERE id = $1 AND claim = $2 AND state = 'pending'
                         AND lease_until > now()
                       RETURNING true""",
                    claimed.id,
                    claimed.claim,
                    self._send_lease_s,
                )
            )

    async def _settle(self, claimed: ClaimedEmail, result: Result) -> None:
        if result.failure is None:
            await self._mark(
                """UPDATE email_outbox
                   SET state = 'sent', message = NULL, lease_until = NULL, last_error = NULL,
                       settled_at = now()
                   WHERE id = $1""",
                claimed.id,
            )
            log.info("email %s (%s) sent, attempt %d", claimed.id, claimed.kind, claimed.attempts)
        elif result.failure is Failure.PERMANENT:
            await self._give_up(claimed, f"refused: {result.detail}")
        else:
            await self._retry(claimed, result)

    async def _retry(self, claimed: ClaimedEmail, result: Result) -> None:
        wait = retry_delay(
            claimed.attempts,
            None,
            base_s=self._settings.email_retry_base_s,
            cap_s=self._settings.email_retry_max_s,
        )
        await self._mark(
            """UPDATE email_outbox
               SET lease_until = NULL, due_at = now() + make_interval(secs => $2),
                   last_error = $3
               WHERE id = $1 AND state = 'pending'""",
            claimed.id,
            wait,
            f"{result.failure.value if result.failure else 'ok'}: {result.detail}",
        )
        log.info(
            "email %s (%s): %s; attempt %d in %.1fs",
            claimed.id,
            claimed.kind,
            result.detail,
            claimed.attempts + 1,
            wait,
        )

    async def _give_up(self, claimed: ClaimedEmail, reason: str) -> None:
        await self._mark(
            """UPDATE email_outbox
               SET state = 'dead', message = NULL, lease_until = NULL, last_error = $2,
                   settled_at = now()
               WHERE id = $1""",
            claimed.id,
            reason,
        )
        self.metrics.dead_letters.inc()
        log.warning(
            "email %s (%s) set aside after %d attempt(s): %s",
            claimed.id,
            claimed.kind,
            claimed.attempts,
            reason,
        )

    async def _mark(self, query: str, *args: object) -> None:
        """Record what happened to an email, waiting out a database outage: an email handed
        over must be marked so, or its lease would end and it would go again."""
        pause = 0.1
        while True:
            try:
                async with self._pool.acquire() as conn:
                    await conn.execute(query, *args)
                return
            except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError) as exc:
                log.warning("email: cannot record a send (%s); again", type(exc).__name__)
                await asyncio.sleep(pause)
                pause = min(OUTAGE_PAUSE_MAX_S, pause * 2)

    async def _prune(self) -> None:
        """Forget settled emails after the push deliveries' retention."""
        async with self._pool.acquire() as conn:
            await conn.execute(
                """DELETE FROM email_outbox
                   WHERE state <> 'pending'
                     AND settled_at < now() - make_interval(secs => $1)""",
                self._settings.push_delivery_retention_s,
            )
