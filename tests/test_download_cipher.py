"""Encrypted downloads (RequestDownload's encryption method, ISO 14229-1 14.2): AES-128-CTR as NIST
specifies it, applied by the tester after compression and undone by the virtual HIS-style ECU, as the
flash specification says; a key the ECU does not share fails the flash; mistakes in the spec fail
when it loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bench.config.flash_spec import Download, LogicalBlocksStep, shipped_spec
from bench.errors import FlashError
from bench.flash import Flasher
from bench.image.download_cipher import decryptor, encrypt
from bench.image.software import load_software
from bench.rig import Bench
from tests.test_flash_spec_his import APP_2, his_bench

KEY = "2b7e151628aed2a6abf7158809cf4f3c"
NONCE = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"


def test_aes_128_ctr_gives_nist_sp_800_38a_f_5_1() -> None:
    plain = bytes.fromhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
    cipher = encrypt(plain, bytes.fromhex(KEY), bytes.fromhex(NONCE))
    assert cipher.hex() == "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
    ecu = decryptor(bytes.fromhex(KEY), bytes.fromhex(NONCE))
    assert ecu.update(cipher[:5]) + ecu.update(cipher[5:]) == plain  # in TransferData-sized pieces


def encrypted_his(key: str = KEY):
    """The shipped his spec, its downloads zlib-compressed and encrypted (method 1: AES-128-CTR)."""
    spec = shipped_spec("his")
    download = Download.model_validate({**spec.blocks.download.model_dump(exclude_defaults=True),
                                        "encryption": 1, "cipher": "aes-128-ctr", "key": {"hex": key},
                                        "nonce": {"hex": NONCE}})
    steps = [step.model_copy(update={"download": download}) if isinstance(step, LogicalBlocksStep) else step
             for step in spec.steps]
    return spec.model_copy(update={"steps": steps})


def test_the_tester_encrypts_and_the_ecu_decrypts_by_the_spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = his_bench(monkeypatch)
    profile = config.profiles["acme"].model_copy(update={"flash_spec": encrypted_his()})
    with Bench(config.model_copy(update={"profiles": {"acme": profile}}), workdir=tmp_path) as rig:
        result = rig.ecu("acme").flasher.flash_software([load_software(APP_2)], expect_version="2.0.0")
    download = next(step for step in result.timeline.steps if step.name == "RequestDownload block 0")
    assert "DFI 0x11" in download.detail and result.version_after == "2.0.0"


def test_a_key_the_ecu_does_not_share_fails_the_flash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = his_bench(monkeypatch)
    profile = config.profiles["acme"].model_copy(update={"flash_spec": encrypted_his()})
    with Bench(config.model_copy(update={"profiles": {"acme": profile}}), workdir=tmp_path) as rig:
        ecu = rig.ecu("acme")
        tester = profile.model_copy(update={"flash_spec": encrypted_his(key="00" * 16)})
        with pytest.raises(FlashError, match="TransferData block 0 failed: .*RequestOutOfRange"):
            Flasher(ecu.name, ecu.link, tester, diagnostics=ecu.diagnostics).flash_software([load_software(APP_2)])
        assert ecu.sim is not None and ecu.sim.core().boot.installed_version() is None


@pytest.mark.parametrize("fields, message", [
    ({"encryption": 1}, "encryption method 1 needs the cipher it stands for"),
    ({"cipher": "aes-128-ctr", "encryption": 1}, "cipher aes-128-ctr needs key"),
    ({"cipher": "aes-128-ctr", "encryption": 1, "key": {"hex": "00" * 8}}, "needs key: .* of 16 bytes"),
    ({"cipher": "aes-128-ctr", "encryption": 1, "key": {"hex": KEY}, "nonce": {"hex": "00"}}, "nonce has 1 bytes"),
    ({"cipher": "aes-128-cbc", "encryption": 1, "key": {"hex": KEY}}, "cipher\n  Input should be 'none' or 'aes-128-ctr'"),
])
def test_an_encryption_the_spec_cannot_apply_fails_when_it_loads(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Download.model_validate(fields)
