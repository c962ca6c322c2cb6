"""Bind triggers to actions: ``faults.when(uds.transfer_data(block=37)).power_cut(ecu, off_for=2.0)``.

Actions: power cut (for a while, or until the test turns power on), brown-out (a voltage dip
for a while), and the gateway's network faults on the ECU's frames — drop, delay, corrupt,
duplicate, reorder, partition, bus-off; and over DoIP the TCP relay's faults (reset, stall,
half-open, delay) and a reboot of the virtual DoIP gateway. Each armed binding returns an ``Injection`` that says
whether and when it fired; every firing is written on the ``FaultTimeline``.

``close()`` disarms what has not fired, cancels pending restorations, clears the gateways and relays and
brings every supply back to nominal and on, so one test's faults never leak into the next.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.errors import UsageError
from bench.faults.timeline import FaultTimeline, InjectionRecord
from bench.faults.triggers import Disarm, Trigger
from bench.transport.doip_link import nack_meaning

if TYPE_CHECKING:
    import can

    from bench.ethernet import DoipRelay
    from bench.gateway import Direction, Gateway
    from bench.rig import Bench, EcuHandle


@dataclass
class Injection:
    trigger: str
    action: str
    target: str
    fired: threading.Event = field(default_factory=threading.Event)
    record: InjectionRecord | None = None
    error: BaseException | None = None
    """What the action raised when it fired (a bench fault, e.g. a supply not answering)."""

    def wait(self, timeout: float) -> bool:
        return self.fired.wait(timeout)


class _Now(Trigger):
    description = "now"

    def arm(self, bench: Bench, ecu: EcuHandle, fire: Callable[[str], None]) -> Disarm:
        fire("armed")
        return lambda: None


class FaultInjector:
    def __init__(self, bench: Bench, timeline: FaultTimeline | None = None) -> None:
        self.bench = bench
        self.timeline = timeline or FaultTimeline()
        self.injections: list[Injection] = []
        self._disarms: list[Disarm] = []
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()

    def when(self, trigger: Trigger) -> Arming:
        return Arming(self, trigger)

    def now(self) -> Arming:
        return Arming(self, _Now())

    def later(self, seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` after ``seconds`` (restoring power, ending a dip); cancelled by close()."""
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        with self._lock:
            self._timers.append(timer)
        timer.start()

    def bind(self, trigger: Trigger, ecu: EcuHandle, action: str, act: Callable[[], str]) -> Injection:
        injection = Injection(str(trigger), action, ecu.name)

        def fire(what: str) -> None:
            try:
                detail = act()
            except BaseException as exc:  # noqa: BLE001 - recorded on the injection, re-raised by close()
                injection.error = exc
                detail = f"FAILED: {exc}"
            injection.record = self.timeline.add(what, action, ecu.name, detail)
            injection.fired.set()

        self.injections.append(injection)
        self._disarms.append(trigger.arm(self.bench, ecu, fire))
        return injection

    def restore(self) -> None:
        """End every fault now: pending restorations run at once, gateways clear, every supply
        back to nominal and on. Armed triggers stay armed."""
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        for gateway in self.bench.gateways.values():
            gateway.clear()
        for relay in self.bench.doip_relays.values():
            relay.clear()
        for supply in self.bench.supplies.values():
            nominal = getattr(supply, "nominal_voltage", None)
            if nominal is not None and hasattr(supply, "set_voltage"):
                supply.set_voltage(nominal)
            supply.on()

    def on_disarm(self, action: Callable[[], None]) -> None:
        """Run ``action`` when the triggers are disarmed (``disarm``, ``close``)."""
        self._disarms.append(action)

    def disarm(self) -> None:
        """Stop watching every armed trigger (what fired stays on the timeline)."""
        disarms, self._disarms = self._disarms, []
        for disarm in disarms:
            disarm()

    def close(self) -> None:
        self.disarm()
        self.restore()
        errors = [i.error for i in self.injections if i.error is not None]
        if errors:
            raise errors[0]


class Arming:
    """What to do when the trigger fires; each method arms the binding for one ECU."""

    def __init__(self, injector: FaultInjector, trigger: Trigger) -> None:
        self._injector = injector
        self._trigger = trigger

    # -- what a fault kind of bench.faults.kinds builds its action from -------------------------

    def custom(self, ecu: EcuHandle, action: str, act: Callable[[], str]) -> Injection:
        """Run ``act`` when the trigger fires; ``act`` says what it did (shown on the timeline)."""
        return self._injector.bind(self._trigger, ecu, action, act)

    def later(self, seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` ``seconds`` from now, unless the injector restores everything first."""
        self._injector.later(seconds, action)

    # -- power ------------------------------------------------------------------------------

    def power_cut(self, ecu: EcuHandle, *, off_for: float | None = None) -> Injection:
        """Terminal 30 off; back on after ``off_for`` seconds (None: the test turns it on)."""
        supply = supply_of(ecu)

        def act() -> str:
            supply.off()
            if off_for is not None:
                self._injector.later(off_for, supply.on)
            return f"supply {supply.name} off" + (f" for {off_for:.3f} s" if off_for is not None else "")

        return self._injector.bind(self._trigger, ecu, "power cut", act)

    def brown_out(self, ecu: EcuHandle, *, volts: float, lasting: float) -> Injection:
        """Dip the supply to ``volts`` for ``lasting`` seconds, then back to nominal."""
        supply = supply_of(ecu)
        if not hasattr(supply, "set_voltage"):
            raise UsageError(f"brown_out: supply {supply.name!r} of ECU {ecu.name!r} cannot set its voltage")

        def act() -> str:
            supply.set_voltage(volts)
            self._injector.later(lasting, lambda: supply.set_voltage(supply.nominal_voltage))
            return f"supply {supply.name} at {volts:.1f} V for {lasting:.3f} s"

        return self._injector.bind(self._trigger, ecu, "brown-out", act)

    # -- network (the gateway between tester and ECU) ----------------------------------------

    def _network(self, ecu: EcuHandle, action: str, apply: Callable[[Gateway, Callable[[can.Message], bool]], object],
                 detail: str, frames: Callable[[can.Message], bool] | None = None) -> Injection:
        """Apply a gateway fault to the ECU's frames (its request, response and functional ids),
        narrowed by ``frames`` when given."""
        gateway = self._injector.bench.gateway(ecu.config.bus)
        ids = {ecu.config.request_id, ecu.config.response_id, ecu.config.functional_id}
        # a clock may fire in the middle of a block of frames: the gateway passes them one by one until then
        apart = gateway.frames_apart() if self._trigger.timed else None

        def act() -> str:
            try:
                apply(gateway, lambda frame: frame.arbitration_id in ids and (frames is None or frames(frame)))
            finally:
                if apart is not None:
                    apart()
            return detail

        injection = self._injector.bind(self._trigger, ecu, action, act)
        if apart is not None:
            self._injector.on_disarm(apart)
        return injection

    def drop_frames(self, ecu: EcuHandle, count: int | None = 1, *, direction: Direction = "both",
                    lasting: float | None = None) -> Injection:
        return self._network(ecu, "drop frames", lambda g, m: g.drop(count, direction=direction, match=m,
                                                                     duration=lasting),
                             _what(count, direction, lasting))

    def lose_frames(self, ecu: EcuHandle, ratio: float, *, seed: int, direction: Direction = "both",
                    lasting: float | None = None) -> Injection:
        return self._network(ecu, "frame loss", lambda g, m: g.drop_ratio(ratio, seed=seed, direction=direction,
                                                                        match=m, duration=lasting),
                             f"{ratio:.1%} of frames, seed {seed}, {direction}" + _for(lasting))

    def delay_frames(self, ecu: EcuHandle, seconds: float, *, direction: Direction = "both",
                     lasting: float | None = None, count: int | None = None) -> Injection:
        return self._network(ecu, "delay frames", lambda g, m: g.delay(seconds, count=count, direction=direction,
                                                                       match=m, duration=lasting),
                             f"+{seconds * 1000:.1f} ms, " + _what(count, direction, lasting))

    def corrupt_frames(self, ecu: EcuHandle, count: int | None = 1, *, byte_index: int | None = None,
                       seed: int = 0, direction: Direction = "both",
                       frames: Callable[[can.Message], bool] | None = None) -> Injection:
        """Flip the bits of one data byte (``byte_index``, or one chosen by ``seed``) of the next
        ``count`` frames (of those ``frames`` selects, e.g. ISO-TP consecutive frames only)."""
        return self._network(ecu, "corrupt frames",
                             lambda g, m: g.corrupt(count, byte_index=byte_index, seed=seed, direction=direction,
                                                    match=m),
                             _what(count, direction, None) + (f", byte {byte_index}" if byte_index is not None
                                                              else f", seed {seed}"), frames)

    def duplicate_frames(self, ecu: EcuHandle, count: int | None = 1, *, direction: Direction = "both") -> Injection:
        return self._network(ecu, "duplicate frames", lambda g, m: g.duplicate(count, direction=direction, match=m),
                             _what(count, direction, None))

    def reorder_frames(self, ecu: EcuHandle, count: int | None = 1, *, direction: Direction = "both") -> Injection:
        return self._network(ecu, "reorder frames", lambda g, m: g.reorder(count, direction=direction, match=m),
                             _what(count, direction, None))

    def partition(self, ecu: EcuHandle, *, lasting: float, direction: Direction = "both") -> Injection:
        return self._network(ecu, "partition", lambda g, m: g.partition(lasting, direction=direction),
                             f"{direction} for {lasting:.3f} s")

    def bus_off(self, ecu: EcuHandle, *, lasting: float) -> Injection:
        return self._network(ecu, "bus-off", lambda g, m: g.bus_off(lasting), f"for {lasting:.3f} s")


    # -- DoIP (the TCP relay between tester and DoIP entity, the virtual DoIP gateway) ---------

    def tcp_fault(self, ecu: EcuHandle, action: str, act: Callable[[DoipRelay], str]) -> Injection:
        """Run ``act`` on the TCP relay in front of the DoIP entity the ECU is reached through
        (``Bench.relay_doip``, asked before the first request)."""
        relay = self._injector.bench.doip_relays.get(ecu.config.via or "")
        if relay is None:
            raise UsageError(f"{action}: ECU {ecu.name!r} is not reached through a DoIP relay on this bench "
                             "(a catalog case with transport: doip, or bench.relay_doip(entity) in a test)")
        return self._injector.bind(self._trigger, ecu, action, lambda: act(relay))

    def doip_gateway_reset(self, ecu: EcuHandle) -> Injection:
        """Reboot the virtual DoIP gateway the ECU is reached through: every socket and routing
        activation dropped; the ECUs behind it keep running."""
        gateway = self._injector.bench.doip_gateways.get(ecu.config.via or "")
        if gateway is None:
            raise UsageError(f"DoIP gateway reset: ECU {ecu.name!r} is not reached through a virtual DoIP "
                             "gateway on this bench")

        def act() -> str:
            gateway.reset()
            return f"DoIP gateway {gateway.name} rebooted"

        return self._injector.bind(self._trigger, ecu, "DoIP gateway reset", act)

    def doip_nack(self, ecu: EcuHandle, code: int, count: int) -> Injection:
        """The virtual DoIP gateway the ECU is reached through refuses the tester's next ``count``
        diagnostic messages to that ECU with NACK ``code``."""
        via = ecu.config.via or ""
        gateway = self._injector.bench.doip_gateways.get(via)
        if gateway is None:
            raise UsageError(f"DoIP NACK: ECU {ecu.name!r} is not reached through a virtual DoIP gateway on this bench")
        target = gateway.entity.routes[ecu.name]

        def act() -> str:
            gateway.inject_nack(code, count=count, target=target)
            return (f"the next {count} diagnostic message(s) to {target:#06x} refused with NACK {code:#04x} "
                    f"({nack_meaning(code)})")

        return self._injector.bind(self._trigger, ecu, "DoIP NACK", act)

    # -- serial console -------------------------------------------------------------------------

    def disconnect_console(self, ecu: EcuHandle, *, lasting: float | None = None) -> Injection:
        """Pull the ECU's console cable; plug it back after ``lasting`` seconds."""
        console = self._injector.bench.console(ecu.name)

        def act() -> str:
            console.disconnect()
            if lasting is not None:
                self._injector.later(lasting, console.reconnect)
            return f"console {console.name} disconnected" + _for(lasting)

        return self._injector.bind(self._trigger, ecu, "console disconnect", act)


def supply_of(ecu: EcuHandle):  # noqa: ANN201 - a PowerSupply
    """The ECU's supply; a usage error if it has none on this bench."""
    if ecu.power is None:
        raise UsageError(f"ECU {ecu.name!r} has no power supply on this bench: no power fault can act on it")
    return ecu.power


def _for(lasting: float | None) -> str:
    return f" for {lasting:.3f} s" if lasting is not None else ""


def _what(count: int | None, direction: str, lasting: float | None) -> str:
    return f"{'all' if count is None else count} frame(s), {direction}" + _for(lasting)
