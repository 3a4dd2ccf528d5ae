"""Bad input gets `invalid_message` and the socket stays open; abuse is closed 4008 or 1009."""

from __future__ import annotations

import pytest

from services.realtime.limits import GatewayLimits
from tests.realtime.conftest import Gateway, Walk, closed_with, next_of_type


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ('{"lng": 126.9}', "lat"),
        ('{"lat": 91, "lng": 0}', "lat"),
        ('{"lat": 0, "lng": -180.5}', "lng"),
        ('{"lat": "37.5", "lng": 127}', "lat"),
        ('{"lat": NaN, "lng": 127}', "lat"),
        ('{"lat": 1e999, "lng": 127}', "lat"),
        ('{"lat": 37, "lng": 127, "timestamp": 1707750000000}', "timestamp"),
        ('{"lat": 37, "lng": 127, "accuracy": -1}', "accuracy"),
        ('{"lat": 37, "lng": 127, "heading": 400}', "heading"),
        ('{"lat": 37, "lng": 127, "speed": -3}', "speed"),
        ('{"type": "chat", "lat": 37, "lng": 127}', "type"),
        ("[37, 127]", "message"),
        ("not json", "message"),
    ],
)
async def test_malformed_message_gets_an_error_and_the_socket_stays_open(
    gateway: Gateway, walk: Walk, message: str, field: str
) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    invitee, _ = await gateway.join(walk, walk.invitee)
    await inviter.send_str(message)
    error = await next_of_type(inviter, "error")
    assert error["code"] == "invalid_message"
    assert field in error["detail"]
    # Still open, and nothing reached the partner but the valid location that follows.
    await inviter.send_json({"lat": 1, "lng": 2})
    got = await next_of_type(invitee, "location")
    assert (got["lat"], got["lng"]) == (1, 2)
    await inviter.close()
    await invitee.close()


async def test_binary_frame_is_an_invalid_message(gateway: Gateway, walk: Walk) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    await inviter.send_bytes(b'{"lat": 1, "lng": 2}')
    error = await next_of_type(inviter, "error")
    assert error["code"] == "invalid_message" and "text" in error["detail"]
    await inviter.close()


async def test_message_over_4_kib_is_closed_1009(gateway: Gateway, walk: Walk) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    await inviter.send_str('{"lat": 1, "lng": 2, "pad": "' + "x" * 4100 + '"}')
    assert await closed_with(inviter) == 1009


async def test_message_of_exactly_4_kib_is_accepted(gateway: Gateway, walk: Walk) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    invitee, _ = await gateway.join(walk, walk.invitee)
    head = '{"lat": 1, "lng": 2, "pad": "'
    await inviter.send_str(head + "x" * (4096 - len(head) - 2) + '"}')
    assert (await next_of_type(invitee, "location"))["lat"] == 1
    await inviter.close()
    await invitee.close()


async def test_repeated_invalid_messages_are_closed_4008(gateway: Gateway, walk: Walk) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    for _ in range(GatewayLimits().invalid_in_a_row):
        await inviter.send_str("{}")
    assert await closed_with(inviter) == 4008


async def test_a_valid_message_resets_the_invalid_count(gateway: Gateway, walk: Walk) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    for _ in range(3):
        for _ in range(GatewayLimits().invalid_in_a_row - 1):
            await inviter.send_str("{}")
            await next_of_type(inviter, "error")
        await inviter.send_json({"lat": 1, "lng": 1})
    await inviter.send_str("{}")
    assert (await next_of_type(inviter, "error"))["code"] == "invalid_message"
    await inviter.close()


async def test_flooding_is_closed_4008(gateway: Gateway, walk: Walk) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    for i in range(200):
        await inviter.send_json({"lat": 1, "lng": 1, "timestamp": i})
    assert await closed_with(inviter) == 4008


async def test_burst_within_the_bucket_is_taken_and_its_newest_relayed(
    gateway: Gateway, walk: Walk
) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    invitee, _ = await gateway.join(walk, walk.invitee)
    burst = int(GatewayLimits().burst)
    for i in range(burst):
        await inviter.send_json({"lat": 1, "lng": 1, "timestamp": i})
    # The partner gets 2 a second at most (test_per_person_limits.py), each the newest so far:
    # what came while an older one waited for its turn (outbox.py, connection.py) is skipped.
    received = [(await next_of_type(invitee, "location"))["timestamp"]]
    while received[-1] != burst - 1:
        received.append((await next_of_type(invitee, "location"))["timestamp"])
    assert received == sorted(set(received)) and len(received) < burst
    assert not inviter.closed
    await inviter.close()
    await invitee.close()
