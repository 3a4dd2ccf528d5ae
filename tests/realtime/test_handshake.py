"""The upgrade is accepted, then checked in the contract's order, each failure its close code."""

from __future__ import annotations

import uuid

import asyncpg
import jwt
import pytest

from services.realtime.keys import rooms_key
from shared.settings import Settings
from shared.tokens import issue_token
from tests.realtime.conftest import Gateway, Walk, closed_with, create_user, create_walk


async def test_missing_token_is_closed_4001(gateway: Gateway, walk: Walk) -> None:
    ws = await gateway.connect(walk.id)
    assert await closed_with(ws) == 4001


def enormous_exp_token(key: str, user_id: str) -> str:
    """Validly signed, with an `exp` past any date a platform can hold (issue 20)."""
    claims = {"sub": user_id, "sid": str(uuid.uuid4()), "jti": str(uuid.uuid4())}
    return jwt.encode({**claims, "typ": "access", "exp": 10**20}, key, algorithm="HS256")


@pytest.mark.parametrize("kind", ["garbage", "expired", "refresh", "other_key", "enormous_exp"])
async def test_bad_token_is_closed_4001(
    gateway: Gateway, walk: Walk, settings: Settings, kind: str
) -> None:
    user = uuid.UUID(walk.inviter.id)
    sid = uuid.uuid4()
    token = {
        "garbage": lambda: "not-a-jwt",
        "expired": lambda: issue_token(settings.jwt_key, user, "access", -10, session_id=sid)[0],
        "refresh": lambda: issue_token(settings.jwt_key, user, "refresh", 900, session_id=sid)[0],
        "other_key": lambda: issue_token("x" * 48, user, "access", 900, session_id=sid)[0],
        "enormous_exp": lambda: enormous_exp_token(settings.jwt_key, walk.inviter.id),
    }[kind]()
    ws = await gateway.connect(walk.id, token)
    assert await closed_with(ws) == 4001


async def test_token_checked_before_invitation(gateway: Gateway) -> None:
    ws = await gateway.connect(str(uuid.uuid4()), "not-a-jwt")
    assert await closed_with(ws) == 4001


async def test_bearer_header_is_accepted(gateway: Gateway, walk: Walk) -> None:
    ws = await gateway.connect(walk.id, headers={"Authorization": f"Bearer {walk.inviter.token}"})
    hello = await ws.receive_json(timeout=10)
    assert hello["type"] == "hello" and hello["user_id"] == walk.inviter.id
    await ws.close()


@pytest.mark.parametrize("invitation", ["unknown", "not-a-uuid"])
async def test_missing_invitation_is_closed_4002(
    gateway: Gateway, walk: Walk, invitation: str
) -> None:
    invitation_id = str(uuid.uuid4()) if invitation == "unknown" else invitation
    ws = await gateway.connect(invitation_id, walk.inviter.token)
    assert await closed_with(ws) == 4002


@pytest.mark.parametrize("status", ["pending", "declined", "finished", "cancelled", "expired"])
async def test_invitation_not_accepted_is_closed_4002(
    gateway: Gateway, db: asyncpg.Connection, settings: Settings, status: str
) -> None:
    walk = await create_walk(db, settings, status=status)
    ws = await gateway.connect(walk.id, walk.invitee.token)
    assert await closed_with(ws) == 4002


@pytest.mark.parametrize("blocker", ["inviter", "invitee"])
async def test_a_walk_across_a_block_is_closed_4002_for_both(
    gateway: Gateway, walk: Walk, db: asyncpg.Connection, blocker: str
) -> None:
    """An accepted walk a block did not end (the invitation raced the block, issue 20)."""
    a, b = (walk.inviter, walk.invitee) if blocker == "inviter" else (walk.invitee, walk.inviter)
    await db.execute(
        "INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)",
        uuid.UUID(a.id),
        uuid.UUID(b.id),
    )
    for walker in (walk.inviter, walk.invitee):
        ws = await gateway.connect(walk.id, walker.token)
        assert await closed_with(ws) == 4002


async def test_invitation_checked_before_participant(
    gateway: Gateway, db: asyncpg.Connection, settings: Settings
) -> None:
    walk = await create_walk(db, settings, status="pending")
    stranger = await create_user(db, settings)
    ws = await gateway.connect(walk.id, stranger.token)
    assert await closed_with(ws) == 4002


async def test_non_participant_is_closed_4003(
    gateway: Gateway, walk: Walk, db: asyncpg.Connection, settings: Settings
) -> None:
    stranger = await create_user(db, settings)
    ws = await gateway.connect(walk.id, stranger.token)
    assert await closed_with(ws) == 4003


async def test_hello_names_both_walkers_and_the_interval(gateway: Gateway, walk: Walk) -> None:
    ws, hello = await gateway.join(walk, walk.invitee)
    assert hello == {
        "type": "hello",
        "invitation_id": walk.id,
        "user_id": walk.invitee.id,
        "partner_id": walk.inviter.id,
        "partner_online": False,
        "partner_last": None,
        "interval_s": 5,
    }
    await ws.close()


async def test_plain_http_request_gets_the_error_shape(gateway: Gateway, walk: Walk) -> None:
    resp = await gateway.session.get(gateway.url(walk.id, walk.inviter.token))
    assert resp.status == 400
    body = await resp.json()
    assert body["error"]["code"] == "bad_request"


async def test_gateway_answers_healthz(gateway: Gateway) -> None:
    resp = await gateway.session.get(gateway.server.make_url("/healthz"))
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_the_response_keeps_no_headers_once_the_handshake_is_answered(
    gateway: Gateway, walk: Walk
) -> None:
    """direct_ws.py empties them (they stay with the socket otherwise); the client got them."""
    ws = await gateway.connect(walk.id, walk.inviter.token)
    assert ws._response is not None
    answered = ws._response.headers
    assert answered["Upgrade"].lower() == "websocket" and "Sec-WebSocket-Accept" in answered
    assert (await ws.receive_json())["type"] == "hello"
    (connection,) = gateway.server.app[rooms_key].broker.all_members()
    assert len(connection.ws.headers) == 0
    await ws.close()
