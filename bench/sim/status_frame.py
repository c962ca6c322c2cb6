"""The cyclic OTA status frame an application sends (DBC message, encoded with cantools)."""

from __future__ import annotations

import re
import time

import can
import cantools

from bench.sim.boot import RunningSoftware


def version_parts(version: str | None) -> tuple[int, int, int]:
    numbers = [min(int(n), 255) for n in re.findall(r"\d+", version or "")[:3]]
    return tuple(numbers + [0] * (3 - len(numbers)))  # type: ignore[return-value]


class StatusFrame:
    def __init__(self, message: cantools.database.can.Message) -> None:
        self._message = message
        self._period = (message.cycle_time or 100) / 1000
        self._due = 0.0
        self._alive = 0

    def send_if_due(self, bus: can.BusABC, running: RunningSoftware) -> None:
        now = time.monotonic()
        if now < self._due:
            return
        self._due = now + self._period
        major, minor, patch = version_parts(running.version)
        data = self._message.encode({
            "SwVersionMajor": major, "SwVersionMinor": minor, "SwVersionPatch": patch,
            "ActiveBank": running.bank, "BootState": int(running.state), "AliveCounter": self._alive,
        })
        self._alive = (self._alive + 1) % 16
        bus.send(can.Message(arbitration_id=self._message.frame_id, data=data,
                             is_extended_id=self._message.is_extended_frame))
