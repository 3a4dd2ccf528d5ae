"""Locations and presence between two walkers on different gateway instances."""

from __future__ import annotations

import uuid

import asyncpg
import redis.asyncio as aioredis

from services.realtime.protocol import LocationIn, location_frame, walk_ended_frame
from services.realtime.rooms import relayed_sender
from shared.settings import Settings
from shared.walk_events import last_location_key, presence_event, replaced_event_prefix
from tests.realtime.conftest import Gateway, Walk, create_walk, next_of_type


async def test_locations_relay_both_ways_across_instances(
    gateways: tuple[Gateway, Gateway], walk: Walk
) -> None:
    one, two = gateways
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, _ = await two.join(walk, walk.invitee)

    await inviter.send_json({"lat": 37.5665, "lng": 126.978, "timestamp": 1707750000})
    got = await next_of_type(invitee, "location")
    assert got == {
        "type": "location",
        "user_id": walk.inviter.id,
        "lat": 37.5665,
        "lng": 126.978,
        "timestamp": 1707750000,
        "accuracy": None,
        "heading": None,
        "speed": None,
    }

    await invitee.send_json(
        {
            "type": "location",
            "lat": -33.86,
            "lng": 151.2,
            "accuracy": 4.5,
            "heading": 90,
            "speed": 1.2,
            "timestamp": 1707750005.5,
            "battery": 80,
        }
    )
    got = await next_of_type(inviter, "location")
    assert got["user_id"] == walk.invitee.id
    assert (got["lat"], got["lng"], got["accuracy"], got["heading"], got["speed"]) == (
        -33.86,
        151.2,
        4.5,
        90,
        1.2,
    )
    assert got["timestamp"] == 1707750005.5 and "battery" not in got
    await inviter.close()
    await invitee.close()


async def test_sender_does_not_get_its_own_location_back(
    gateways: tuple[Gateway, Gateway], walk: Walk
) -> None:
    one, two = gateways
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, _ = await two.join(walk, walk.invitee)
    await inviter.send_json({"lat": 1.0, "lng": 2.0})
    await next_of_type(invitee, "location")
    await invitee.send_json({"lat": 3.0, "lng": 4.0})
    # The first location the inviter sees is the partner's, not an echo of its own.
    got = await next_of_type(inviter, "location")
    assert got["user_id"] == walk.invitee.id and got["lat"] == 3.0
    await inviter.close()
    await invitee.close()


async def test_missing_timestamp_is_filled_by_the_server(gateway: Gateway, walk: Walk) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    invitee, _ = await gateway.join(walk, walk.invitee)
    await inviter.send_json({"lat": 10, "lng": 20})
    got = await next_of_type(invitee, "location")
    assert got["lat"] == 10 and isinstance(got["timestamp"], float) and got["timestamp"] > 1.7e9
    await inviter.close()
    await invitee.close()


async def test_presence_across_instances(gateways: tuple[Gateway, Gateway], walk: Walk) -> None:
    one, two = gateways
    inviter, hello = await one.join(walk, walk.inviter)
    assert hello["partner_online"] is False

    invitee, hello = await two.join(walk, walk.invitee)
    assert hello["partner_online"] is True
    assert await next_of_type(inviter, "presence") == {
        "type": "presence",
        "user_id": walk.invitee.id,
        "online": True,
    }

    await invitee.close()
    assert await next_of_type(inviter, "presence") == {
        "type": "presence",
        "user_id": walk.invitee.id,
        "online": False,
    }
    await inviter.close()


async def test_partner_last_survives_the_partners_reconnect(
    gateways: tuple[Gateway, Gateway], walk: Walk, redis: aioredis.Redis
) -> None:
    one, two = gateways
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, _ = await two.join(walk, walk.invitee)
    await inviter.send_json({"lat": 37.1, "lng": 127.1, "timestamp": 1707750000})
    await next_of_type(invitee, "location")
    await inviter.send_json({"lat": 37.2, "lng": 127.2, "timestamp": 1707750005})
    await next_of_type(invitee, "location")
    await inviter.close()
    await invitee.close()

    # The inviter is gone; the invitee comes back on the other instance and still learns
    # where the inviter was last.
    invitee, hello = await one.join(walk, walk.invitee)
    assert hello["partner_online"] is False
    assert hello["partner_last"] == {
        "user_id": walk.inviter.id,
        "lat": 37.2,
        "lng": 127.2,
        "timestamp": 1707750005,
        "accuracy": None,
        "heading": None,
        "speed": None,
    }
    assert await redis.ttl(last_location_key(walk.id, walk.inviter.id)) > 0
    await invitee.close()


async def test_both_walkers_on_one_instance(gateway: Gateway, walk: Walk) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    invitee, _ = await gateway.join(walk, walk.invitee)
    await invitee.send_json({"lat": 5, "lng": 6})
    assert (await next_of_type(inviter, "location"))["lat"] == 5
    await inviter.close()
    await invitee.close()


async def test_walks_do_not_leak_into_each_other(
    gateways: tuple[Gateway, Gateway], walk: Walk, db: asyncpg.Connection, settings: Settings
) -> None:
    other = await create_walk(db, settings)
    one, two = gateways
    a, _ = await one.join(walk, walk.inviter)
    b, _ = await two.join(walk, walk.invitee)
    c, _ = await one.join(other, other.inviter)
    d, _ = await two.join(other, other.invitee)
    await c.send_json({"lat": 1, "lng": 1})
    assert (await next_of_type(d, "location"))["lat"] == 1
    # The other walk's location was published first, so a leak would reach `b` before this.
    await a.send_json({"lat": 2, "lng": 2})
    assert (await next_of_type(b, "location"))["lat"] == 2
    for ws in (a, b, c, d):
        await ws.close()


def test_listener_reads_the_sender_of_relayed_frames_without_parsing_them() -> None:
    user_id = str(uuid.uuid4())
    location = location_frame(user_id, LocationIn(lat=1.5, lng=2.5))
    assert relayed_sender(location) == (user_id, True)
    assert relayed_sender(presence_event(user_id, online=False)) == (user_id, False)
    assert relayed_sender(replaced_event_prefix(user_id) + b"1}") is None
    assert relayed_sender(walk_ended_frame("finished")) is None
