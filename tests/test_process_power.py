"""The ``process`` power driver: an ECU that is a program, started for power on and killed for power
off; and the bench-file settings it reads (command placeholders, shared buses), checked at load."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from bench.config import load_bench
from bench.config.power_models import ProcessSettings
from bench.errors import BenchFault, ConfigError
from bench.power.process import ProcessSupply

pytestmark = pytest.mark.integration

PROGRAM = """\
import sys, time
print("booting", flush=True)
if sys.argv[1] == "exit":
    sys.exit(3)
if sys.argv[1] == "ready":
    print("ECU ready on " + sys.argv[2], flush=True)
time.sleep(60)
"""


def supply(tmp_path: Path, mode: str, *, ready_timeout: float = 10.0) -> ProcessSupply:
    (tmp_path / "ecu.py").write_text(PROGRAM)
    settings = ProcessSettings(command=["{python}", "ecu.py", mode, "{nvm}"], ready="^ECU ready",
                               ready_timeout=ready_timeout, cwd=tmp_path)
    power = ProcessSupply("kl30_sil", settings)
    power.bind(tmp_path / "run", {})
    return power


def gone(pid: int) -> bool:
    """No process (not even a zombie) has this pid."""
    return not Path(f"/proc/{pid}").exists()


def test_power_on_waits_for_the_ready_line_and_power_off_kills_the_program(tmp_path: Path) -> None:
    power = supply(tmp_path, "ready")
    power.on()
    try:
        assert power.is_on()
        pid = power._process.pid  # type: ignore[union-attr]
        assert power.nvm == tmp_path / "run" / "nvm" / "kl30_sil" and power.nvm.is_dir()
    finally:
        power.off()
    assert not power.is_on() and gone(pid)
    power.cycle(off_for=0)
    power.close()
    log = (tmp_path / "run" / "kl30_sil.log").read_text()
    assert log.count("ECU ready on " + str(power.nvm)) == 2 and log.count("--- power off (killed)") == 2


def test_a_program_that_never_prints_its_ready_line_is_a_bench_fault_with_its_output(tmp_path: Path) -> None:
    power = supply(tmp_path, "silent", ready_timeout=0.5)
    with pytest.raises(BenchFault, match=r"(?s)printed no line matching '\^ECU ready' within 0.5 s; "
                                         r"command: .*ecu.py silent.*last output:\nbooting"):
        power.on()
    assert not power.is_on()


def test_a_program_that_exits_while_starting_is_a_bench_fault_with_its_status(tmp_path: Path) -> None:
    with pytest.raises(BenchFault, match="exited with status 3"):
        supply(tmp_path, "exit").on()


def test_a_program_that_cannot_start_is_a_bench_fault_naming_it(tmp_path: Path) -> None:
    power = ProcessSupply("kl30_sil", ProcessSettings(command=[str(tmp_path / "missing")], ready="x"))
    power.bind(tmp_path, {})
    with pytest.raises(BenchFault, match=f"cannot start '{tmp_path / 'missing'}'"):
        power.on()


BENCH = """\
name: sil
buses:
  body: {{interface: {interface}, channel: body{share}}}
power:
  sil:
    driver: process
    process: {{command: [{command}], ready: "^ready"}}
profiles:
  p: {{bootloader: single_bank}}
ecus:
  e: {{bus: body, request_id: 0x7E0, response_id: 0x7E8, profile: p, power: sil}}
"""


def bench_file(tmp_path: Path, *, command: str = '"{python}", "ecu.py", "{slcan:body}"', share: bool = True,
               interface: str = "virtual") -> Path:
    path = tmp_path / "bench.yaml"
    path.write_text(BENCH.format(command=command, interface=interface, share=", share: slcan" if share else ""))
    return path


def test_the_command_runs_in_the_bench_files_folder(tmp_path: Path) -> None:
    process = load_bench(bench_file(tmp_path)).power["sil"].process
    assert process is not None and process.cwd == tmp_path and process.shared_buses() == ["body"]


@pytest.mark.parametrize("kwargs, message", [
    ({"command": '"{python}", "{nvm_dir}"'}, r"bench.yaml:7: power.sil.process.command: .*unknown placeholder "
                                             r"\{nvm_dir\}.*known: \{python\}, \{nvm\}, \{slcan:BUS\}"),
    ({"share": False}, r"bench.yaml:7: power.sil.process.command: \{slcan:body\} names no bus with share: slcan; "
                       "shared buses: none"),
    ({"interface": "socketcan"}, r"bench.yaml:3: buses.body: .*share applies to virtual buses only"),
])
def test_mistakes_in_a_process_entry_name_file_line_and_field(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_bench(bench_file(tmp_path, **kwargs))


def test_a_process_supply_needs_its_process_section(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(textwrap.dedent("""\
        name: sil
        buses: {body: {interface: virtual, channel: body}}
        power: {sil: {driver: process}}
        profiles: {p: {bootloader: single_bank}}
        ecus: {e: {bus: body, request_id: 0x7E0, response_id: 0x7E8, profile: p, power: sil}}
        """))
    with pytest.raises(ConfigError, match=r"bench.yaml:3: power.sil: .*driver 'process' needs process:"):
        load_bench(path)


def test_no_program_is_left_running_when_the_test_process_reaps_it(tmp_path: Path) -> None:
    power = supply(tmp_path, "ready")
    power.on()
    pid = power._process.pid  # type: ignore[union-attr]
    power.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left for anyone
