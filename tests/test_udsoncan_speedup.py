"""The response-code name and service look-up memos give udsoncan's own answers, are installed by
starting a bench, and importing the bench's modules changes nothing in udsoncan."""

import subprocess
import sys
from pathlib import Path

from udsoncan.BaseService import BaseSubfunction
from udsoncan.ResponseCode import ResponseCode
from udsoncan.services import DiagnosticSessionControl, ECUReset

from bench.transport import udsoncan_speedup

REPO = Path(__file__).resolve().parents[1]


def test_names_are_udsoncans_and_looked_up_once() -> None:
    udsoncan_speedup.install()
    udsoncan_speedup.install()  # idempotent: one cache, not a cache of a cache
    lookup = ResponseCode.get_name.__wrapped__
    for code in range(256):
        assert ResponseCode.get_name(code) == lookup(ResponseCode, code)
    assert ResponseCode.get_name(0x78) == "RequestCorrectlyReceived_ResponsePending"
    assert ResponseCode.get_name(0x00) == "PositiveResponse"
    assert ResponseCode.get_name.cache_info().currsize == 256
    assert ResponseCode.get_name.__wrapped__ is lookup


def test_subfunction_names_are_udsoncans_per_class() -> None:
    udsoncan_speedup.install()
    lookup = BaseSubfunction.get_name.__wrapped__
    for subfunction in (DiagnosticSessionControl.Session, ECUReset.ResetType):
        for code in range(8):
            assert subfunction.get_name(code) == lookup(subfunction, code)
    assert DiagnosticSessionControl.Session.get_name(2) == "programmingSession"
    assert ECUReset.ResetType.get_name(1) == "hardReset"


def test_importing_the_bench_patches_nothing_and_starting_a_bench_installs_the_memo(tmp_path: Path) -> None:
    code = f"""
import pathlib
import bench.rig, bench.sim.server, bench.transport.uds_client, bench.pytest.plugin, bench.cli
from udsoncan.ResponseCode import ResponseCode
from udsoncan.BaseService import BaseService
print(hasattr(ResponseCode.get_name, "__wrapped__"), hasattr(BaseService.from_request_id, "__wrapped__"))
from bench.config import load_bench
with bench.rig.Bench(load_bench({str(REPO / "fixtures/benches/virtual.yaml")!r}), workdir=pathlib.Path({str(tmp_path)!r}),
                     ecus=["bcm"], gateway=False):
    print(hasattr(ResponseCode.get_name, "__wrapped__"), hasattr(BaseService.from_request_id, "__wrapped__"))
"""
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=REPO, timeout=60).stdout.split()
    assert lines == ["False", "False", "True", "True"]


def test_service_look_ups_are_udsoncans_and_see_a_service_defined_later() -> None:
    """In a process of its own: the custom service it defines would stay in udsoncan's class tree."""
    code = """
from udsoncan.BaseService import BaseService
from udsoncan.services import ReadDataByIdentifier
from bench.transport import udsoncan_speedup

udsoncan_speedup.install()
udsoncan_speedup.install()
for name in ("from_request_id", "from_response_id"):
    memo = getattr(BaseService, name)
    lookup = memo.__wrapped__
    assert not hasattr(lookup, "cache_clear"), "a memo of a memo"
    for sid in range(256):
        assert memo(sid) is lookup(BaseService, sid)
assert BaseService.from_request_id(0x22) is ReadDataByIdentifier
assert BaseService.from_request_id(0xBA) is None

class OemService(BaseService):  # a custom service defined after the answers were kept
    _sid = 0xBA

assert BaseService.from_request_id(0xBA) is OemService
assert BaseService.from_response_id(0xFA) is OemService
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.stdout.split() == ["ok"], done.stderr
