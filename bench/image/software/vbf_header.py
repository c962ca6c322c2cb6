"""The ASCII header of a VBF file: ``vbf_version = 2.6;`` then ``header { name = value; ... }``,
values being numbers, strings, names or ``{ ... }`` lists of them, with C comments anywhere.
The binary data starts right after the header's closing brace.

A small recursive-descent parser: no maintained VBF library exists on PyPI (vbf-parser 1.4.0,
2020, reads the header only and calls itself work in progress; vbftool is a 2019 alpha)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench.errors import ConfigError

Value = int | str | tuple["Value", ...]

_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<number>0[xX][0-9A-Fa-f]+|\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[={};,])
""", re.VERBOSE | re.DOTALL)


@dataclass(frozen=True)
class VbfHeader:
    version: str
    fields: dict[str, Value]
    data_offset: int
    """Byte offset of the first data block: right after the header's closing brace."""


class _Parser:
    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text, self.pos = path, text, 0

    def fail(self, message: str, pos: int | None = None) -> ConfigError:
        at = self.pos if pos is None else pos
        line = self.text.count("\n", 0, at) + 1
        return ConfigError(f"VBF header: {message} (byte offset {at})", file=str(self.path), line=line)

    def next(self) -> tuple[str, str, int]:
        """The next token's kind, text and offset; ``("end", "", offset)`` at the end of the text."""
        while self.pos < len(self.text):
            match = _TOKEN.match(self.text, self.pos)
            if match is None:
                raise self.fail(f"unexpected character {self.text[self.pos]!r}")
            self.pos = match.end()
            kind = match.lastgroup or ""
            if kind != "space":
                return kind, match.group(), match.start()
        return "end", "", self.pos

    def expect(self, text: str) -> None:
        kind, found, at = self.next()
        if found != text:
            raise self.fail(f"expected {text!r}, found {found or 'the end of the file'!r}", at)

    def value(self) -> tuple[Value, str]:
        """A value and the token after it."""
        kind, text, at = self.next()
        if kind == "number":
            parsed: Value = int(text, 0) if "." not in text else text
        elif kind == "string":
            parsed = text[1:-1]
        elif kind == "name":
            parsed = text
        elif text == "{":
            items: list[Value] = []
            kind, following, at = self.next()
            if following != "}":
                self.pos = at
                while True:
                    item, following = self.value()
                    items.append(item)
                    if following == "}":
                        break
                    if following != ",":
                        raise self.fail(f"expected ',' or '}}' in a list, found {following!r}")
            parsed = tuple(items)
        else:
            raise self.fail(f"expected a value, found {text or 'the end of the file'!r}", at)
        return parsed, self.next()[1]


def parse_header(path: Path, raw: bytes) -> VbfHeader:
    """Read ``vbf_version`` and the ``header { ... }`` block from the start of ``raw``."""
    parser = _Parser(path, raw.decode("latin-1"))  # one character per byte: offsets are byte offsets
    kind, text, at = parser.next()
    if text != "vbf_version":
        raise parser.fail(f"a VBF file starts with 'vbf_version = ...;', found {text or 'nothing'!r}", at)
    parser.expect("=")
    kind, version, at = parser.next()
    if kind != "number":
        raise parser.fail(f"vbf_version must be a number, found {version!r}", at)
    parser.expect(";")
    parser.expect("header")
    parser.expect("{")
    fields: dict[str, Value] = {}
    while True:
        kind, name, at = parser.next()
        if name == "}":
            return VbfHeader(version, fields, parser.pos)
        if kind != "name":
            raise parser.fail(f"expected a field name or '}}' closing the header, found {name or 'the end of the file'!r}",
                              at)
        parser.expect("=")
        value, after = parser.value()
        if after != ";":
            raise parser.fail(f"field {name!r}: expected ';' after its value, found {after or 'the end of the file'!r}")
        if name in fields:
            raise parser.fail(f"field {name!r} is given twice", at)
        fields[name] = value
