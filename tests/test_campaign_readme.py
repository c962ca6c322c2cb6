"""The README's campaign example as a validation engineer copies it ("Vehicle campaigns"): its shell
lines build the images, its manifest (digests filled in, as the README says) is saved as
cloud/campaign.yaml, and its test, run by pytest on the virtual bench with a rest-bus, signs the
manifest and commits the campaign with the master reading the vehicle from the bus."""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rack_suite import virtual_rack

REPO = Path(__file__).resolve().parents[1]


def readme_blocks(language: str) -> list[str]:
    section = (REPO / "README.md").read_text().split("## Vehicle campaigns", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def with_digests(manifest: str, folder: Path) -> str:
    """Each ``<...>`` replaced by the sha256sum of the file named on its line."""
    def digest(line: re.Match[str]) -> str:
        image = folder / line.group(1)
        return f"image: {line.group(1)}, sha256: {hashlib.sha256(image.read_bytes()).hexdigest()}"
    return re.sub(r"image: (\S+), sha256: <[^>]*>", digest, manifest)


def test_the_readme_campaign_example_commits_as_written(pytester: pytest.Pytester) -> None:
    (pytester.path / "fixtures").symlink_to(REPO / "fixtures")
    command = pytester.path / "bin" / "ota-bench"  # the console script, running this checkout
    command.parent.mkdir()
    command.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m bench "$@"\n')
    command.chmod(0o755)
    built = subprocess.run(["sh", "-ec", readme_blocks("sh")[0]], cwd=pytester.path, capture_output=True, text=True,
                           timeout=300, env={**os.environ, "PYTHONPATH": str(REPO),
                                             "PATH": f"{command.parent}{os.pathsep}{os.environ['PATH']}"})
    assert built.returncode == 0, built.stdout + built.stderr
    manifest = with_digests(readme_blocks("yaml")[0], pytester.path / "cloud")
    assert "<" not in manifest
    expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = re.sub(r"(?m)^expires: \S+", f"expires: {expires}", manifest)  # the example's date, a month ahead
    (pytester.path / "cloud" / "campaign.yaml").write_text(manifest)
    bench = virtual_rack(pytester.path / "benches", "vehicle")
    bench.write_text(bench.read_text() + "\nrestbus: {buses: [body]}\n")
    pytester.makepyfile(test_campaign=readme_blocks("python")[0])
    result = pytester.runpytest("test_campaign.py", "--bench", str(bench), "-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
    assert (pytester.path / "cloud" / "campaign.yaml.sig").is_file()
