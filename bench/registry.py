"""Things chosen by name from a bench file and loaded only when used, as python-can chooses its
interfaces (``can.interfaces.BACKENDS``: name -> module, class).

A ``Registry`` knows three kinds of entries:

* built in: ``name -> "package.module:attribute"``, imported at the first ``load(name)``;
* registered at run time with ``register(name, target)`` (a lab's conftest, a test);
* installed: an entry point of the registry's group in any installed distribution, e.g. in the
  ``pyproject.toml`` of a lab's own package::

      [project.entry-points."ota_hil_bench.power"]
      lab_psu = "lab_bench.psu:LabSupply"

``names()`` lists all three without importing anything, so the config layer checks a name in a
bench file against a registry of things that live in higher layers.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any


class UnknownName(LookupError):
    """A name that no entry of the registry has; the message lists the known ones."""


class Registry:
    def __init__(self, what: str, builtin: Mapping[str, str], *, group: str) -> None:
        self.what = what
        """What the entries are, for messages (``power driver``)."""
        self.group = group
        """The entry-point group of entries installed by other distributions."""
        self._builtin = dict(builtin)
        self._registered: dict[str, object] = {}

    @property
    def builtin(self) -> frozenset[str]:
        """The names that come with the project."""
        return frozenset(self._builtin)

    def names(self) -> list[str]:
        """Every name the registry resolves, sorted; nothing is imported."""
        return sorted({*self._builtin, *self._registered, *(point.name for point in entry_points(group=self.group))})

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return name in self._builtin or name in self._registered or any(entry_points(group=self.group, name=name))

    def register(self, name: str, target: object) -> None:
        """Add ``name`` for this process: ``target`` is the object or ``"module:attribute"``."""
        if name in self:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._registered[name] = target

    def unregister(self, name: str) -> None:
        """Remove a name added with ``register``."""
        del self._registered[name]

    def load(self, name: str) -> Any:
        """The entry called ``name``, imported now if it was not yet."""
        if name in self._registered:
            target = self._registered[name]
            return import_target(target) if isinstance(target, str) else target
        if name in self._builtin:
            return import_target(self._builtin[name])
        for point in entry_points(group=self.group, name=name):
            return point.load()
        raise UnknownName(self.unknown(name))

    def unknown(self, name: str) -> str:
        """``unknown power driver 'scip'; did you mean 'scpi'? (known: relay, scpi, virtual)``."""
        known = self.names()
        message = f"unknown {self.what} {name!r}"
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        return message + f" (known: {', '.join(known)}; more are added with entry points of group {self.group!r})"


def import_target(spec: str) -> Any:
    """The attribute ``spec`` (``package.module:attribute``) names."""
    module_name, _, attribute = spec.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target
