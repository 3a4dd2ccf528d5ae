"""The gateway's half of the location-access ledger (CONTRACT section 3): every location written
to a partner is counted, both ways: the first of each walk and direction is recorded before it is
relayed, the later counts reach PostgreSQL in batches, within 10 s of the relay and when the
gateway stops; `GET /me/location-log` then shows them."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import aiohttp
import asyncpg
from aiohttp.test_utils import TestServer

from services.realtime.app import create_app
from services.realtime.ledger import LocationLedger
from services.realtime.limits import GatewayLimits
from shared.settings import Settings
from tests.realtime.conftest import Gateway, Walk, eventually, next_of_type
from tests.support import Api


async def entries(db: asyncpg.Connection, walk: Walk) -> set[tuple[str, str, str | None, int]]:
    """(owner, direction, partner, count) of the walk's ledger rows."""
    rows = await db.fetch(
        "SELECT user_id, direction, partner_id, count FROM location_access_log"
        " WHERE invitation_id = $1",
        uuid.UUID(walk.id),
    )
    return {
        (str(r["user_id"]), r["direction"], r["partner_id"] and str(r["partner_id"]), r["count"])
        for r in rows
    }


async def one_relay(
    one: Gateway, two: Gateway, walk: Walk
) -> tuple[aiohttp.ClientWebSocketResponse, aiohttp.ClientWebSocketResponse]:
    """Both walkers connected (the inviter to `one`), and one inviter location relayed."""
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, _ = await two.join(walk, walk.invitee)
    await inviter.send_json({"lat": 37.5, "lng": 127.0})
    await next_of_type(invitee, "location")
    return inviter, invitee


async def test_relays_are_recorded_both_ways_within_10_s_and_served(
    gateways: tuple[Gateway, Gateway], walk: Walk, db: asyncpg.Connection, api: Api
) -> None:
    inviter, invitee = await one_relay(*gateways, walk)
    await invitee.send_json({"lat": 37.6, "lng": 127.1})
    await next_of_type(inviter, "location")

    a, b = walk.inviter.id, walk.invitee.id
    expected = {
        (a, "provided", b, 1),
        (b, "received", a, 1),
        (b, "provided", a, 1),
        (a, "received", b, 1),
    }

    async def recorded() -> bool:
        return await entries(db, walk) == expected

    # `eventually` gives up after 10 s: the contract's bound for an entry to be durable.
    await eventually(recorded)

    body = await api.call(
        "GET", "/me/location-log", headers={"Authorization": f"Bearer {walk.inviter.token}"}
    )
    assert sorted((e["direction"], e["partner"]["id"], e["count"]) for e in body["items"]) == [
        ("provided", b, 1),
        ("received", b, 1),
    ]
    assert all(e["invitation_id"] == walk.id for e in body["items"])
    assert not {"lat", "lng"} & {key for e in body["items"] for key in e}
    await inviter.close()
    await invitee.close()


async def test_only_what_reached_the_partner_counts(
    gateways: tuple[Gateway, Gateway], walk: Walk, db: asyncpg.Connection
) -> None:
    one, two = gateways
    sender, _ = await one.join(walk, walk.inviter)
    receiver, _ = await two.join(walk, walk.invitee)
    for i in range(10):
        await sender.send_json({"lat": 1, "lng": 1, "timestamp": i})
    # At 2 a second, the partner gets the first and then the newest, not all ten.
    delivered = [(await next_of_type(receiver, "location"))["timestamp"]]
    while delivered[-1] != 9:
        delivered.append((await next_of_type(receiver, "location"))["timestamp"])
    assert len(delivered) < 10
    a, b = walk.inviter.id, walk.invitee.id
    n = len(delivered)

    async def recorded() -> bool:
        return await entries(db, walk) == {(a, "provided", b, n), (b, "received", a, n)}

    await eventually(recorded)
    await sender.close()
    await receiver.close()


async def test_the_first_relay_is_recorded_before_it_is_made_and_later_counts_at_the_stop(
    settings: Settings, walk: Walk, db: asyncpg.Connection, session: aiohttp.ClientSession
) -> None:
    # Never flushed on the clock in this test: only the first relay and the stop write.
    limits = dataclasses.replace(GatewayLimits(), ledger_flush_s=3600)
    server = TestServer(create_app(settings, limits))
    await server.start_server()
    gateway = Gateway(server, session)
    a, b = walk.inviter.id, walk.invitee.id
    try:
        inviter, invitee = await one_relay(gateway, gateway, walk)
        # No wait: the entry was durable before the partner was sent the location.
        assert await entries(db, walk) == {(a, "provided", b, 1), (b, "received", a, 1)}
        await inviter.send_json({"lat": 37.6, "lng": 127.0})
        await next_of_type(invitee, "location")
        assert await entries(db, walk) == {(a, "provided", b, 1), (b, "received", a, 1)}
    finally:
        await server.close()
    assert await entries(db, walk) == {(a, "provided", b, 2), (b, "received", a, 2)}


async def test_a_deleted_partner_is_recorded_as_no_one(
    gateways: tuple[Gateway, Gateway], walk: Walk, db: asyncpg.Connection
) -> None:
    inviter, invitee = await one_relay(*gateways, walk)
    # The sender's account goes before the gateway writes: only the receiver's row remains.
    await db.execute("DELETE FROM users WHERE id = $1", uuid.UUID(walk.inviter.id))
    expected: set[Any] = {(walk.invitee.id, "received", None, 1)}

    async def recorded() -> bool:
        return await entries(db, walk) == expected

    await eventually(recorded)
    await inviter.close()
    await invitee.close()


@dataclasses.dataclass
class FirstRelay:
    connection_id: str
    invitation_id: str
    user_id: str
    partner_id: str
    durable: bool | None = None

    def ledgered(self, durable: bool) -> None:
        self.durable = durable


async def test_entries_go_a_slice_of_rows_a_statement_and_add_up(
    settings: Settings, walk: Walk, db: asyncpg.Connection
) -> None:
    """A process's tallies and first relays are written in several statements (so the loop
    serves its sockets between them), and nothing is lost or counted twice across them."""
    a, b = walk.inviter.id, walk.invitee.id
    async with asyncpg.create_pool(settings.database_url, min_size=1, max_size=1) as pool:
        ledger = LocationLedger(pool, flush_s=3600, rows_a_statement=2)
        for n in range(5):  # five sockets of the invitee were each written one inviter location
            ledger.count(f"socket-{n}", walk.id, b, a)
        await ledger.flush()
        relays = [FirstRelay(f"first-{n}", walk.id, a, b) for n in range(3)]
        for relay in relays:
            ledger.first(relay)
        await ledger.write_firsts()
    assert [relay.durable for relay in relays] == [True, True, True]
    assert await entries(db, walk) == {
        (a, "provided", b, 5),
        (b, "received", a, 5),
        (b, "provided", a, 3),
        (a, "received", b, 3),
    }
