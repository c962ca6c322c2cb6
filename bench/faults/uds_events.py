"""Where a UDS trigger hears an ECU's messages: inside a virtual ECU, or on the bus.

A trigger that fires on a request of a virtual ECU hears it from the simulator's request tap
(``VirtualEcu.requests``): when the complete request has arrived and before the ECU acts on it.
Its action runs right there, so a power cut "at TransferData block 2" lands before the ECU has
written a byte of block 2 (or answered it), however late a loaded host runs the bus monitor.

The passive bus monitor (tester side) is where everything else is heard: the requests of a real
ECU, which the bench cannot hook, and responses, which are on the bus only once the ECU has sent
them. Both ways the messages are decoded by the monitor's ``Conversation``, so a trigger matches
and describes the same message the same way (``#2 ctr=0x02 off=0x…``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench.errors import UsageError
from bench.monitor import Conversation, UdsEvent
from bench.monitor.decode import Kind

if TYPE_CHECKING:
    from bench.rig import Bench

Listener = Callable[[UdsEvent], None]
Stop = Callable[[], None]


def listen(bench: Bench, ecu: str, listener: Listener, *, before_the_ecu_acts: bool) -> Stop:
    """Call ``listener`` with ``ecu``'s UDS events (requests and final responses); return how to
    stop. ``before_the_ecu_acts``: from a virtual ECU's request tap, when the bench runs ``ecu``
    as one; else, and for a real ECU, from the bus monitor of its bus (a virtual ECU on Ethernet,
    which has no bus, is heard from its tap either way). The monitor is started in
    any case: the UDS transcript of the bus is what the report shows of the fault's moment."""
    bus = bench.config.ecus[ecu].bus
    # either way: the bus's transcript is the report's evidence; an ECU on Ethernet has no bus to hear
    monitor = bench.monitor(bus) if bus is not None else None
    sim = bench.sims.get(ecu)
    if sim is not None and (before_the_ecu_acts or monitor is None):
        tap = _DecodedTap(Conversation(ecu), listener)
        sim.requests.subscribe(tap)
        return lambda: sim.requests.unsubscribe(tap)
    if monitor is None:
        raise UsageError(f"ECU {ecu!r} is on Ethernet (no CAN bus): a UDS trigger hears its messages only inside "
                         "a virtual ECU; for a real one, strike from the DoIP relay (Bench.relay_doip: RelayFault "
                         "with service and nth)")
    monitor.subscribe(listener)
    return lambda: monitor.unsubscribe(listener)


class _DecodedTap:
    """A listener of the simulator's request tap that decodes as the bus monitor does. What is heard
    inside the ECU has no CAN frame: ``time`` and ``can_time`` are both when it was heard."""

    def __init__(self, conversation: Conversation, listener: Listener) -> None:
        self._conversation = conversation
        self._listener = listener

    def request(self, payload: bytes, functional: bool) -> None:
        self._heard(payload, "request", functional)

    def answered(self, payload: bytes) -> None:
        self._heard(payload, "response", False)

    def _heard(self, payload: bytes, kind: Kind, functional: bool) -> None:
        now = time.monotonic()
        self._listener(self._conversation.event(payload, kind, functional=functional, time=now, can_time=now))
