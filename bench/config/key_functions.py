"""The SecurityAccess key function of a profile: a Python callable named ``package.module:callable``
or a seed-key shared library (``bench.config.seed_key_library``). Both resolve to the same
callable type, udsoncan's ``(level, seed, params) -> key``, so the flasher and the virtual ECU do
not care which the profile names."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from bench.config.models import SecurityConfig
from bench.config.seed_key_library import KeyFunction, load_key_library


def resolve_security_key(security: SecurityConfig) -> KeyFunction:
    """The key function a profile's ``security`` section names: its ``key_library`` when it has
    one, else its ``key_function``."""
    if security.key_library is not None:
        return load_key_library(security.key_library, variant=security.key_variant, options=security.key_options,
                                buffer_size=security.key_buffer_size)
    return resolve_key_function(security.key_function)


def resolve_key_function(spec: str) -> KeyFunction:
    """Import a SecurityAccess key function named ``package.module:callable``; it must take
    udsoncan's arguments ``(level, seed, params)``."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{spec!r} is not of the form 'package.module:callable'")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of user code is a config problem
        raise ValueError(f"could not import module {module_name!r} ({exc})") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValueError(f"could not import {attribute!r} from module {module_name!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"{spec!r} is not callable")
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check
        return target  # type: ignore[no-any-return]
    try:
        signature.bind(0x01, b"\x00", {})
    except TypeError:
        raise ValueError(f"{spec!r} does not take udsoncan's key function arguments (level, seed, params); "
                         f"its signature is {attribute}{signature}") from None
    return target  # type: ignore[no-any-return]
