"""An ECU whose bootloader is not the bench's keeps no boot status DID (0xFD02) and answers it, as ISO
14229-1 says of an unsupported DID, with 0x31 requestOutOfRange. The oracles and the ECU's description
in reports must judge it by what it has, its version DID, instead of failing on the missing one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from udsoncan import Response, services
from udsoncan.exceptions import NegativeResponseException

from bench.config.models import EcuProfile
from bench.flash.diagnostics import EcuDiagnostics
from bench.scenarios.oracles import WrongVersion, version_is_old_or_new

PROFILE = EcuProfile(bootloader="his", flash_spec="his",
                     memory={"blocks": [{"name": "application", "address": 0x10000, "size": 0x8000}]})


class ForeignEcuClient:
    """The udsoncan client of an ECU that has the version DID (0x22 while its software is incomplete) and
    no boot status DID."""

    def __init__(self, version: bytes | None) -> None:
        self.version = version

    def read_data_by_identifier(self, did: int) -> SimpleNamespace:
        if did == PROFILE.dids.version and self.version is not None:
            return SimpleNamespace(service_data=SimpleNamespace(values={did: self.version}))
        code = 0x22 if did == PROFILE.dids.version else 0x31
        raise NegativeResponseException(Response(services.ReadDataByIdentifier, code=code))


def foreign_ecu(version: bytes | None) -> SimpleNamespace:
    return SimpleNamespace(name="orion", profile=PROFILE, diagnostics=EcuDiagnostics(ForeignEcuClient(version), PROFILE))


def test_an_ecu_in_its_bootloader_without_a_boot_status_did_is_in_a_safe_state() -> None:
    assert version_is_old_or_new(foreign_ecu(None), old="1.0.0", new="2.0.0") is None
    assert version_is_old_or_new(foreign_ecu(b"2.0.0"), old="1.0.0", new="2.0.0") == "2.0.0"


def test_another_version_on_an_ecu_without_a_boot_status_did_is_a_wrong_version() -> None:
    with pytest.raises(WrongVersion, match=r"orion reports version 1\.5\.0 \(no boot status DID\); only 1\.0\.0 or"):
        version_is_old_or_new(foreign_ecu(b"1.5.0"), old="1.0.0", new="2.0.0")


def test_the_description_of_an_ecu_without_a_boot_status_did_says_what_it_reports() -> None:
    assert foreign_ecu(b"2.0.0").diagnostics.describe() == "ECU state: version 2.0.0, no boot status DID"
    assert foreign_ecu(None).diagnostics.describe() == \
        "ECU state: version none (no valid application), no boot status DID"

