"""Read YAML and remember where every key and list item was written.

``read_yaml`` returns the plain data (what ``yaml.safe_load`` would return) together with a
map from each value's path to the 1-based line it starts on, so that a validation error
about ``ecus.bms.request_id`` can point at the exact line of the file. A key written twice
in one mapping is an error here (plain PyYAML silently keeps the last one).

Integers may be written in hex (``0x7E0``): the YAML 1.1 SafeLoader already resolves them.

Parsing uses libyaml (``yaml.CSafeLoader``) where PyYAML has it, about ten times faster than the
pure-Python ``SafeLoader``; a document libyaml refuses is parsed again by the pure-Python loader,
so a mistake reads the same with or without libyaml (``tests/test_yaml_source.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bench.errors import ConfigError

PathKey = str | int
YamlPath = tuple[PathKey, ...]
Locations = dict[YamlPath, int]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dotted(path: YamlPath) -> str:
    """``("ecus", "bms", "dbc", 0)`` → ``ecus.bms.dbc[0]``: the field as a user reads it."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def nearest_line(locations: Mapping[YamlPath, int], path: YamlPath) -> int | None:
    """The line of ``path``, or of its nearest parent that was written in the file."""
    for end in range(len(path), -1, -1):
        line = locations.get(tuple(path[:end]))
        if line is not None:
            return line
    return None


def read_yaml(path: str | Path, *, display: str | None = None) -> tuple[Any, Locations]:
    """Load one YAML document from ``path``; errors name ``display`` (default: the path)."""
    file = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read file: {exc}", file=file) from None
    return parse_yaml(text, file=file)


def parse_yaml(text: str, *, file: str) -> tuple[Any, Locations]:
    """Load one YAML document from ``text``; ``file`` names it in error messages."""
    try:
        return _load(_FAST_LOADER, text, file)
    except yaml.YAMLError:
        pass  # said below as the pure-Python loader says it
    try:
        return _load(yaml.SafeLoader, text, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        if exc.context_mark and mark and exc.context_mark.line != mark.line:
            problem += f" (the construct started on line {exc.context_mark.line + 1})"
        raise ConfigError(f"YAML syntax error: {problem or exc}",
                          file=file, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {exc}", file=file) from None


def _load(loader_class: type[yaml.SafeLoader], text: str, file: str) -> tuple[Any, Locations]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {(): 1}
        locations: Locations = {(): root.start_mark.line + 1}
        _walk(loader, root, (), locations, file, set())
        return loader.construct_document(root), locations
    finally:
        loader.dispose()


def _walk(loader: yaml.SafeLoader, node: Node, path: YamlPath, locations: Locations,
          file: str, active: set[int]) -> None:
    """Record the line of every key and item under ``node``; reject duplicate keys."""
    if id(node) in active:  # a recursive alias (&a [*a]): nothing new below
        return
    active.add(id(node))
    try:
        if isinstance(node, MappingNode):
            # ``<<: *defaults`` first: keys written here override the merged ones.
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    merged = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                    for source in merged:
                        _walk(loader, source, path, locations, file, active)
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = _key(loader, key_node)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise ConfigError(f"duplicate key {key!r} (first written on line {seen[key]})",
                                      file=file, line=line, field=dotted((*path, key)))
                seen[key] = line
                locations[(*path, key)] = line
                _walk(loader, value_node, (*path, key), locations, file, active)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                locations[(*path, index)] = item.start_mark.line + 1
                _walk(loader, item, (*path, index), locations, file, active)
    finally:
        active.discard(id(node))


def _key(loader: yaml.SafeLoader, node: Node) -> Any:
    """A mapping key as the constructor will build it (scalars only make sense as paths)."""
    if isinstance(node, ScalarNode):
        return loader.construct_object(node, deep=True)
    return f"<{node.id} key on line {node.start_mark.line + 1}>"
