"""The rest-bus node: sends the vehicle messages of the DBC (``VCU_VehicleState``,
``VCU_BatteryState``) cyclically, at their ``GenMsgCycleTime``, encoded with cantools from a
``VehicleState``, on the ECUs' side of each bus it is given; a value a test sets goes out at
once, so the next request an ECU takes finds it (frames arrive in order).

One thread for all its buses; ``stop()`` ends it and closes the bus handles it opened."""

from __future__ import annotations

import threading
import time

import can
import cantools

from bench.errors import BenchFault
from bench.sim.vehicle_state import VehicleState

DEFAULT_CYCLE = 0.1
"""Seconds between two frames of a message whose DBC gives no cycle time."""


class RestBus:
    def __init__(self, state: VehicleState, buses: dict[str, can.BusABC], *, name: str = "restbus") -> None:
        self.state = state
        self._buses = buses
        self._messages = list(state.signals.messages.values())
        self._due = {message.name: 0.0 for message in self._messages}
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.fault: BaseException | None = None
        """What stopped the node (a bus that refused a frame): a bench fault, never an ECU finding."""

    def start(self) -> None:
        self.state.listeners.append(self.send_now)
        self._thread.start()

    def stop(self) -> None:
        """Stop sending and wait for the thread; the bus handles stay open (their owner closes them)."""
        if self.send_now in self.state.listeners:
            self.state.listeners.remove(self.send_now)
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(5.0)
            if self._thread.is_alive():
                raise BenchFault("rest-bus thread did not stop")

    def send_now(self, message_name: str) -> None:
        """Send ``message_name`` on every bus now (a value changed); its cycle restarts."""
        message = next(message for message in self._messages if message.name == message_name)
        with self._send_lock:
            self._send(message)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self._send_lock:
                    now = time.monotonic()
                    for message in self._messages:
                        if now >= self._due[message.name]:
                            self._send(message)
                    wait = min(self._due.values()) - time.monotonic()
                self._stop.wait(max(wait, 0.0))
        except Exception as exc:  # a bus gone: the bench reports it as its own fault
            self.fault = exc

    def _send(self, message: cantools.database.can.Message) -> None:
        data = message.encode(self.state.message_values(message.name))
        frame = can.Message(arbitration_id=message.frame_id, data=data, is_extended_id=message.is_extended_frame,
                            is_fd=message.is_fd)
        for bus in self._buses.values():
            bus.send(frame)
        self._due[message.name] = time.monotonic() + ((message.cycle_time or 0) / 1000 or DEFAULT_CYCLE)
