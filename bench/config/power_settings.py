"""What a bench file may say to the built-in power drivers, checked when the file loads: the SCPI
dialect (``commands:`` of a ``scpi`` supply) and the channels of a serial relay module.

``bench.power.scpi`` and ``bench.power.relay`` speak these; they live here so that a bench file
with a wrong command key or relay number fails at load time with its file, line and field.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from bench.errors import ConfigError

DEFAULT_COMMANDS: dict[str, str] = {
    "identify": "*IDN?",
    "select_channel": "",  # e.g. "INST:NSEL {channel}" on supplies that select an output first
    "output_on": "OUTP ON",
    "output_off": "OUTP OFF",
    "output_query": "OUTP?",
    "set_voltage": "VOLT {volts:.3f}",
    "measure_voltage": "MEAS:VOLT?",
    "set_current": "CURR {amps:.3f}",
    "measure_current": "MEAS:CURR?",
    "errors": "SYST:ERR?",  # empty: the supply has no error queue, set commands go unchecked
}
"""The SCPI-1999 dialect most supplies accept. Placeholders: ``{channel}``, ``{volts}``, ``{amps}``."""

OPTIONAL_COMMANDS = frozenset({"select_channel", "errors"})
_EXAMPLE_ARGS = {"channel": 1, "volts": 13.5, "amps": 2.0}

RELAY_CHANNELS = 32
"""A Numato-protocol relay module has at most 32 relays: 0..9, then A..V."""


def resolve_dialect(overrides: Mapping[str, str]) -> dict[str, str]:
    """``DEFAULT_COMMANDS`` with ``overrides`` applied; a key or placeholder it does not know
    is a ``ConfigError`` naming it (``field``: ``commands.<key>``)."""
    for key, template in overrides.items():
        if key not in DEFAULT_COMMANDS:
            raise ConfigError(f"unknown SCPI command key {key!r}; known: {', '.join(DEFAULT_COMMANDS)}",
                              field=f"commands.{key}")
        if not template and key not in OPTIONAL_COMMANDS:
            raise ConfigError(f"SCPI command {key!r} cannot be empty", field=f"commands.{key}")
        for _, placeholder, _, _ in string.Formatter().parse(template):
            if placeholder is not None and placeholder not in _EXAMPLE_ARGS:
                raise ConfigError(f"SCPI command {key!r} = {template!r} uses unknown placeholder "
                                  f"{{{placeholder}}}; known: {{channel}}, {{volts}}, {{amps}}",
                                  field=f"commands.{key}")
        try:
            template.format(**_EXAMPLE_ARGS)
        except (ValueError, IndexError) as exc:
            raise ConfigError(f"SCPI command {key!r} = {template!r} is not a valid template: {exc}",
                              field=f"commands.{key}") from None
    return {**DEFAULT_COMMANDS, **overrides}


def check_relay_channel(channel: int) -> None:
    """``ConfigError`` (``field``: ``channel``) unless ``channel`` is a relay of a module."""
    if not 0 <= channel < RELAY_CHANNELS:
        raise ConfigError(f"relay channel {channel} out of range 0..{RELAY_CHANNELS - 1}", field="channel")
