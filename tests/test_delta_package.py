"""Delta packages as files: what they name, how they are signed and refused, how they are built
(from recipes that share code), and how a profile says it takes them."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from bench.config import load_bench
from bench.errors import ConfigError
from bench.image import (HEADER_SIZE, DeltaHeader, DeltaPackage, ImageFormatError, PatchLayout, SignatureError,
                         build_delta, build_image, create_delta_package, load_private_key, load_public_key,
                         verify_delta)
from sim_factory import FIRMWARE, KEYS, make_profile

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_BENCH = ROOT / "fixtures" / "benches" / "virtual.yaml"
IN_PLACE = PatchLayout("in-place", memory_size=0x2_0000, segment_size=0x1000)
SEQUENTIAL = PatchLayout("sequential")


@pytest.fixture(scope="module")
def trusted():
    return load_public_key(KEYS / "dev_ed25519.pub.pem")


@pytest.fixture(scope="module")
def images():
    return build_image(FIRMWARE / "app-1.0.0.yaml"), build_image(FIRMWARE / "app-1.1.0.yaml")


@pytest.fixture(scope="module", params=[SEQUENTIAL, IN_PLACE], ids=["sequential", "in-place"])
def package(request, images) -> DeltaPackage:
    return build_delta(FIRMWARE / "app-1.0.0.yaml", FIRMWARE / "app-1.1.0.yaml", request.param)


# -- what a package names ---------------------------------------------------------------------

def test_header_names_the_exact_base_and_target(package: DeltaPackage, images, trusted) -> None:
    base, target = images
    h = package.header
    assert (h.base_version, h.base_digest, h.base_length) == ("1.0.0", base.digest, len(base.to_bytes()))
    assert (h.version, h.target_digest, h.target_length) == ("1.1.0", target.digest, len(target.to_bytes()))
    assert h.security_version == target.header.security_version
    assert h.patch_sha256 == hashlib.sha256(package.patch).digest() and h.patch_length == len(package.patch)
    assert base.digest == hashlib.sha256(base.to_bytes()).digest()
    verify_delta(h, package.patch, trusted)
    assert package.applies_to(base.digest) and not package.applies_to(target.digest)


def test_round_trip_through_bytes(package: DeltaPackage) -> None:
    raw = package.to_bytes()
    assert len(raw) == HEADER_SIZE + len(package.patch)
    assert DeltaPackage.from_bytes(raw) == package


def test_patch_type_follows_the_layout(images) -> None:
    base, target = images
    key = load_private_key(KEYS / "dev_ed25519.pem")
    for layout in (SEQUENTIAL, IN_PLACE):
        assert create_delta_package(base, target, private_key=key, layout=layout).header.patch_type == \
            layout.patch_type


def test_a_small_release_makes_a_small_package(package: DeltaPackage, images) -> None:
    _base, target = images
    assert package.header.patch_length < len(target.to_bytes()) // 10


# -- refusals -------------------------------------------------------------------------------

def test_tampered_patch_is_refused(package: DeltaPackage, trusted) -> None:
    patch = bytearray(package.patch)
    patch[len(patch) // 2] ^= 0x01
    with pytest.raises(SignatureError, match="^patch digest mismatch"):
        verify_delta(package.header, bytes(patch), trusted)


def test_truncated_patch_is_refused(package: DeltaPackage, trusted) -> None:
    with pytest.raises(SignatureError, match="^patch length mismatch"):
        verify_delta(package.header, package.patch[:-1], trusted)
    with pytest.raises(ImageFormatError, match="truncated or padded"):
        DeltaPackage.from_bytes(package.to_bytes()[:-10])


def test_header_changed_after_signing_is_refused(package: DeltaPackage, trusted) -> None:
    forged = replace(package.header, base_version="0.1.0")
    with pytest.raises(SignatureError, match="^bad signature"):
        verify_delta(forged, package.patch, trusted)


def test_package_signed_by_another_key_is_refused(images, trusted) -> None:
    base, target = images
    foreign = create_delta_package(base, target, private_key=load_private_key(KEYS / "foreign_ed25519.pem"),
                                   layout=SEQUENTIAL)
    with pytest.raises(SignatureError, match="^unknown key id"):
        verify_delta(foreign.header, foreign.patch, trusted)


@pytest.mark.parametrize(("damage", "words"), [
    (lambda raw: b"OTAIMG01" + raw[8:], "bad delta package magic"),
    (lambda raw: raw[:HEADER_SIZE - 1], "header truncated"),
    (lambda raw: raw[:180] + b"\x01" + raw[181:], "reserved bytes"),
    (lambda raw: raw[:176] + b"\x07" + raw[177:], "unknown patch type"),
])
def test_malformed_header(package: DeltaPackage, damage, words: str) -> None:
    with pytest.raises(ImageFormatError, match=words):
        DeltaHeader.parse(damage(package.to_bytes()))


def test_in_place_needs_room_for_the_shift(images) -> None:
    base, target = images
    cramped = PatchLayout("in-place", memory_size=len(base.to_bytes()) + 0x1000, segment_size=0x1000)
    with pytest.raises(ConfigError, match="two 4096 B segments"):
        create_delta_package(base, target, private_key=load_private_key(KEYS / "dev_ed25519.pem"), layout=cramped)


# -- recipes that share code ------------------------------------------------------------------

def test_code_from_shares_everything_but_the_changed_blocks(images) -> None:
    base, target = images
    old, new = base.payload, target.payload
    differing = sum(a != b for a, b in zip(old, new))
    assert len(old) == len(new) and 0 < differing <= 3 * 256 + 8  # three blocks and the banner
    assert b"application 1.1.0" in new and b"application 1.0.0" not in new


def test_changed_blocks_need_code_from(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f'version: "1.2.0"\nsecurity_version: 1\nsize: 8192\nsigning_key: {KEYS / "dev_ed25519.pem"}\n'
                      "changed_blocks: [1]\n")
    with pytest.raises(ConfigError, match="needs code_from") as caught:
        build_image(recipe)
    assert f"{recipe}:5: changed_blocks" in str(caught.value)


def test_changed_block_beyond_the_code(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f'version: "1.2.0"\nsecurity_version: 1\nsize: 8192\nsigning_key: {KEYS / "dev_ed25519.pem"}\n'
                      'code_from: "1.0.0"\nchanged_blocks: [400]\n')
    with pytest.raises(ConfigError, match="block 400 does not exist") as caught:
        build_image(recipe)
    assert str(recipe) in str(caught.value)


def test_missing_recipe_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read firmware recipe") as caught:
        build_delta(FIRMWARE / "app-1.0.0.yaml", tmp_path / "app-9.yaml", SEQUENTIAL)
    assert "app-9.yaml" in str(caught.value)


# -- the profile says whether, and how ---------------------------------------------------------

def test_layout_for_profile() -> None:
    bench = load_bench(SHIPPED_BENCH)
    ab, single = bench.profiles["ab"], bench.profiles["single-bank"]
    assert PatchLayout.for_profile(ab) == PatchLayout("sequential", "heatshrink")
    assert PatchLayout.for_profile(single) == PatchLayout("in-place", "heatshrink", single.memory.size,
                                                          single.delta.segment_size)
    with pytest.raises(ConfigError, match="takes no delta packages"):
        PatchLayout.for_profile(make_profile("ab"))


@pytest.mark.parametrize(("delta", "words"), [
    ("{address: 0x00100000, size: 0x40000}", "overlaps the application region"),
    ("{address: 0x00200000, size: 0x40000, segment_size: 0x3000}", "not a multiple of delta.segment_size"),
    ("{address: 0x00200000, size: 0x40000, compression: zip}", "'heatshrink'"),
])
def test_delta_section_mistakes_name_file_and_field(tmp_path: Path, delta: str, words: str) -> None:
    text = SHIPPED_BENCH.read_text().replace("../../dbc/", f"{ROOT}/dbc/").replace("../", f"{ROOT}/fixtures/")
    start = text.index("    delta:", text.index("  single-bank:"))
    end = text.index("\n\n", start)
    bench = tmp_path / "bench.yaml"
    bench.write_text(text[:start] + f"    delta: {delta}" + text[end:])
    with pytest.raises(ConfigError, match=words) as caught:
        load_bench(bench)
    assert str(bench) in str(caught.value) and "profiles.single-bank" in str(caught.value)
