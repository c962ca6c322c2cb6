"""Seed-key shared libraries with the OEM seed-key DLL interface (GenerateKeyEx, GenerateKeyExOpt),
compiled from tests/data/seed_key/seed_key.c with gcc: the key they make, every error code named
with the library and the level, the profile's fields, and a virtual ECU flashed with such a key."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from bench.config import BenchConfig, SecurityConfig, load_bench, resolve_security_key
from bench.config.seed_key_library import SeedKeyLibraryError, load_key_library
from bench.errors import ConfigError
from bench.image import build_image
from bench.rig import Bench

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "tests" / "data" / "seed_key" / "seed_key.c"
FIRMWARE = REPO / "fixtures" / "firmware"
VIRTUAL_BENCH = REPO / "fixtures" / "benches" / "virtual.yaml"
SEED = bytes([0x12, 0x34, 0x56, 0x78])

Build = Callable[..., Path]


@pytest.fixture(scope="module")
def build_library(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """Compiles seed_key.c with the given -D flags into a shared library, once per flag set."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not on this machine: the seed-key library tests compile a C library")
    folder = tmp_path_factory.mktemp("seed-key")
    built: dict[tuple[str, ...], Path] = {}

    def build(*defines: str) -> Path:
        if defines not in built:
            target = folder / f"libseedkey{len(built)}.so"
            subprocess.run([gcc, "-shared", "-fPIC", "-O1", *(f"-D{d}" for d in defines), "-o", str(target),
                            str(SOURCE)], check=True, capture_output=True, text=True)
            built[defines] = target
        return built[defines]

    return build


def expected_key(level: int, seed: bytes, option: int = 0) -> bytes:
    """seed_key.c's algorithm, in Python."""
    return bytes(((b ^ 0xC3 ^ level ^ option) + i) & 0xFF for i, b in enumerate(reversed(seed)))


def test_generate_key_ex_makes_the_library_key(build_library: Build) -> None:
    key_function = load_key_library(build_library())
    assert key_function(0x11, SEED, {}) == expected_key(0x11, SEED)
    assert key_function(0x01, SEED, {}) == expected_key(0x01, SEED) != expected_key(0x11, SEED)


def test_options_call_generate_key_ex_opt(build_library: Build) -> None:
    key_function = load_key_library(build_library(), variant="BMS_A", options="Z")
    assert key_function(0x11, SEED, None) == expected_key(0x11, SEED, ord("Z"))


def test_an_error_code_names_the_library_the_level_and_its_meaning(build_library: Build) -> None:
    library = build_library("ONLY_LEVEL=0x01")
    key_function = load_key_library(library)
    with pytest.raises(SeedKeyLibraryError) as caught:
        key_function(0x11, SEED, {})
    message = str(caught.value)
    assert str(library) in message and "security level 0x11" in message
    assert "returned 2 (KGRE_SecurityLevelInvalid: the library has no algorithm for this security level)" in message
    assert isinstance(caught.value, ConfigError)  # the bench's configuration, never the ECU


def test_an_unknown_variant_is_named(build_library: Build) -> None:
    with pytest.raises(SeedKeyLibraryError, match=r"returned 3 \(KGRE_VariantInvalid.*key_variant"):
        load_key_library(build_library(), variant="ABS_B")(0x11, SEED, {})


def test_a_buffer_too_small_says_which_setting_to_raise(build_library: Build) -> None:
    key_function = load_key_library(build_library(), buffer_size=2)
    with pytest.raises(SeedKeyLibraryError, match=r"returned 1 \(KGRE_BufferToSmall.*key_buffer_size"):
        key_function(0x11, SEED, {})


def test_a_library_that_overstates_its_key_size_is_caught(build_library: Build) -> None:
    key_function = load_key_library(build_library("OVERSTATE_SIZE"), buffer_size=8)
    with pytest.raises(SeedKeyLibraryError, match="key of 9 bytes into a buffer of 8"):
        key_function(0x11, SEED, {})


def test_a_library_without_the_opt_function_is_refused_when_options_are_given(build_library: Build) -> None:
    with pytest.raises(SeedKeyLibraryError, match="does not export GenerateKeyExOpt"):
        load_key_library(build_library("NO_OPTIONS"), options="Z")


def test_a_file_that_is_no_library_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "seedkey.so"
    fake.write_text("not a shared object")
    with pytest.raises(SeedKeyLibraryError, match="cannot load the seed-key library") as caught:
        load_key_library(fake)
    assert caught.value.file == str(fake)


def test_the_profile_resolves_a_library_to_the_same_kind_of_callable(build_library: Build) -> None:
    security = SecurityConfig(key_library=build_library(), key_variant="BMS_A")
    assert resolve_security_key(security)(0x11, SEED, {}) == expected_key(0x11, SEED)
    assert resolve_security_key(SecurityConfig())(0x11, SEED, {"secret": 0}) == bytes(b ^ 0x11 for b in SEED)


def test_key_function_and_key_library_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="either key_function .* or key_library"):
        SecurityConfig(key_function="oem.keys:level_11_key", key_library=tmp_path / "lib.so")
    with pytest.raises(ValidationError, match="key_variant apply to a seed-key library; add key_library"):
        SecurityConfig(key_variant="BMS_A")
    with pytest.raises(ValidationError, match="key_params are the arguments of a key_function"):
        SecurityConfig(key_library=tmp_path / "lib.so", key_params={"secret": 1})


def test_a_dumped_security_section_validates_again(tmp_path: Path) -> None:
    """Benches written from a loaded model (tests/test_slcan_sim.py) carry every field."""
    for security in (SecurityConfig(), SecurityConfig(key_library=tmp_path / "lib.so", key_variant="BMS_A")):
        assert SecurityConfig.model_validate(security.model_dump(mode="json")) == security


def write_bench(tmp_path: Path, security: str) -> Path:
    """A bench file with one profile (security section ``security``) and no ECU."""
    bench = tmp_path / "bench.yaml"
    bench.write_text(f"name: seed-key-bench\nbuses: {{}}\necus: {{}}\nprofiles:\n"
                     f"  sb:\n    bootloader: single_bank\n    security: {security}\n")
    return bench


def virtual_bench_with(library: Path) -> BenchConfig:
    """The default virtual bench, its bcm's profile taking keys from ``library`` (tester and ECU)."""
    config = load_bench(VIRTUAL_BENCH)
    name = config.ecus["bcm"].profile
    profile = config.profiles[name]
    security = SecurityConfig(level=profile.security.level, key_library=library)
    profiles = {**config.profiles, name: profile.model_copy(update={"security": security})}
    return config.model_copy(update={"profiles": profiles})


def test_a_bench_file_names_the_library_relative_to_itself(tmp_path: Path, build_library: Build) -> None:
    shutil.copy(build_library(), tmp_path / "seedkey.so")
    config = load_bench(write_bench(tmp_path, "{key_library: seedkey.so, key_variant: BMS_A}"))
    assert config.profiles["sb"].security.key_library == tmp_path / "seedkey.so"


def test_a_bench_file_with_a_missing_library_names_file_line_and_field(tmp_path: Path) -> None:
    bench = write_bench(tmp_path, "{key_library: absent.so}")
    with pytest.raises(ConfigError, match=r"profiles\.sb\.security\.key_library: file not found") as caught:
        load_bench(bench)
    assert caught.value.file == str(bench) and caught.value.line == 7  # the line of `security:`


def test_a_virtual_ecu_is_flashed_with_the_key_of_a_compiled_library(tmp_path: Path, build_library: Build) -> None:
    config = virtual_bench_with(build_library())
    with Bench(config, workdir=tmp_path) as rig:
        result = rig.ecu("bcm").flasher.flash(build_image(FIRMWARE / "app-2.0.0.yaml"))
    assert result.version_after == "2.0.0"
    assert any(step.name.startswith("SecurityAccess") and step.outcome == "ok" for step in result.timeline.steps)


def test_a_library_that_refuses_the_level_stops_the_flash_as_a_configuration_error(
        tmp_path: Path, build_library: Build) -> None:
    config = virtual_bench_with(build_library("ONLY_LEVEL=0x01"))
    with Bench(config, workdir=tmp_path) as rig, \
            pytest.raises(SeedKeyLibraryError, match="security level 0x11 .*KGRE_SecurityLevelInvalid"):
        rig.ecu("bcm").flasher.flash(build_image(FIRMWARE / "app-2.0.0.yaml"))
