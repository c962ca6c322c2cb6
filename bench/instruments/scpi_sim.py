"""A simulated SCPI bench supply: what ``bench.power.ScpiSupply`` talks to without hardware.

Models a programmable supply with one or more outputs (a Keysight E36xx, an R&S HMC804x,
a Rigol DP8xx…): output on/off, voltage setpoint, current limit, readbacks and an error
queue. It speaks the dialect it is given (``DEFAULT_COMMANDS`` by default, keys overridable
exactly like ``PowerConfig.commands``), matching commands case-insensitively but in the form
written (no SCPI short/long-form expansion). Several commands may share a line, separated by
``;``. An unknown command queues ``-113,"Undefined header"`` for the error query.

Hooks: ``mute()``; ``ignore={"output_on"}`` (accepted, no effect — a supply whose output
stage failed); ``load_current`` (what the load draws while on); ``on_change(OutputState)``,
called on every change of an output's state or setpoints before the next command is read.
"""

from __future__ import annotations

import re
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from bench.config.power_settings import resolve_dialect
from bench.instruments.line_server import LineServer

NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
NO_ERROR = '0,"No error"'
UNDEFINED_HEADER = '-113,"Undefined header"'


@dataclass(frozen=True)
class OutputState:
    """One output of the simulated supply."""

    channel: int
    on: bool
    voltage: float
    """Setpoint, volts."""
    current_limit: float

    @property
    def terminal_voltage(self) -> float:
        """What an ECU on this output sees: the setpoint while on, else 0 V."""
        return self.voltage if self.on else 0.0


def command_pattern(template: str) -> re.Pattern[str]:
    """A regex matching what ``template.format(...)`` produces; placeholders become groups."""
    parts: list[str] = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(r"\s+".join(re.escape(word) for word in literal.split(" ")))
        if field is not None:
            parts.append(r"(?P<channel>\d+)" if field == "channel" else rf"(?P<{field}>{NUMBER})")
    return re.compile("".join(parts), re.IGNORECASE)


class ScpiSupplySimulator(LineServer):
    """A SCPI supply on ``url`` (TCP) and, with ``pty=True``, on ``pty_path``."""

    def __init__(self, *, port: int = 0, pty: bool = False, commands: Mapping[str, str] | None = None,
                 idn: str = "OTA-HIL-BENCH,SCPI-SIM,0,1.0", voltage: float = 13.5,
                 current_limit: float = 5.0, load_current: float = 0.5, ignore: Iterable[str] = (),
                 on_change: Callable[[OutputState], None] | None = None) -> None:
        self.idn = idn
        self.load_current = load_current
        self.on_change = on_change
        self.ignored = set(ignore)
        self._patterns = [(key, command_pattern(template))
                          for key, template in resolve_dialect(commands or {}).items() if template]
        self._default = OutputState(0, False, voltage, current_limit)
        self._outputs: dict[int, OutputState] = {}
        self._selected = 0
        self._errors: list[str] = []
        self._lock = threading.Lock()
        super().__init__(port=port, pty=pty)

    def output(self, channel: int | None = None) -> OutputState:
        """The state of output ``channel`` (default: the selected one)."""
        with self._lock:
            return self._output(self._selected if channel is None else channel)

    def ignore(self, *keys: str) -> None:
        """Accept these command keys from now on without acting on them."""
        self.ignored.update(keys)

    def handle(self, line: str) -> str:
        answers: list[str] = []
        changes: list[OutputState] = []
        with self._lock:
            for command in filter(None, (part.strip().lstrip(":") for part in line.split(";"))):
                answer, changed = self._execute(command)
                if answer is not None:
                    answers.append(answer)
                if changed is not None:
                    changes.append(changed)
        for state in changes:
            if self.on_change is not None:
                self.on_change(state)
        return "".join(answer + "\n" for answer in answers)

    def _execute(self, command: str) -> tuple[str | None, OutputState | None]:
        for key, pattern in self._patterns:
            match = pattern.fullmatch(command)
            if match:
                break
        else:
            self._errors.append(UNDEFINED_HEADER)
            return None, None
        args = match.groupdict()
        channel = int(args["channel"]) if "channel" in args else self._selected
        state = self._output(channel)
        if key in self.ignored:
            return None, None
        if key == "identify":
            return self.idn, None
        if key == "errors":
            return (self._errors.pop(0) if self._errors else NO_ERROR), None
        if key == "select_channel":
            self._selected = channel
            return None, None
        if key == "output_query":
            return ("1" if state.on else "0"), None
        if key == "measure_voltage":
            return f"{state.terminal_voltage:.3f}", None
        if key == "measure_current":
            return f"{min(self.load_current, state.current_limit) if state.on else 0.0:.3f}", None
        updated = {
            "output_on": lambda: replace(state, on=True),
            "output_off": lambda: replace(state, on=False),
            "set_voltage": lambda: replace(state, voltage=float(args["volts"])),
            "set_current": lambda: replace(state, current_limit=float(args["amps"])),
        }[key]()
        self._outputs[channel] = updated
        return None, (updated if updated != state else None)

    def _output(self, channel: int) -> OutputState:
        return self._outputs.get(channel) or replace(self._default, channel=channel)
