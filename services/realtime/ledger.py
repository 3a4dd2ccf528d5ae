"""The gateway's half of the location-access ledger (위치정보법 §16②, CONTRACT section 3).

The first location a socket is to be written of its partner waits for its entry: `first` writes
it (a `received` row for the socket's user and a `provided` row for the partner, count 1) at
once, several sockets' in a statement, and only then is the location written (connection.py).
So a relay is never made without its entry, even if the gateway is killed the next moment
(issue 20: a SIGKILL lost up to 5 s of entries). Should the write fail (PostgreSQL down), the
relay goes ahead and its count waits in memory with the others.

Every later location is counted here, in memory: a dict lookup and a clock read, never a query.
Every `ledger_flush_s` (and once more when the gateway stops) what was counted meanwhile is
added to PostgreSQL's `location_access_log`, `ROWS_A_STATEMENT` sockets a statement: for each
walk, with the first and last time and how many, never the coordinates. A write that fails
keeps its counts for the next one. The API serves and prunes the rows
(services/api/together/location_log.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from typing import Any, Protocol

import asyncpg

log = logging.getLogger(__name__)

# One row in per receiving socket, two out: the receiver's `received` and the sender's
# `provided`. Ids go as text and PostgreSQL casts them (no Python UUID per row). Owners that no
# longer exist are skipped (their rows went with the account); a partner that no longer exists
# is named by no one. Counts of several sockets of one person add up.
UPSERT = """
INSERT INTO location_access_log AS l
       (user_id, invitation_id, direction, partner_id, first_at, last_at, count)
SELECT u.id, b.invitation_id, d.direction, p.id,
       to_timestamp(min(b.first_at)), to_timestamp(max(b.last_at)), sum(b.count)
  FROM unnest($1::text[]::uuid[], $2::text[]::uuid[], $3::text[]::uuid[], $4::float8[],
              $5::float8[], $6::bigint[])
       AS b (invitation_id, receiver, sender, first_at, last_at, count)
 CROSS JOIN LATERAL (VALUES ('received', b.receiver, b.sender), ('provided', b.sender, b.receiver))
       AS d (direction, owner, partner)
  JOIN users u ON u.id = d.owner
  LEFT JOIN users p ON p.id = d.partner
 GROUP BY u.id, b.invitation_id, d.direction, p.id
    ON CONFLICT (user_id, invitation_id, direction) DO UPDATE
   SET first_at = least(l.first_at, EXCLUDED.first_at),
       last_at = greatest(l.last_at, EXCLUDED.last_at),
       count = l.count + EXCLUDED.count
"""

# Rows a statement. asyncpg encodes an array parameter element by element, with an isinstance
# check each, in one go: a whole process's 20,000 tallies in one statement held the event loop
# for tens of milliseconds every flush, which every socket's latency felt (bench/RESULTS.md).
# In slices, the loop serves the sockets between statements.
ROWS_A_STATEMENT = 1000

# Per receiving socket: [invitation id, receiver, sender, first relay, last relay, count].
Tally = list[Any]
FIRST, LAST, COUNT = 3, 4, 5


class FirstRelay(Protocol):
    """A socket whose first partner location waits for its entry (connection.py)."""

    connection_id: str
    invitation_id: str
    user_id: str
    partner_id: str

    def ledgered(self, durable: bool) -> None: ...


class LocationLedger:
    def __init__(
        self, pool: asyncpg.Pool, flush_s: float, rows_a_statement: int = ROWS_A_STATEMENT
    ) -> None:
        self._pool = pool
        self._flush_s = flush_s
        self._rows_a_statement = rows_a_statement
        self._tallies: dict[str, Tally] = {}
        self._firsts: list[FirstRelay] = []
        self._wakeup = asyncio.Event()
        self._stopping = False

    def first(self, relay: FirstRelay) -> None:
        """Write the entry of `relay`'s first location now; `relay.ledgered` says when."""
        self._firsts.append(relay)
        self._wakeup.set()

    def count(self, connection_id: str, invitation_id: str, receiver: str, sender: str) -> None:
        """One of `sender`'s locations was written to `receiver`'s socket."""
        now = time.time()
        tally = self._tallies.get(connection_id)
        if tally is None:
            self._tallies[connection_id] = [invitation_id, receiver, sender, now, now, 1]
        else:
            tally[LAST] = now
            tally[COUNT] += 1

    async def run(self) -> None:
        """Until `stop()`: first relays' entries at once, the counts every `flush_s`, and once
        more at the stop."""
        loop = asyncio.get_running_loop()
        flush_at = loop.time() + self._flush_s
        while True:
            with suppress(TimeoutError):
                async with asyncio.timeout_at(flush_at):
                    await self._wakeup.wait()
            self._wakeup.clear()
            await self.write_firsts()
            if self._stopping or loop.time() >= flush_at:
                await self.flush()
                flush_at = loop.time() + self._flush_s
            if self._stopping and not self._firsts:
                return

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def write_firsts(self) -> None:
        """The entries of the first relays asked for since the last call, a slice a statement;
        each relay is told, durable or not (then it is counted with the others)."""
        firsts, self._firsts = self._firsts, []
        now = time.time()
        durable = True
        for start in range(0, len(firsts), self._rows_a_statement):
            chunk = firsts[start : start + self._rows_a_statement]
            if durable:  # after a failed write the rest are relayed without trying again
                try:
                    await self._upsert(
                        [(r.invitation_id, r.user_id, r.partner_id, now, now, 1) for r in chunk]
                    )
                except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
                    log.warning(
                        "location ledger entry not written (%s); relayed anyway",
                        type(exc).__name__,
                    )
                    durable = False
            for relay in chunk:
                relay.ledgered(durable)

    async def flush(self) -> None:
        tallies, self._tallies = self._tallies, {}
        items = list(tallies.items())
        for start in range(0, len(items), self._rows_a_statement):
            try:
                await self._upsert([t for _, t in items[start : start + self._rows_a_statement]])
            except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
                log.warning(
                    "location ledger write failed (%s); kept for the next", type(exc).__name__
                )
                self._keep(dict(items[start:]))
                return

    async def _upsert(self, rows: list[Any]) -> None:
        columns = [list(column) for column in zip(*rows, strict=True)]
        await self._pool.execute(UPSERT, *columns)

    def _keep(self, tallies: dict[str, Tally]) -> None:
        """Put counts that could not be written back, merged with what came meanwhile."""
        for connection_id, old in tallies.items():
            new = self._tallies.get(connection_id)
            if new is None:
                self._tallies[connection_id] = old
            else:
                new[FIRST] = old[FIRST]
                new[COUNT] += old[COUNT]
