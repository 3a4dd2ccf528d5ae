"""Dead peers: one sweep pings silent sockets and cuts off those that do not answer
(services/realtime/heartbeat.py); a socket that answers stays, and a client's ping is answered."""

from __future__ import annotations

import dataclasses

import aiohttp
import pytest
from aiohttp import WSMsgType

from services.realtime.heartbeat import CUT_OFF_AT, PING_AT
from services.realtime.keys import rooms_key
from services.realtime.limits import GatewayLimits
from tests.realtime.conftest import Gateway, Walk, next_of_type

HEARTBEAT_S = 0.3
PONGS = 5


@pytest.fixture
def limits() -> GatewayLimits:
    return dataclasses.replace(GatewayLimits(), heartbeat_s=HEARTBEAT_S)


async def connect_without_autoping(gateway: Gateway, walk: Walk) -> aiohttp.ClientWebSocketResponse:
    ws = await gateway.session.ws_connect(gateway.url(walk.id, walk.invitee.token), autoping=False)
    await next_of_type(ws, "hello")
    return ws


async def next_control(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    """The next frame that is not a text message (those the partner's presence brings)."""
    while True:
        message = await ws.receive(timeout=10)
        if message.type is not WSMsgType.TEXT:
            return message


async def test_a_silent_socket_that_answers_pings_stays_open(gateway: Gateway, walk: Walk) -> None:
    ws = await connect_without_autoping(gateway, walk)
    broker = gateway.server.app[rooms_key].broker
    for _ in range(PONGS):  # each after more silence than a cut-off would allow
        message = await next_control(ws)
        assert message.type is WSMsgType.PING
        await ws.pong(message.data)
    assert PONGS * PING_AT > CUT_OFF_AT
    assert not ws.closed
    assert broker.member_count() == 1
    await ws.close()


async def test_a_socket_that_does_not_answer_is_cut_off(gateway: Gateway, walk: Walk) -> None:
    partner, _ = await gateway.join(walk, walk.inviter)  # answers pings while it is read
    silent = await connect_without_autoping(gateway, walk)
    assert (await next_control(silent)).type is WSMsgType.PING
    while True:  # reading the partner answers its own pings meanwhile
        presence = await next_of_type(partner, "presence")
        if not presence["online"]:
            break
    assert presence["user_id"] == walk.invitee.id
    assert (await next_control(silent)).type in (WSMsgType.CLOSED, WSMsgType.ERROR)
    assert gateway.server.app[rooms_key].broker.member_count() == 1
    await partner.close()


async def test_a_clients_ping_gets_its_pong(gateway: Gateway, walk: Walk) -> None:
    ws = await connect_without_autoping(gateway, walk)
    await ws.ping(b"are you there")
    while True:
        message = await next_control(ws)
        if message.type is WSMsgType.PONG:
            break
        assert message.type is WSMsgType.PING, message  # the sweep's own, if it came first
    assert message.data == b"are you there"
    await ws.close()
