"""``environment.properties``: what a report's reader needs to know about the run.

The bench (name and file), its buses (python-can interface, channel, CAN or CAN FD, bitrates),
the ECU software versions seen during the run, the framework's version and the git revision
of the checkout (when it is one). Allure shows the file as the report's environment.
"""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from bench.config.models import BenchConfig, BusConfig

DISTRIBUTION = "ota-hil-bench"


def run_environment(bench: BenchConfig | None, versions: Mapping[str, set[str]], rootpath: Path) -> dict[str, str]:
    """The properties of a run, in the order a reader wants them."""
    properties: dict[str, str] = {}
    if bench is not None:
        properties["bench"] = bench.name + (f" ({bench.source})" if bench.source else "")
        for name, bus in bench.buses.items():
            properties[f"bus.{name}"] = describe_bus(bus)
    for ecu in sorted(versions):
        properties[f"ecu.{ecu}.versions"] = ", ".join(sorted(versions[ecu]))
    properties["framework"] = f"{DISTRIBUTION} {framework_version()}"
    properties["python"] = platform.python_version()
    revision = git_revision(rootpath)
    if revision is not None:
        properties["git.revision"] = revision
    return properties


def describe_bus(bus: BusConfig) -> str:
    kind = f"CAN FD {bus.bitrate // 1000}/{(bus.data_bitrate or bus.bitrate) // 1000} kbit/s" if bus.fd \
        else f"CAN {bus.bitrate // 1000} kbit/s"
    return f"{bus.interface} channel {bus.channel}, {kind}" + (", through the bench's gateway" if bus.gatewayed else "")


def framework_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def git_revision(rootpath: Path) -> str | None:
    """``git rev-parse HEAD`` in ``rootpath``; None outside a git checkout or without git."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=rootpath, capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def write_properties(path: Path, properties: Mapping[str, str]) -> None:
    """A Java properties file (the format Allure reads), escaped so any text survives."""
    lines = [f"{_escape(key, key=True)}={_escape(value)}" for key, value in properties.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _escape(text: str, *, key: bool = False) -> str:
    out = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    if key:
        for char in " :=":
            out = out.replace(char, "\\" + char)
    elif out.startswith(" "):
        out = "\\" + out
    if out.startswith(("#", "!")):
        out = "\\" + out
    return "".join(char if char.isascii() else _unicode_escape(char) for char in out)


def _unicode_escape(char: str) -> str:
    """``\\uXXXX`` (UTF-16 units): Allure 2 reads properties as ISO-8859-1, Allure 3 as UTF-8."""
    units = char.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}" for i in range(0, len(units), 2))
