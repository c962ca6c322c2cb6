"""``firmware_builder``: a name of fixtures/firmware is a release of software files or a recipe,
told by the file's content as it is now."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.image.builders import FIRMWARE_DIR, firmware_builder
from bench.image.format import FirmwareImage
from bench.image.release import SoftwareRelease

REPO = Path(__file__).resolve().parents[1]


def test_a_firmware_file_rewritten_from_release_to_recipe_builds_as_what_it_now_says(tmp_path: Path) -> None:
    firmware = tmp_path / FIRMWARE_DIR
    shutil.copytree(REPO / "fixtures", tmp_path / "fixtures")
    build = firmware_builder(tmp_path)
    release = build("eps-2.0.0")
    assert isinstance(release, SoftwareRelease) and release.version == "2.0.0"

    (firmware / "eps-2.0.0.yaml").write_text((firmware / "app-2.0.0.yaml").read_text())
    image = build("eps-2.0.0")
    assert isinstance(image, FirmwareImage) and image.header.version == "2.0.0"

    shutil.copy(REPO / FIRMWARE_DIR / "eps-2.0.0.yaml", firmware / "eps-2.0.0.yaml")
    assert isinstance(build("eps-2.0.0"), SoftwareRelease)
