"""The campaign manifest: its schema's errors name the file, line and field; dependencies make
waves; the detached signature covers the file's exact bytes; the master's plan puts ECUs of
different buses side by side."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bench.errors import ConfigError
from bench.image import SignatureError, load_public_key
from bench.rig import Bench
from bench.vehicle.manifest import install_order, parse_manifest
from bench.vehicle.signature import signature_path, verify_manifest
from campaigns import DEV_PUB, ROOT, make_master, read_manifest, virtual_bench, write_campaign


def edited(path: Path, **changes: object) -> Path:
    document = yaml.safe_load(path.read_text())
    document.update(changes)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_paths_resolve_beside_the_manifest_and_dependencies_make_waves(tmp_path: Path) -> None:
    manifest = read_manifest(write_campaign(tmp_path))
    assert manifest.targets["eps"].to.image == tmp_path / "eps-2.0.0.hex"
    assert install_order(manifest) == [["bcm", "eps"], ["bms"]]
    assert manifest.released_together({"bcm": "1.1.0", "eps": "2.0.0", "bms": "1.1.0", "other": "9"})
    assert not manifest.released_together({"bcm": "1.1.0", "eps": "1.0.0", "bms": "1.1.0"})


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"sequence": 0}, "sequence", "greater than or equal to 1"),
    ({"expires": "2026-11-01T00:00:00Z"}, "", "expires must be after issued"),
    ({"activation": "one_by_one"}, "activation", "all_or_nothing"),
    ({"rollout": "fast"}, "rollout", "Extra inputs are not permitted"),
    ({"issued": "2026-12-01T00:00:00"}, "issued", "timezone"),
])
def test_a_wrong_manifest_names_its_field(tmp_path: Path, changes: dict[str, object], field: str,
                                          message: str) -> None:
    path = edited(write_campaign(tmp_path), **changes)
    with pytest.raises(ConfigError, match=message) as error:
        read_manifest(path)
    assert error.value.file == str(path) and (error.value.field or "") == field
    assert error.value.line is not None


def test_a_dependency_on_no_target_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="targets.bms.after names 'gateway', which is not a target"):
        read_manifest(write_campaign(tmp_path, after={"bms": ["gateway"]}))


def test_the_signature_covers_the_files_exact_bytes(tmp_path: Path) -> None:
    path = write_campaign(tmp_path)
    key, line = load_public_key(DEV_PUB), signature_path(path).read_text()
    verify_manifest(path.read_bytes(), line, key)
    with pytest.raises(SignatureError, match="bad signature"):
        verify_manifest(path.read_bytes() + b"\n", line, key)  # the same YAML, other bytes
    with pytest.raises(SignatureError, match="malformed signature"):
        verify_manifest(path.read_bytes(), "rsa 00 00", key)
    foreign = load_public_key(ROOT / "fixtures" / "keys" / "foreign_ed25519.pub.pem")
    with pytest.raises(SignatureError, match="unknown key id"):
        verify_manifest(path.read_bytes(), line, foreign)


def test_ecus_of_different_buses_are_planned_side_by_side(tmp_path: Path) -> None:
    with Bench(virtual_bench(), workdir=tmp_path / "bench", ecus=["bcm", "eps", "bms"], gateway=False) as rig:
        master = make_master(rig, tmp_path)
        independent = read_manifest(write_campaign(tmp_path / "a", after={}))
        assert master.plan(independent) == [[["bcm", "eps"], ["bms"]]]  # bcm and eps share the body bus
        one_by_one = read_manifest(edited(write_campaign(tmp_path / "b", after={}), install={"parallel": "none"}))
        assert master.plan(one_by_one) == [[["bcm", "eps", "bms"]]]
        assert master.plan(read_manifest(write_campaign(tmp_path / "c"))) == [[["bcm", "eps"]], [["bms"]]]


def test_the_readme_example_is_a_valid_manifest(tmp_path: Path) -> None:
    section = (ROOT / "README.md").read_text().split("## Vehicle campaigns", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    text = re.sub(r"<[^>]*>", "ab" * 32, example)  # the digests a reader fills in
    manifest = parse_manifest(text, file=tmp_path / "campaign.yaml")
    assert install_order(manifest) == [["bcm", "eps"], ["bms"]]
    assert manifest.targets["bcm"].to.image == tmp_path / "bcm-1.1.0.img"
