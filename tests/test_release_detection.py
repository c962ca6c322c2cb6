"""Which firmware YAML files are releases of software files (``software:``), not recipes."""

from __future__ import annotations

from pathlib import Path

from bench.image.release import is_release


def test_the_answer_follows_the_files_content(tmp_path: Path) -> None:
    """Asked of every scenario's recipe, parsed once per content: an edited file is read anew."""
    path = tmp_path / "app.yaml"
    path.write_text("version: 1.0.0\nsoftware: [app.hex]\n")
    assert is_release(path) and is_release(path)
    path.write_text("version: 1.0.0\nsize: 4096\n")
    assert not is_release(path)
    path.write_text("software: [app.hex\n")  # broken YAML: the recipe loader reports what is wrong
    assert not is_release(path)
    assert not is_release(tmp_path / "missing.yaml")
