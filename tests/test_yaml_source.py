"""YAML read with libyaml where PyYAML has it: the same data, lines and mistakes as the
pure-Python loader (``bench.config.yaml_source``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.config import yaml_source
from bench.config.yaml_source import parse_yaml
from bench.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted(path for folder in ("fixtures", "testcases") for path in (REPO / folder).rglob("*.yaml"))

pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml: one loader only")


def pure(monkeypatch: pytest.MonkeyPatch, text: str) -> object:
    """What ``parse_yaml`` gives, or the message it raises, with the pure-Python loader alone."""
    with monkeypatch.context() as patch:
        patch.setattr(yaml_source, "_FAST_LOADER", yaml.SafeLoader)
        return outcome(text)


def outcome(text: str) -> object:
    try:
        return parse_yaml(text, file="f.yaml")
    except ConfigError as exc:
        return str(exc)


def test_shipped_files_read_the_same_with_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(SHIPPED) > 20  # catalogs, bench files, recipes, requirements
    for path in SHIPPED:
        text = path.read_text(encoding="utf-8")
        assert outcome(text) == pure(monkeypatch, text), path


@pytest.mark.parametrize("text", [
    "a: [b\nc: true\n",                    # an unclosed flow sequence
    "a:\n  b: 1\n c: 2\n",                 # a key indented wrongly
    "a: *nope\n",                          # an alias of no anchor
    "a: 1\n\tb: 2\n",                      # a tab
    "a: b: c\n",                           # a mapping value where none may be
    "? [a, b]\n: 1\n",                     # an unhashable key
])
def test_a_mistake_reads_as_the_pure_python_loader_says_it(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    with pytest.raises(yaml.YAMLError):  # libyaml refuses it (in its own words) ...
        loader = yaml.CSafeLoader(text)
        loader.construct_document(loader.get_single_node())
    message = outcome(text)
    assert isinstance(message, str) and message.startswith("f.yaml:")
    assert message == pure(monkeypatch, text)  # ... the user reads PyYAML's


def test_duplicate_key_and_lines_with_libyaml() -> None:
    data, locations = parse_yaml("a:\n  - x\n  - y: 1\nb: 2\n", file="f.yaml")
    assert data == {"a": ["x", {"y": 1}], "b": 2}
    assert locations == {(): 1, ("a",): 1, ("a", 0): 2, ("a", 1): 3, ("a", 1, "y"): 3, ("b",): 4}
    with pytest.raises(ConfigError, match="duplicate key 'b' \\(first written on line 1\\)"):
        parse_yaml("b: 1\nb: 2\n", file="f.yaml")
