"""A socket whose session ended is closed with 4001 (CONTRACT section 4, "4001 while open")."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from services.realtime.invitation_loader import InvitationLoader
from shared.coalesced import CoalescedLookup
from shared.settings import Settings
from tests.realtime.conftest import Gateway, Walk, closed_with, next_of_type
from tests.support import Api, make_settings


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    # A quick database read, so the test without a publication does not wait long.
    return make_settings(database_url, redis_url, session_sync_interval_s=0.05)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_sign_out_closes_the_socket_4001_on_another_gateway(
    gateways: tuple[Gateway, Gateway], walk: Walk, api: Api
) -> None:
    one, two = gateways
    inviter, _ = await two.join(walk, walk.inviter)
    invitee, _ = await one.join(walk, walk.invitee)
    await api.call("POST", "/auth/logout-all", headers=bearer(walk.inviter.token), expect=204)
    assert await closed_with(inviter) == 4001
    # The partner's socket stays open; it hears that the signed-out walker left.
    presence = await next_of_type(invitee, "presence")
    assert presence == {"type": "presence", "user_id": walk.inviter.id, "online": False}
    await invitee.send_json({"lat": 37.5, "lng": 127.0})
    assert not invitee.closed


async def test_a_token_of_an_ended_session_is_refused_4001(
    gateway: Gateway, walk: Walk, api: Api
) -> None:
    await api.call("POST", "/auth/logout-all", headers=bearer(walk.inviter.token), expect=204)
    ws = await gateway.connect(walk.id, walk.inviter.token)
    assert await closed_with(ws) == 4001
    _, hello = await gateway.join(walk, walk.invitee)  # the other walker's session goes on
    assert hello["type"] == "hello"


async def test_an_end_never_published_is_read_from_the_database(
    gateway: Gateway, walk: Walk, db: asyncpg.Connection
) -> None:
    ws, _ = await gateway.join(walk, walk.invitee)
    # As if the API had crashed between its commit and its publication.
    await db.execute("DELETE FROM sessions WHERE id = $1", uuid.UUID(walk.invitee.session_id))
    assert await closed_with(ws) == 4001


async def test_a_session_ending_during_the_handshake_still_closes_4001(
    gateway: Gateway, walk: Walk, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end is announced after the token was checked and before the socket joined its walk,
    so no close could find it: the join looks again."""
    real_lookup = CoalescedLookup.get

    async def lookup_then_sign_out(loader: InvitationLoader, invitation_id: uuid.UUID) -> Any:
        invitation = await real_lookup(loader, invitation_id)
        await api.call("POST", "/auth/logout-all", headers=bearer(walk.inviter.token), expect=204)
        return invitation

    monkeypatch.setattr(CoalescedLookup, "get", lookup_then_sign_out)
    ws = await gateway.connect(walk.id, walk.inviter.token)
    assert await closed_with(ws) == 4001
