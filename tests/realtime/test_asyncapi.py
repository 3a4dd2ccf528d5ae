"""docs/asyncapi.yaml describes the gateway as it is: every message it sends (each frame the
realtime tests receive is checked against it, in conftest.py), what it takes from the app, and
every close code it uses."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest
import redis.asyncio as aioredis

from services.realtime import rooms, walk_together
from services.realtime.protocol import (
    InvalidMessage,
    error_frame,
    hello_frame,
    location_frame,
    parse_location,
    walk_ended_frame,
)
from shared.jsonutil import loads
from shared.walk_events import presence_event
from tests.realtime.conftest import Gateway, Walk, closed_with, next_of_type
from tests.realtime.protocol_spec import (
    CLIENT_LOCATION,
    SERVER_FRAMES,
    SPEC,
    check_server_frame,
    messages,
    problems,
    validator,
)
from tests.realtime.test_replace_and_end import end_walk

USER = str(uuid.uuid4())


def test_spec_is_asyncapi_3_with_one_channel_and_every_message_in_an_operation() -> None:
    assert SPEC["asyncapi"].startswith("3.")
    [channel] = SPEC["channels"].values()
    assert channel["address"] == "/ws/walk-together/{invitation_id}"
    in_operations = [
        m["$ref"].rsplit("/", 1)[1] for o in SPEC["operations"].values() for m in o["messages"]
    ]
    assert sorted(in_operations) == sorted(channel["messages"])


def test_server_messages_are_the_five_the_gateway_sends() -> None:
    assert set(SERVER_FRAMES) == {"hello", "location", "presence", "walk_ended", "error"}


@pytest.mark.parametrize("action", ["send", "receive"])
def test_every_example_is_valid(action: str) -> None:
    for message in messages(action):
        check = validator(message["payload"])
        for example in message["examples"]:
            assert problems(check, example["payload"]) == [], (message["name"], example["name"])


def test_frames_as_the_gateway_builds_them_are_documented() -> None:
    location = parse_location('{"lat": 37.5, "lng": 127.0, "accuracy": 3}')
    sent = location_frame(USER, location)
    partner_last = loads(sent)
    del partner_last["type"]
    frames = [
        sent,
        location_frame(USER, parse_location('{"lat": 1, "lng": 2, "timestamp": 1707750000.5}')),
        presence_event(USER, online=True),
        error_frame("lat: Field required"),
        walk_ended_frame("cancelled"),
    ]
    for partner_online, last in ((True, sent), (False, None)):
        frames.append(
            hello_frame(
                invitation_id=str(uuid.uuid4()),
                user_id=USER,
                partner_id=str(uuid.uuid4()),
                partner_online=partner_online,
                partner_last=last,
                interval_s=5,
            )
        )
    for frame in frames:
        check_server_frame(loads(frame))


def test_an_undocumented_key_or_type_fails_the_check() -> None:
    frame = loads(presence_event(USER, online=False))
    with pytest.raises(AssertionError):
        check_server_frame({**frame, "since": 5})
    with pytest.raises(AssertionError):
        check_server_frame({"type": "typing", "user_id": USER})


@pytest.mark.parametrize(
    "message",
    [
        '{"lat": 37.5, "lng": 127}',
        '{"type": "location", "lat": -90, "lng": 180, "timestamp": 0, "accuracy": 0}',
        '{"lat": 1, "lng": 1, "timestamp": null, "heading": 360, "speed": 0, "battery": 80}',
        '{"lng": 126.9}',
        '{"lat": 91, "lng": 0}',
        '{"lat": 0, "lng": -180.5}',
        '{"lat": "37.5", "lng": 127}',
        '{"lat": true, "lng": 127}',
        '{"lat": null, "lng": 127}',
        '{"lat": 37, "lng": 127, "timestamp": 1707750000000}',
        '{"lat": 37, "lng": 127, "accuracy": -1}',
        '{"lat": 37, "lng": 127, "heading": 400}',
        '{"lat": 37, "lng": 127, "speed": -3}',
        '{"type": "chat", "lat": 37, "lng": 127}',
        "[37, 127]",
    ],
)
def test_the_documented_location_in_is_what_the_gateway_takes(message: str) -> None:
    try:
        parse_location(message)
        taken = True
    except InvalidMessage:
        taken = False
    documented = problems(CLIENT_LOCATION, json.loads(message)) == []
    assert documented == taken, message


def test_every_close_code_the_gateway_uses_is_documented() -> None:
    refusals = {
        v.code for v in vars(walk_together).values() if isinstance(v, walk_together.Refusal)
    }
    used = {*refusals, *rooms.CLOSE_REASONS, 1009}  # 1009: aiohttp's, for a frame over 4 KiB
    [channel] = SPEC["channels"].values()
    assert {int(code) for code in channel["x-close-codes"]} == used


async def test_each_server_message_as_received_is_documented(
    gateways: tuple[Gateway, Gateway], walk: Walk, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    """conftest.py's `receive` checks each of these frames against the document."""
    one, two = gateways
    inviter, hello = await one.join(walk, walk.inviter)
    assert hello["partner_last"] is None
    invitee, _ = await two.join(walk, walk.invitee)
    await next_of_type(inviter, "presence")
    await invitee.send_json({"lat": 37.5, "lng": 127.0, "heading": 10})
    await next_of_type(inviter, "location")
    await inviter.send_str('{"lat": 100, "lng": 0}')
    await next_of_type(inviter, "error")
    again, hello = await one.join(walk, walk.invitee)
    assert hello["partner_last"] is None
    assert await closed_with(invitee) == 4009
    second, hello = await two.join(walk, walk.inviter)
    assert hello["partner_last"] is not None
    assert await closed_with(inviter) == 4009
    await end_walk(db, redis, walk, "finished")
    for ws in (again, second):
        await next_of_type(ws, "walk_ended")
        assert await closed_with(ws) == 4004
