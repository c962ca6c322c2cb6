"""A serial relay module switching terminal 30, as a ``PowerSupply``.

Models Numato Lab's USB relay modules (1/2/4/8/16/32 channels, USB-CDC ``/dev/ttyACM0``)
and the many clones speaking the same ASCII protocol: ``relay on N\\r``, ``relay off N\\r``,
``relay read N\\r``. The module echoes what it receives, answers ``on``/``off`` to a read,
and ends every exchange with a ``>`` prompt. Relays 10..31 are named ``A``..``V``.
"""

from __future__ import annotations

import serial

from bench.config.power_models import PowerConfig
from bench.config.power_settings import check_relay_channel
from bench.errors import BenchFault
from bench.power.serial_instrument import SerialInstrument

PROMPT = b">"


def relay_index(channel: int) -> str:
    """Numato's name for relay ``channel``: ``0``..``9``, then ``A``..``V``."""
    check_relay_channel(channel)
    return str(channel) if channel < 10 else chr(ord("A") + channel - 10)


def parse_answer(raw: bytes, command: str) -> list[str]:
    """The lines a module sent back, without the echo of ``command``, blanks and the prompt."""
    text = raw.decode("ascii", errors="replace").replace("\r", "\n")
    lines = [line.strip().rstrip(">").strip() for line in text.split("\n")]
    return [line for line in lines if line and line != command]


class SerialRelay(SerialInstrument):
    """Relay ``channel`` of a serial relay module; closed relay = ECU powered.

    Every switch is read back; an exchange that does not end with the prompt within
    ``timeout`` seconds, or a port that cannot be opened or vanishes, is a ``BenchFault``
    naming the relay and the URL.
    """

    kind = "relay"

    def __init__(self, name: str, url: str, *, channel: int = 0, baudrate: int = 9600,
                 timeout: float = 1.0) -> None:
        self.channel = channel
        self._index = relay_index(channel)
        super().__init__(name, url, baudrate=baudrate, timeout=timeout)

    @classmethod
    def from_config(cls, name: str, config: PowerConfig) -> SerialRelay:
        return cls(name, cls.port_of(name, config), channel=config.channel, baudrate=config.baudrate,
                   timeout=config.timeout)

    def is_on(self) -> bool:
        command = f"relay read {self._index}"
        answer = self._exchange(command)
        state = answer[-1].lower() if answer else ""
        if state not in ("on", "off"):
            raise BenchFault(f"{self._who()} answered {answer!r} to {command!r}; expected on/off")
        return state == "on"

    def _switch(self, on: bool) -> None:
        command = f"relay {'on' if on else 'off'} {self._index}"
        self._exchange(command)
        if self.is_on() != on:
            raise BenchFault(f"{self._who()} reads {'off' if on else 'on'} after {command!r}")

    def _exchange(self, command: str) -> list[str]:
        with self._lock:
            try:
                self._port.reset_input_buffer()
                self._port.write(command.encode("ascii") + b"\r")
                raw = self._port.read_until(PROMPT)
            except (serial.SerialException, OSError) as exc:
                raise BenchFault(f"{self._who()}: {command!r} failed: {exc}") from exc
        if not raw.endswith(PROMPT):
            raise BenchFault(f"{self._who()} did not answer {command!r} within {self.timeout} s")
        return parse_answer(raw, command)

    def _who(self) -> str:
        return f"relay {self.name!r} (channel {self.channel}) on {self.url}"
