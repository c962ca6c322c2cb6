"""A VBF file flashed into the EPS (HIS-style) by a spec that erases what the file says to erase
(``range: file``): one erase routine per range of the VBF header's ``erase``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.config import load_bench
from bench.config.flash_spec import shipped_spec
from bench.errors import UsageError
from bench.image.software import load_software
from bench.rig import Bench, EcuHandle
from bench.sim.dialects.his.software import identify
from vbf_files import vbf_bytes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def eps(tmp_path: Path) -> Iterator[EcuHandle]:
    config = load_bench(ROOT / "fixtures" / "benches" / "virtual.yaml").with_network_margin(1.0)
    with Bench(config, workdir=tmp_path, ecus=["eps"]) as rig:
        handle = rig.ecu("eps")
        his = shipped_spec("his")
        steps = [step.model_copy(update={"erase": step.erase.model_copy(update={"range": "file"})})
                 if step.do == "logical_blocks" else step for step in his.steps]
        handle.flasher.profile = handle.profile.model_copy(update={"flash_spec": his.model_copy(update={"steps": steps})})
        yield handle


def test_each_erase_range_of_the_vbf_is_erased(eps: EcuHandle, tmp_path: Path) -> None:
    app, cal = identify("3.0.0") + bytes(range(256)) * 4, identify("3.0.0") + bytes(64)
    path = tmp_path / "eps.vbf"
    path.write_bytes(vbf_bytes([(0x00010000, app), (0x00080000, cal)]))
    result = eps.flasher.flash_software([load_software(path)], expect_version="3.0.0")
    erases = [step.detail for step in result.timeline.steps if step.name.startswith("RoutineControl erase")]
    assert [detail.split(",")[0] for detail in erases] == ["RID 0xff00 44 00 01 00 00 00 03 00 00",
                                                           "RID 0xff00 44 00 08 00 00 00 00 80 00"]
    assert result.version_after == "3.0.0"


def test_a_file_without_erase_ranges_is_a_usage_error(eps: EcuHandle) -> None:
    with pytest.raises(UsageError, match="gives none for logical block 0"):
        eps.flasher.flash_software([load_software(ROOT / "fixtures" / "software" / "eps-2.0.0.hex")])


def test_the_vbf_header_reaches_each_logical_block(tmp_path: Path) -> None:
    from bench.flash.block_plan import plan_blocks

    path = tmp_path / "signed.vbf"
    path.write_bytes(vbf_bytes(extra="    sw_signature_dev = 0x0A0B0C0D;\n"))
    blocks = plan_blocks([load_software(path)], [], "his")
    assert [block.header["sw_signature_dev"] for block in blocks] == ["0xa0b0c0d"] * 2
    assert blocks[0].erase == ((0x00010000, 0x00030000),)
