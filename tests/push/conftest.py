"""Push worker fixtures: a fake Google (token + FCM endpoints) with a service-account file that
points at it, settings for a fast-retrying worker, and helpers to arrange rows and wait."""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.api.notifications.notify import NotificationType, notify
from services.api.push_worker.runtime import open_worker
from services.api.push_worker.worker import Clock, PushWorker, utc_now
from shared.settings import Settings
from tests.push.fake_google import FakeGoogle
from tests.support import make_settings

PROJECT_ID = "withbowwow-test"
CLIENT_EMAIL = "push-worker@withbowwow-test.iam.gserviceaccount.com"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def fake_google(rsa_key: rsa.RSAPrivateKey, aiohttp_server: Any) -> FakeGoogle:
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fake = FakeGoogle(public_pem, CLIENT_EMAIL, PROJECT_ID)
    server = await aiohttp_server(fake.app())
    fake.token_uri = str(server.make_url("/token"))
    return fake


@pytest.fixture
def fake_base_url(fake_google: FakeGoogle) -> str:
    return fake_google.token_uri.removesuffix("/token")


@pytest.fixture
def service_account_file(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, fake_google: FakeGoogle
) -> Path:
    """A service-account JSON as the Firebase console downloads it, but with our token_uri."""
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = tmp_path / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT_ID,
                "private_key_id": "test-key-1",
                "private_key": pem,
                "client_email": CLIENT_EMAIL,
                "client_id": "1234567890",
                "token_uri": fake_google.token_uri,
            }
        )
    )
    return path


FAST_PUSH = {
    "push_retry_base_s": 0.05,
    "push_retry_max_s": 0.4,
    "push_reclaim_idle_s": 1.0,
    "push_send_timeout_s": 2.0,
    "push_sweep_interval_s": 0.2,
    "push_sweep_grace_s": 60.0,
    "push_max_attempts": 4,
    "push_concurrency": 32,
}


@pytest.fixture
def push_settings_for(
    database_url: str, redis_url: str, service_account_file: Path, fake_base_url: str
) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            **FAST_PUSH,
            "fcm_project_id": PROJECT_ID,
            "fcm_credentials_file": str(service_account_file),
            "fcm_base_url": fake_base_url,
            **overrides,
        }
        return make_settings(database_url, values.pop("redis_url", redis_url), **values)

    return build


@pytest.fixture
def push_settings(push_settings_for: Callable[..., Settings]) -> Settings:
    return push_settings_for()


@asynccontextmanager
async def running_worker(
    settings: Settings, *, clock: Clock = utc_now
) -> AsyncIterator[PushWorker]:
    async with open_worker(settings, clock=clock) as worker:
        task = asyncio.create_task(worker.run())
        try:
            yield worker
        finally:
            worker.stop()
            await task


async def eventually(
    check: Callable[[], Any | Awaitable[Any]], *, timeout_s: float = 20.0, what: str = ""
) -> Any:
    """Poll until `check()` is truthy; its value, or a failed assertion at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {timeout_s}s: {what or check}")
        await asyncio.sleep(0.05)


async def create_user(db: asyncpg.Connection, nickname: str) -> uuid.UUID:
    user_id: uuid.UUID = await db.fetchval(
        """INSERT INTO users (email, password_hash, nickname) VALUES ($1, 'x', $2)
           RETURNING id""",
        f"{uuid.uuid4().hex}@example.com",
        nickname,
    )
    return user_id


async def add_device(
    db: asyncpg.Connection, user_id: uuid.UUID, token: str, platform: str = "android"
) -> None:
    await db.execute(
        "INSERT INTO devices (token, user_id, platform) VALUES ($1, $2, $3)",
        token,
        user_id,
        platform,
    )


async def create_notification(
    db: asyncpg.Connection,
    recipient: uuid.UUID,
    type: NotificationType = "followed",
    actor: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> uuid.UUID:
    notification_id = await notify(db, recipient_id=recipient, type=type, actor_id=actor, data=data)
    assert notification_id is not None
    return notification_id


def settled(
    db: asyncpg.Connection, notification_id: uuid.UUID, state: str = "sent"
) -> Callable[[], Awaitable[bool]]:
    """A check for `eventually`: the notification's push reached `state`."""

    async def check() -> bool:
        found = await db.fetchval(
            "SELECT push_state FROM notifications WHERE id = $1", notification_id
        )
        return bool(found == state)

    return check
