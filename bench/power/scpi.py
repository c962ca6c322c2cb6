"""A programmable bench supply speaking SCPI over any pyserial URL.

Models the supplies HIL racks use for terminal 30: Rohde & Schwarz HMC/NGE/NGP, Keysight
E36xx, Rigol DP8xx, TTi, Manson/EA (via their SCPI option) — over RS-232, USB-CDC
(``/dev/ttyACM0``) or a LAN port reached through pyserial's ``socket://host:5025`` URL.
The command set differs between vendors, so it is a dict (the *dialect*): every entry of
``DEFAULT_COMMANDS`` can be overridden from the bench file's ``commands:``, checked when the
file loads (``bench.config.power_settings``).
"""

from __future__ import annotations

from collections.abc import Mapping

import serial

from bench.config.power_models import PowerConfig
from bench.config.power_settings import resolve_dialect
from bench.errors import BenchFault
from bench.power.serial_instrument import SerialInstrument

_TRUE = {"1", "ON"}
_FALSE = {"0", "OFF"}


class ScpiSupply(SerialInstrument):
    """One output of a SCPI supply, as a ``PowerSupply`` plus setpoints and readbacks.

    Every query that gets no answer within ``timeout`` seconds, a port that cannot be opened
    and a port that vanishes raise ``BenchFault`` naming the supply and the URL: a supply
    that does not answer is a broken bench, never an ECU finding. ``on()``/``off()`` read the
    output state back, and set commands are followed by the error-queue query (``errors``).
    """

    kind = "power supply"

    def __init__(self, name: str, url: str, *, baudrate: int = 9600, timeout: float = 1.0,
                 channel: int = 0, commands: Mapping[str, str] | None = None,
                 nominal_voltage: float = 13.5) -> None:
        self.channel = channel
        self.nominal_voltage = nominal_voltage
        """Where a brown-out returns to (the bench's terminal 30 setpoint)."""
        self.commands = resolve_dialect(commands or {})
        super().__init__(name, url, baudrate=baudrate, timeout=timeout)

    @classmethod
    def from_config(cls, name: str, config: PowerConfig) -> ScpiSupply:
        return cls(name, cls.port_of(name, config), baudrate=config.baudrate, timeout=config.timeout,
                   channel=config.channel, commands=config.commands, nominal_voltage=config.nominal_voltage)

    # -- PowerSupply ---------------------------------------------------------------------------

    def is_on(self) -> bool:
        answer = self.query("output_query").upper()
        if answer in _TRUE | _FALSE:
            return answer in _TRUE
        raise BenchFault(f"{self._who()} answered {answer!r} to {self._command('output_query')!r}; "
                         "expected 1/0/ON/OFF")

    # -- setpoints and readbacks ---------------------------------------------------------------

    def identify(self) -> str:
        return self.query("identify")

    def set_voltage(self, volts: float) -> None:
        self.send("set_voltage", volts=volts)

    def measure_voltage(self) -> float:
        return self._number("measure_voltage")

    def set_current_limit(self, amps: float) -> None:
        self.send("set_current", amps=amps)

    def measure_current(self) -> float:
        return self._number("measure_current")

    # -- the wire ------------------------------------------------------------------------------

    def send(self, key: str, *, check: bool = True, **args: float) -> None:
        """Send a set command of the dialect; then, if ``check`` and the dialect has an error
        queue, read it and raise ``BenchFault`` if the supply rejected the command."""
        command = self._command(key, **args)
        with self._lock:
            self._select()
            self._write(command)
            if check and self.commands["errors"]:
                error = self._ask(self._command("errors"))
                code = error.split(",", 1)[0].strip()
                if code.lstrip("+-").isdigit() and int(code) != 0:
                    raise BenchFault(f"{self._who()} rejected {command!r}: {error}")

    def query(self, key: str, **args: float) -> str:
        """Send a query of the dialect and return its answer, stripped."""
        command = self._command(key, **args)
        with self._lock:
            self._select()
            return self._ask(command)

    def _switch(self, on: bool) -> None:
        key = "output_on" if on else "output_off"
        self.send(key, check=False)
        if self.is_on() != on:
            raise BenchFault(f"{self._who()} still reports output {'off' if on else 'on'} "
                             f"after {self._command(key)!r}")

    def _number(self, key: str) -> float:
        answer = self.query(key)
        try:
            return float(answer)
        except ValueError:
            raise BenchFault(f"{self._who()} answered {answer!r} to {self._command(key)!r}; "
                             "expected a number") from None

    def _command(self, key: str, **args: float) -> str:
        return self.commands[key].format(channel=self.channel, **args)

    def _select(self) -> None:
        if self.commands["select_channel"]:
            self._write(self._command("select_channel"))

    def _write(self, command: str) -> None:
        try:
            self._port.write(command.encode("ascii") + b"\n")
        except (serial.SerialException, OSError) as exc:
            raise BenchFault(f"{self._who()}: sending {command!r} failed: {exc}") from exc

    def _ask(self, command: str) -> str:
        try:
            self._port.reset_input_buffer()  # a late answer to an earlier query is not ours
            self._write(command)
            line = self._port.read_until(b"\n")
        except (serial.SerialException, OSError) as exc:
            raise BenchFault(f"{self._who()}: {command!r} failed: {exc}") from exc
        if not line.endswith(b"\n"):
            raise BenchFault(f"{self._who()} did not answer {command!r} within {self.timeout} s")
        return line.decode("ascii", errors="replace").strip()

    def _who(self) -> str:
        return f"power supply {self.name!r} on {self.url}"
