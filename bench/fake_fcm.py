"""A local fake Google for the push benchmark: tests/push/fake_google.py's OAuth2 token endpoint
and FCM HTTP v1 `messages:send`, served in its own process, plus `GET /stats`.

    python -m bench.fake_fcm PORT SERVICE_ACCOUNT_PATH

Writes a service-account JSON (fresh RSA key, `token_uri` pointing here) for the worker's
FCM_CREDENTIALS_FILE, then serves until terminated.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.push.fake_google import FakeGoogle

PROJECT_ID = "withbowwow-bench"
CLIENT_EMAIL = "push-worker@withbowwow-bench.iam.gserviceaccount.com"


def build(port: int, account_path: Path) -> web.Application:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fake = FakeGoogle(public_pem, CLIENT_EMAIL, PROJECT_ID)
    fake.token_uri = f"http://127.0.0.1:{port}/token"
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    account_path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT_ID,
                "private_key_id": "bench-key-1",
                "private_key": private_pem,
                "client_email": CLIENT_EMAIL,
                "client_id": "1",
                "token_uri": fake.token_uri,
            }
        )
    )

    async def stats(_request: web.Request) -> web.Response:
        ok = [s for s in fake.sends if s.status == 200]
        return web.json_response(
            {
                "sends": len(fake.sends),
                "ok": len(ok),
                "first_at": min((s.arrived_at for s in ok), default=None),
                "last_at": max((s.answered_at or 0 for s in ok), default=None),
                "token_requests": fake.token_requests,
            }
        )

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = fake.app()
    app.router.add_get("/stats", stats)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    port = int(sys.argv[1])
    web.run_app(
        build(port, Path(sys.argv[2])), host="127.0.0.1", port=port, access_log=None, print=None
    )


if __name__ == "__main__":
    main()
