"""The power part of a bench file: a supply or relay (``PowerConfig``), and the ``process``
driver's settings (``ProcessSettings``: the ECU is a program the bench starts and kills)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from bench.config.registries import BUILTIN_SERIAL_DRIVERS, POWER_DRIVERS
from bench.config.strict import Strict


class ProcessSettings(Strict):
    """A ``process`` supply: the ECU is a program (a software-in-the-loop build) the bench starts
    for power on and kills (SIGKILL) for power off.

    ``command`` is the program and its arguments, with placeholders: ``{python}`` (the bench's own
    interpreter), ``{nvm}`` (the folder the program keeps its non-volatile memory in, the same
    across power cycles) and ``{slcan:BUS}`` (the URL of bus BUS, which must say ``share: slcan``).
    The ECU counts as powered once the program prints a line matching ``ready`` (a regular
    expression), within ``ready_timeout`` seconds.
    """

    command: list[str] = Field(min_length=1)
    ready: str
    ready_timeout: float = Field(15.0, gt=0)
    nvm: Path | None = None
    """The NVM folder; default: one per run in the bench's work folder (a fresh ECU each run)."""
    cwd: Path | None = None
    """The folder the command runs in; default: the bench file's folder."""

    @field_validator("ready")
    @classmethod
    def _regex(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"ready {pattern!r} is not a regular expression: {exc}") from None
        return pattern

    @field_validator("command")
    @classmethod
    def _placeholders(cls, command: list[str]) -> list[str]:
        for argument in command:
            for name in re.findall(r"\{([^{}]*)\}", argument):
                if name not in ("python", "nvm") and not re.fullmatch(r"slcan:[\w-]+", name):
                    raise ValueError(f"unknown placeholder {{{name}}} in {argument!r}; "
                                     "known: {python}, {nvm}, {slcan:BUS}")
        return command

    def shared_buses(self) -> list[str]:
        """The buses ``{slcan:BUS}`` placeholders name."""
        return [name for argument in self.command for name in re.findall(r"\{slcan:([\w-]+)\}", argument)]


class PowerConfig(Strict):
    """A power supply or relay, opened by the driver of that name (``POWER_DRIVERS``).

    * ``virtual``: needs nothing else.
    * ``scpi``: a programmable supply speaking SCPI over ``url`` (any pyserial URL);
      ``commands`` overrides the dialect (see bench.config.power_settings.DEFAULT_COMMANDS).
    * ``relay``: a serial relay module (Numato protocol: ``relay on N``) switching terminal 30.
    * ``process``: the ECU is a program started and killed for power (``process:``, ProcessSettings).
    * a driver outside the project (``bench.config.registries``): the fields it reads, and its
      own settings in ``options``.
    """

    driver: str
    nominal_voltage: float = Field(13.5, gt=0)
    url: str | None = None
    baudrate: int = Field(9600, gt=0)
    timeout: float = Field(1.0, gt=0)
    """Seconds an instrument may take to answer before it counts as not answering."""
    channel: int = Field(0, ge=0)
    """Relay number, or output number of a multi-channel supply."""
    commands: dict[str, str] = Field(default_factory=dict)
    options: dict[str, object] = Field(default_factory=dict)
    """Settings of a driver outside the project (the built-in drivers take none)."""
    process: ProcessSettings | None = None
    """The ``process`` driver's program (``ProcessSettings``)."""

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, name: str) -> str:
        if name not in POWER_DRIVERS:
            raise ValueError(POWER_DRIVERS.unknown(name))
        return name

    @model_validator(mode="after")
    def _port_for_real_drivers(self) -> PowerConfig:
        if self.options and self.driver in POWER_DRIVERS.builtin:
            raise ValueError(f"driver {self.driver!r} takes no options (they are for drivers outside the project)")
        if self.driver in BUILTIN_SERIAL_DRIVERS and not self.url:
            raise ValueError(f"driver {self.driver!r} needs url (a pyserial URL such as /dev/ttyUSB0 "
                             "or socket://host:port)")
        if self.driver == "virtual" and self.url:
            raise ValueError("a virtual supply has no url")
        if (self.driver == "process") != (self.process is not None):
            raise ValueError("driver 'process' needs process: {command: [...], ready: REGEX}, and only it takes one")
        return self
