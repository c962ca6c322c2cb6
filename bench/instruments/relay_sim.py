"""A simulated serial relay module: what ``bench.power.SerialRelay`` talks to without hardware.

Models a Numato Lab USB relay module (and its clones): commands end with CR; the module
echoes each command, answers ``relay read N`` with ``on``/``off``, and ends every exchange
with a ``>`` prompt. Relays are numbered ``0``..``9`` then ``A``..``V``; all start open (off).
Unknown commands are echoed and prompted, as the module does.

Hooks: ``mute()``; ``ignore={"on"}`` (the command is answered but the contact does not move —
a relay whose coil died); ``on_change(RelayState)``, called on every contact change before
the next command is read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bench.instruments.line_server import LineServer

EOL = "\n\r"  # what the module sends after each line
PROMPT = ">"


@dataclass(frozen=True)
class RelayState:
    channel: int
    on: bool
    """Contact closed: terminal 30 is connected."""


def channel_of(index: str) -> int | None:
    """The relay number Numato's index names (``7`` → 7, ``A`` → 10), or None."""
    if len(index) != 1:
        return None
    if index.isdigit():
        return int(index)
    if "A" <= index.upper() <= "V":
        return 10 + ord(index.upper()) - ord("A")
    return None


class RelaySimulator(LineServer):
    """A relay module with ``relays`` channels on ``url`` (TCP) and, with ``pty=True``, on ``pty_path``."""

    terminator = b"\r"

    def __init__(self, *, port: int = 0, pty: bool = False, relays: int = 8, ignore: Iterable[str] = (),
                 on_change: Callable[[RelayState], None] | None = None) -> None:
        self.relays = relays
        self.on_change = on_change
        self.ignored = set(ignore)
        self._closed = [False] * relays
        self._lock = threading.Lock()
        super().__init__(port=port, pty=pty)

    def state(self, channel: int) -> bool:
        """True if relay ``channel`` is closed (on)."""
        with self._lock:
            return self._closed[channel]

    def ignore(self, *actions: str) -> None:
        """From now on answer ``relay on``/``relay off`` (``"on"``, ``"off"``) without switching."""
        self.ignored.update(actions)

    def handle(self, line: str) -> str:
        if not line:
            return PROMPT
        words = line.split()
        answer = ""
        changed: RelayState | None = None
        channel = channel_of(words[2]) if len(words) == 3 and words[0].lower() == "relay" else None
        if channel is not None and channel < self.relays:
            action = words[1].lower()
            with self._lock:
                if action == "read":
                    answer = ("on" if self._closed[channel] else "off") + EOL
                elif action in ("on", "off") and action not in self.ignored:
                    closed = action == "on"
                    if self._closed[channel] != closed:
                        self._closed[channel] = closed
                        changed = RelayState(channel, closed)
        if changed is not None and self.on_change is not None:
            self.on_change(changed)
        return line + EOL + answer + PROMPT
