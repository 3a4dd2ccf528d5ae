"""Locations on their way to Redis: the newest one of each walker, never a queue of them.

A location waits here from the moment its socket's handler takes it until the next batch of
the process's Redis writer goes out (redis_batch.py): within a loop iteration while the gateway
keeps up. When it does not (the previous batch is still in flight, or the gateway is shedding,
below), a newer location of the same walker replaces the waiting one and the older one is
counted `superseded`: Redis, the pub/sub readers of every gateway and the partner get at most one
location a walker a batch, however fast walkers send and however far behind the gateway is.

Shedding. Each pub/sub link measures how late its own probe comes back (broker.py); while that
lag is over `SHED_LAG_S`, the outbox lets its slots go only once a `hold_s` that doubles with
every late probe (up to `MAX_HOLD_S`) and halves with every timely one, so each walker
publishes at most once a `hold_s` and the gateways' readers catch up long before Redis would
drop one for its output buffer (`client-output-buffer-limit pubsub`, 8 MB for a minute or
32 MB at once by default). While it sheds, a walker's message waits here as the text it came
in: it is parsed and validated only if it is still the newest when its batch goes
(`prepare`), so what is superseded costs no parsing at all. (Its mistake, if it was one, is then
answered late or, if superseded, not at all: the one way a shedding gateway differs.)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from services.realtime.connection import Connection
from services.realtime.metrics import counters
from shared.cluster import PubSubCommands
from shared.resp import Command
from shared.walk_events import last_location_key

# Probe lag from which the gateway sheds, and how long a slot may be held at most then. Not
# less: a busy gateway's probe is a few loop iterations late anyway, and holding locations
# then only ages them (at 20,000 offered/s, a 0.25 s threshold cost 10% of the delivered rate
# and quadrupled the newest age's median, bench/RESULTS.md); past 1 s the pub/sub path itself is
# behind, the backlog Redis would drop the reader for.
SHED_LAG_S = 1.0
FIRST_HOLD_S = 0.25
MAX_HOLD_S = 1.0


class Outbox:
    def __init__(
        self,
        pubsub: PubSubCommands,
        last_location_ttl_s: int,
        prepare: Callable[[Connection, str], bytes | None],
    ) -> None:
        self._publish = pubsub.publish
        self._ttl_s = last_location_ttl_s
        # A client's text to the partner's frame, or None once its mistake has been answered.
        self._prepare = prepare
        self._slots: dict[Connection, bytes | str] = {}
        self.hold_s = 0.0
        self._released_at = 0.0

    def __len__(self) -> int:
        return len(self._slots)

    def put(self, sender: Connection, location: bytes | str) -> None:
        """Keep the sender's newest location (a frame, or while shedding its text) until the
        next batch takes it."""
        counters.superseded += sender in self._slots
        self._slots[sender] = location

    def release_in(self, now: float) -> float:
        """Seconds until the slots may go (0: now)."""
        return max(0.0, self._released_at + self.hold_s - now)

    def take(self) -> list[Command]:
        """PUBLISH and the `hello`'s last-location SET of every walker's newest location, or
        nothing while shedding holds them."""
        now = time.monotonic()
        if not self._slots or self.release_in(now) > 0:
            return []
        self._released_at = now
        slots, self._slots = self._slots, {}
        commands: list[Command] = []
        for sender, location in slots.items():
            frame = location if isinstance(location, bytes) else self._prepare(sender, location)
            if frame is None:
                counters.received -= 1  # counted when it came, found not to be a location
                continue
            commands.append((self._publish, sender.channel, frame))
            commands.append(
                (
                    "SET",
                    last_location_key(sender.invitation_id, sender.user_id),
                    frame,
                    "EX",
                    self._ttl_s,
                )
            )
        return commands

    def stop_holding(self) -> None:
        """The process is stopping: what waits goes in the last batch."""
        self.hold_s = 0.0

    def observe_lag(self, lag_s: float) -> None:
        """A probe came back `lag_s` after it was sent: hold longer while late, less once not."""
        if lag_s > SHED_LAG_S:
            if self.hold_s == 0.0:
                counters.shedding_episodes += 1
            self.hold_s = min(MAX_HOLD_S, max(FIRST_HOLD_S, self.hold_s * 2))
        elif self.hold_s:
            self.hold_s = self.hold_s / 2 if self.hold_s > FIRST_HOLD_S else 0.0
