"""``ota-bench evidence``: a run packed into one archive with a SHA-256 manifest, and the check
that finds a changed, missing or added file."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from bench.cli import main
from bench.report.bundle import MANIFEST

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """What `make run` leaves in reports/: results, an HTML report, the matrices."""
    reports = tmp_path / "reports"
    (reports / "allure-results").mkdir(parents=True)
    (reports / "allure-results" / "0-result.json").write_text('{"name": "power-loss[bcm]", "status": "passed"}')
    (reports / "allure-results" / "environment.properties").write_text(
        f"bench=virtual-bench ({REPO / 'fixtures' / 'benches' / 'virtual.yaml'})\n"
        "ecu.bcm.versions=1.0.0, 2.0.0\ngit.revision=0123abcd\n")
    (reports / "allure-report").mkdir()
    (reports / "allure-report" / "index.html").write_text("<html>report</html>")
    (reports / "compliance-matrix.csv").write_text("requirement,verdict\nR156-7.2.2.1.1,passed\n")
    (reports / "outcome-matrix.html").write_text("<html>matrix</html>")
    return reports


def pack(reports: Path, archive: Path) -> int:
    return main(["evidence", "pack", "--reports", str(reports), "-o", str(archive),
                 "--requirements", str(REPO / "testcases" / "requirements"),
                 "--catalogs", str(REPO / "testcases" / "scenarios")])


def test_a_run_is_packed_with_a_manifest_of_every_file(run: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "evidence.zip"
    assert pack(run, archive) == 0
    with zipfile.ZipFile(archive) as bundle:
        names = set(bundle.namelist())
        manifest = dict(reversed(line.split("  ", 1)) for line in bundle.read(MANIFEST).decode().splitlines())
        assert set(manifest) == names - {MANIFEST}
        assert all(hashlib.sha256(bundle.read(name)).hexdigest() == digest for name, digest in manifest.items())
        provenance = bundle.read("provenance.properties").decode()
    assert {"report/allure-report/index.html", "results/allure-results/0-result.json",
            "matrices/compliance-matrix.csv", "matrices/outcome-matrix.html", "requirements/un-r156.yaml",
            "catalogs/power-loss.yaml", "benches/virtual.yaml"} <= names
    assert "ecu.bcm.versions=1.0.0, 2.0.0" in provenance and "git.revision=0123abcd" in provenance
    assert main(["evidence", "verify", str(archive)]) == 0
    assert "match the manifest" in capsys.readouterr().out


def rewrite(archive: Path, change: dict[str, bytes | None]) -> None:
    """The archive with members replaced (bytes), removed (None) or added."""
    with zipfile.ZipFile(archive) as bundle:
        members = {name: bundle.read(name) for name in bundle.namelist()}
    for name, data in change.items():
        if data is None:
            members.pop(name)
        else:
            members[name] = data
    with zipfile.ZipFile(archive, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)


@pytest.mark.parametrize("change, finding", [
    ({"matrices/compliance-matrix.csv": b"requirement,verdict\nR156-7.2.2.1.1,passed\nR156-7.2.1.1,passed\n"},
     "matrices/compliance-matrix.csv: changed"),
    ({"results/allure-results/0-result.json": None}, "results/allure-results/0-result.json: missing"),
    ({"results/allure-results/1-result.json": b"{}"}, "results/allure-results/1-result.json: not in the manifest"),
])
def test_verify_finds_a_changed_missing_or_added_file(run: Path, tmp_path: Path, change: dict[str, bytes | None],
                                                      finding: str, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "evidence.zip"
    pack(run, archive)
    rewrite(archive, change)
    assert main(["evidence", "verify", str(archive)]) == 1
    assert finding in capsys.readouterr().err


def test_packing_without_a_report_or_verifying_a_non_archive_is_a_user_error(run: Path, tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (run / "allure-report" / "index.html").unlink()
    (run / "allure-report").rmdir()
    assert pack(run, tmp_path / "evidence.zip") == 2
    assert "allure-report: no HTML report here (make report)" in capsys.readouterr().err
    (tmp_path / "not.zip").write_text("hello")
    assert main(["evidence", "verify", str(tmp_path / "not.zip")]) == 2
    assert "not an evidence archive" in capsys.readouterr().err
