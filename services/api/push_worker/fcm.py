"""The FCM HTTP v1 send call, and what each answer means for the device and the job.

Classification follows Google's error table: UNREGISTERED / NOT_FOUND mean the token is dead
(delete it, no retry); INVALID_ARGUMENT and the other 4xx are permanent for this message; 429,
500, 503 (and any 5xx, timeouts, network errors) are retried later, never before `Retry-After`.
A 401 without an FCM error code means our access token was refused: mint a new one and retry.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import logging
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import aiohttp

from services.api.push_worker.oauth import AccessTokens, TokenError
from shared.jsonutil import dumps_bytes, loads

log = logging.getLogger(__name__)

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
RETRYABLE_CODES = frozenset({"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"})


class Outcome(enum.StrEnum):
    SENT = "sent"
    UNREGISTERED = "unregistered"
    REJECTED = "rejected"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    detail: str  # the FCM message name when sent, else what went wrong
    retry_after_s: float | None = None


class PushSender(Protocol):
    async def send(self, message: dict[str, Any]) -> SendResult: ...


def token_hint(token: str) -> str:
    """A device token as logs may show it: enough to correlate, useless to send with."""
    return hashlib.sha256(token.encode()).hexdigest()[:10]


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def fcm_error_code(body: bytes) -> str:
    """FcmError.errorCode when present, else the google.rpc status, else ''."""
    try:
        error = loads(body).get("error") or {}
    except (ValueError, AttributeError):
        return ""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("@type") == FCM_ERROR_TYPE:
            return str(detail.get("errorCode") or "")
    return str(error.get("status") or "")


def classify(status: int, body: bytes, retry_after_s: float | None) -> SendResult:
    code = fcm_error_code(body)
    detail = f"{status} {code}".strip()
    if code in ("UNREGISTERED", "NOT_FOUND") or status == 404:
        return SendResult(Outcome.UNREGISTERED, detail)
    if status == 429 or status >= 500 or code in RETRYABLE_CODES:
        return SendResult(Outcome.RETRY, detail, retry_after_s)
    if status == 401 and code != "THIRD_PARTY_AUTH_ERROR":
        return SendResult(Outcome.RETRY, detail)
    return SendResult(Outcome.REJECTED, detail)


class FcmSender:
    """Sends over one shared ClientSession; every failure becomes a SendResult, never raises."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: AccessTokens,
        *,
        base_url: str,
        project_id: str,
        timeout_s: float,
    ) -> None:
        self._session = session
        self._tokens = tokens
        self._url = f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, message: dict[str, Any]) -> SendResult:
        try:
            access_token = await self._tokens.get()
        except TokenError as exc:
            return SendResult(Outcome.RETRY, f"oauth: {exc}")
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json; charset=UTF-8",
        }
        try:
            async with self._session.post(
                self._url,
                data=dumps_bytes({"message": message}),
                headers=headers,
                timeout=self._timeout,
            ) as resp:
                body = await resp.read()
                status = resp.status
                retry_after_s = parse_retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            return SendResult(Outcome.RETRY, f"network: {type(exc).__name__}")
        if status == 200:
            try:
                name = str(loads(body).get("name") or "")
            except (ValueError, AttributeError):
                name = ""
            return SendResult(Outcome.SENT, name)
        result = classify(status, body, retry_after_s)
        if status == 401 and result.outcome is Outcome.RETRY:
            self._tokens.invalidate(access_token)
        return result


class LoggingSender:
    """Stands in for FCM when no credentials are configured: says what it would have sent."""

    async def send(self, message: dict[str, Any]) -> SendResult:
        data = message.get("data") or {}
        notification = message.get("notification") or {}
        log.info(
            "push not sent (no FCM credentials): %s %s to device %s: %s / %s",
            data.get("type"),
            data.get("notification_id"),
            token_hint(str(message.get("token", ""))),
            notification.get("title"),
            notification.get("body"),
        )
        return SendResult(Outcome.SENT, "logged")
