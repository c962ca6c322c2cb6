"""What every ``ota-bench`` command shares: exit codes, error printing, tables, ECU lookup."""

from __future__ import annotations

import sys

from bench.config import BenchConfig, EcuConfig
from bench.errors import ConfigError

EXIT_OK, EXIT_ECU_FAILED, EXIT_USER_ERROR, EXIT_BENCH_FAULT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def ecu_config(config: BenchConfig, name: str) -> EcuConfig:
    """ECU ``name`` of the bench, or a user error listing the ECUs it has."""
    if name not in config.ecus:
        raise ConfigError(f"no ECU named {name!r} on bench {config.name!r}; it has: {', '.join(config.ecus)}",
                          file=str(config.source or ""))
    return config.ecus[name]


def can_id(ecu: EcuConfig, identifier: int | None) -> str:
    """``0x7E0`` (``0x18DA10F1`` extended); ``-`` for none (an ECU on Ethernet)."""
    if identifier is None:
        return "-"
    return f"0x{identifier:08X}" if ecu.extended_id else f"0x{identifier:03X}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns, as wide as their widest cell."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in [header, *rows])


def error(message: str) -> None:
    print(f"ota-bench: error: {message}", file=sys.stderr, flush=True)
