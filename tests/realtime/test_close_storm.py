"""A storm of client closes is torn down, and a storm of handshakes admitted, a bounded number a
loop iteration (services/realtime/turns.py): live sockets are served between the turns, every
closing client still gets its close reply and every walker its hello."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter

import asyncpg
import pytest

from services.realtime.keys import admission_key, rooms_key, teardown_key
from services.realtime.limits import GatewayLimits
from services.realtime.turns import Turns
from shared.settings import Settings
from tests.realtime.conftest import Gateway, create_walk, eventually, next_of_type

PER_TURN = 2
STORM_WALKS = 30


@pytest.fixture
def limits() -> GatewayLimits:
    return dataclasses.replace(
        GatewayLimits(), closes_per_turn=PER_TURN, handshakes_per_turn=PER_TURN
    )


async def test_turns_come_a_bounded_number_an_iteration_in_order() -> None:
    loop = asyncio.get_running_loop()
    teardown = Turns(3)
    iteration = 0

    def count_iterations() -> None:  # once a loop iteration, while the test runs
        nonlocal iteration
        iteration += 1
        if not done.is_set():
            loop.call_soon(count_iterations)

    done = asyncio.Event()
    loop.call_soon(count_iterations)
    turns: list[tuple[int, int]] = []

    async def closer(number: int) -> None:
        await teardown.turn()
        turns.append((number, iteration))

    await asyncio.gather(*(closer(n) for n in range(10)))
    done.set()
    assert [number for number, _ in turns] == list(range(10))
    per_iteration = Counter(at for _, at in turns)
    assert sorted(per_iteration.values()) == [1, 3, 3, 3]
    assert teardown.waiting == 0


async def test_a_cancelled_wait_takes_no_turn() -> None:
    teardown = Turns(1)
    first = asyncio.ensure_future(teardown.turn())
    second = asyncio.ensure_future(teardown.turn())
    await asyncio.sleep(0)  # both wait
    first.cancel()
    await asyncio.wait_for(second, 5)
    assert teardown.waiting == 0


async def test_a_close_storm_leaves_live_sockets_served_and_every_close_answered(
    gateway: Gateway, db: asyncpg.Connection, settings: Settings
) -> None:
    live_walk = await create_walk(db, settings)
    live, _ = await gateway.join(live_walk, live_walk.inviter)
    storm = []
    for _ in range(STORM_WALKS):
        walk = await create_walk(db, settings)
        storm += [(await gateway.join(walk, walker))[0] for walker in (walk.inviter, walk.invitee)]
    teardown = gateway.server.app[teardown_key]
    closing = asyncio.gather(*(ws.close() for ws in storm))
    await asyncio.sleep(0)  # every close frame is written
    await live.send_str("not json")  # answered at once, not after the storm
    await next_of_type(live, "error")
    assert teardown.waiting > 0, "the live socket waited for the whole storm"
    assert all(await closing)
    assert [ws.close_code for ws in storm] == [1000] * len(storm)
    assert gateway.server.app[rooms_key].broker.member_count() == 1
    await live.close()


async def test_a_handshake_storm_takes_turns_and_live_sockets_are_served_between(
    gateway: Gateway, db: asyncpg.Connection, settings: Settings
) -> None:
    live_walk = await create_walk(db, settings)
    live, _ = await gateway.join(live_walk, live_walk.inviter)
    walks = [await create_walk(db, settings) for _ in range(STORM_WALKS)]
    admission = gateway.server.app[admission_key]
    storm = asyncio.gather(
        *(gateway.join(walk, walker) for walk in walks for walker in (walk.inviter, walk.invitee))
    )
    await eventually(lambda: admission.waiting > 0)  # more came than one turn takes
    await live.send_str("not json")  # answered while the storm waits for its turns
    await next_of_type(live, "error")
    joined = await storm
    assert admission.waiting == 0
    assert [hello["type"] for _, hello in joined] == ["hello"] * 2 * STORM_WALKS
    for ws, _ in joined:
        await ws.close()
    await live.close()
