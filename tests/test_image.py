"""Firmware image format, Ed25519 signing and reproducible recipes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.image import (HEADER_SIZE, AppDescriptor, FirmwareImage, ImageFormatError, ImageHeader,
                         SignatureError, build_image, key_id, load_private_key, load_public_key, load_recipe,
                         sign_image, verify_image)

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "fixtures" / "keys"
FIRMWARE = ROOT / "fixtures" / "firmware"


@pytest.fixture(scope="module")
def dev_key():
    return load_private_key(KEYS / "dev_ed25519.pem")


@pytest.fixture(scope="module")
def trusted():
    return load_public_key(KEYS / "dev_ed25519.pub.pem")


@pytest.fixture(scope="module")
def image(dev_key):
    payload = AppDescriptor().pack() + bytes(range(256)) * 16
    return sign_image(payload, version="2.1.0", security_version=7, private_key=dev_key)


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def write_recipe(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(body)
    return path


RECIPE = f"""\
version: "4.0.0"
security_version: 4
size: 4096
self_test: pass
signing_key: {KEYS / "dev_ed25519.pem"}
"""


# --- format ---------------------------------------------------------------------------------

def test_header_round_trips_through_exactly_header_size_bytes(image):
    packed = image.header.pack()
    assert len(packed) == HEADER_SIZE
    assert packed.startswith(b"OTAIMG01")
    assert ImageHeader.parse(packed) == image.header
    assert image.header.signed_bytes() == packed[:len(image.header.signed_bytes())]
    assert FirmwareImage.from_bytes(image.to_bytes()) == image


def test_header_digest_identifies_the_packed_header(image, dev_key):
    other = sign_image(image.payload, version="2.1.1", security_version=7, private_key=dev_key)
    assert len(image.header_digest) == 32
    assert image.header_digest != other.header_digest


def test_parse_rejects_bad_magic(image):
    raw = b"NOTANIMG" + image.header.pack()[8:]
    with pytest.raises(ImageFormatError, match="magic"):
        ImageHeader.parse(raw)


def test_parse_rejects_erased_flash():
    with pytest.raises(ImageFormatError):
        ImageHeader.parse(b"\xff" * HEADER_SIZE)


def test_parse_rejects_truncated_header(image):
    with pytest.raises(ImageFormatError, match="truncated"):
        ImageHeader.parse(image.header.pack()[:HEADER_SIZE - 1])


def test_from_bytes_rejects_payload_length_mismatch(image):
    with pytest.raises(ImageFormatError, match="length"):
        FirmwareImage.from_bytes(image.to_bytes()[:-1])
    with pytest.raises(ImageFormatError, match="length"):
        FirmwareImage.from_bytes(image.to_bytes() + b"\0")


@pytest.mark.parametrize("passes", [True, False])
def test_app_descriptor_self_test_round_trips(passes):
    packed = AppDescriptor(self_test_passes=passes).pack()
    assert len(packed) == AppDescriptor.SIZE
    assert AppDescriptor.parse(packed).self_test_passes is passes


def test_app_descriptor_rejects_bad_magic():
    with pytest.raises(ImageFormatError, match="magic"):
        AppDescriptor.parse(b"\0" * AppDescriptor.SIZE)


# --- signing --------------------------------------------------------------------------------

def test_signed_image_verifies(image, trusted):
    verify_image(image.header, image.payload, trusted)
    assert image.header.key_id == key_id(trusted)
    assert image.header.payload_length == len(image.payload)


def test_flipped_payload_byte_is_a_digest_mismatch(image, trusted):
    with pytest.raises(SignatureError, match="payload digest mismatch"):
        verify_image(image.header, flip(image.payload, 1000), trusted)


def test_flipped_signature_byte_is_a_bad_signature(image, trusted):
    raw = flip(image.to_bytes(), HEADER_SIZE - 1)
    tampered = FirmwareImage.from_bytes(raw)
    with pytest.raises(SignatureError, match="bad signature"):
        verify_image(tampered.header, tampered.payload, trusted)


def test_edited_header_field_is_a_bad_signature(image, trusted):
    with pytest.raises(SignatureError, match="bad signature"):
        verify_image(replace(image.header, security_version=99), image.payload, trusted)


def test_untrusted_public_key_is_an_unknown_key_id(image):
    foreign = load_public_key(KEYS / "foreign_ed25519.pub.pem")
    with pytest.raises(SignatureError, match="unknown key id"):
        verify_image(image.header, image.payload, foreign)


def test_truncated_payload_is_a_length_mismatch(image, trusted):
    with pytest.raises(SignatureError, match="payload length mismatch"):
        verify_image(image.header, image.payload[:-16], trusted)


def test_missing_key_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError) as info:
        load_private_key(missing)
    assert str(missing) in str(info.value)


def test_public_key_is_not_a_signing_key():
    with pytest.raises(ConfigError, match="dev_ed25519.pub.pem"):
        load_private_key(KEYS / "dev_ed25519.pub.pem")


# --- recipes --------------------------------------------------------------------------------

def test_fixture_recipes_build_what_their_names_say(trusted):
    cases = {
        "app-1.0.0": ("1.0.0", 1, 65536, True),
        "app-2.0.0": ("2.0.0", 2, 65536, True),
        "app-2.0.0-selftest-fail": ("2.0.0-bad", 2, 65536, False),
        "app-0.9.0-downgrade": ("0.9.0", 0, 65536, True),
        "app-3.0.0-1mib": ("3.0.0", 3, 1048576, True),
    }
    for name, (version, security_version, size, passes) in cases.items():
        built = build_image(FIRMWARE / f"{name}.yaml")
        assert (built.header.version, built.header.security_version, len(built.payload),
                built.app.self_test_passes) == (version, security_version, size, passes), name
        verify_image(built.header, built.payload, trusted)
    foreign = build_image(FIRMWARE / "app-2.0.0-foreign.yaml")
    with pytest.raises(SignatureError, match="unknown key id"):
        verify_image(foreign.header, foreign.payload, trusted)


def test_build_is_deterministic(tmp_path):
    """Same recipe, same bytes: across files, processes and hash seeds, not just from the cache."""
    first = build_image(write_recipe(tmp_path, RECIPE))
    (tmp_path / "copy").mkdir()
    copy = write_recipe(tmp_path / "copy", RECIPE)
    assert build_image(load_recipe(copy)).to_bytes() == first.to_bytes()
    script = "import hashlib, sys; from bench.image import build_image; " \
             "print(hashlib.sha256(build_image(sys.argv[1]).to_bytes()).hexdigest())"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script, str(copy)], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == hashlib.sha256(first.to_bytes()).hexdigest()


def test_editing_a_recipe_rebuilds_it(tmp_path):
    path = write_recipe(tmp_path, RECIPE)
    before = build_image(path)
    path.write_text(RECIPE.replace("self_test: pass", "self_test: fail"))
    assert build_image(path).app.self_test_passes is False
    assert before.app.self_test_passes is True


def test_versions_build_different_payloads(tmp_path):
    one = build_image(write_recipe(tmp_path, RECIPE)).payload
    other = build_image(write_recipe(tmp_path, RECIPE.replace("4.0.0", "4.0.1"))).payload
    assert one[:AppDescriptor.SIZE] == other[:AppDescriptor.SIZE]
    differing = sum(a != b for a, b in zip(one[AppDescriptor.SIZE:], other[AppDescriptor.SIZE:]))
    assert differing > len(one) // 2  # the whole body is seeded by the version, not just a banner


def test_repeated_build_is_served_from_the_cache():
    path = FIRMWARE / "app-1.0.0.yaml"
    assert build_image(path) is build_image(path)


def test_payload_blocks_are_all_distinct():
    """A block written at the wrong offset must change the digest, so no two blocks are equal."""
    payload = build_image(FIRMWARE / "app-2.0.0.yaml").payload
    blocks = [payload[i:i + 256] for i in range(0, len(payload), 256)]
    assert len(set(blocks)) == len(blocks)


def test_recipe_with_unknown_key_names_file_line_and_field(tmp_path):
    path = write_recipe(tmp_path, RECIPE + "sefl_test: fail\n")
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    assert info.value.file == str(path.resolve())
    assert info.value.field == "sefl_test"
    assert info.value.line == 6
    assert "sefl_test" in str(info.value) and str(path.resolve()) in str(info.value)


def test_recipe_with_bad_value_names_the_field(tmp_path):
    path = write_recipe(tmp_path, RECIPE.replace("security_version: 4", "security_version: -1"))
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    assert (info.value.field, info.value.line) == ("security_version", 2)


def test_recipe_with_missing_signing_key_names_the_path(tmp_path):
    path = write_recipe(tmp_path, RECIPE.replace(str(KEYS / "dev_ed25519.pem"), "keys/missing.pem"))
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    assert info.value.field == "signing_key"
    assert str(tmp_path.resolve() / "keys" / "missing.pem") in str(info.value)


def test_missing_recipe_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="absent.yaml"):
        load_recipe(tmp_path / "absent.yaml")


def test_a_signature_that_verified_once_proves_nothing_for_other_bytes_or_keys(image, trusted, dev_key):
    verify_image(image.header, image.payload, trusted)
    verify_image(image.header, image.payload, trusted)  # the same three again: still good
    tampered = FirmwareImage.from_bytes(flip(image.to_bytes(), HEADER_SIZE - 1))
    with pytest.raises(SignatureError, match="bad signature"):
        verify_image(tampered.header, tampered.payload, trusted)
    with pytest.raises(SignatureError, match="bad signature"):  # the good signature over other bytes
        verify_image(replace(image.header, version="9.9.9"), image.payload, trusted)
    foreign_key = load_private_key(KEYS / "foreign_ed25519.pem")
    foreign = sign_image(image.payload, version="2.1.0", security_version=7, private_key=foreign_key)
    verify_image(foreign.header, foreign.payload, foreign_key.public_key())
    forged = replace(foreign.header, key_id=image.header.key_id)  # the trusted key's id on a foreign signature
    with pytest.raises(SignatureError, match="bad signature"):
        verify_image(forged, foreign.payload, trusted)
