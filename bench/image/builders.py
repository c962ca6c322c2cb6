"""Builders of test firmware from the recipes of a project (``fixtures/firmware/*.yaml``): a
full image by recipe name, and a delta package between two recipes (or an ECU's factory image)
cut for the way that ECU applies patches. The ``firmware`` fixture, the scenario runner, the
CLI's tests and the benchmarks all build through these."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from bench.config.models import EcuConfig, EcuProfile
from bench.errors import ConfigError
from bench.image.delta import DeltaPackage, PatchLayout
from bench.image.format import FirmwareImage
from bench.image.recipe import build_delta, build_image, load_recipe
from bench.image.release import SoftwareRelease, is_release, load_release

FIRMWARE_DIR = Path("fixtures/firmware")
"""Where a project keeps its firmware recipes, under its root."""


class DeltaTarget(Protocol):
    """What a delta package is cut for: an ECU of a bench (``bench.rig.EcuHandle`` is one)."""

    name: str
    config: EcuConfig
    profile: EcuProfile


def firmware_builder(rootpath: Path) -> Callable[..., FirmwareImage | SoftwareRelease]:
    """``build("app-2.0.0")`` builds ``<rootpath>/fixtures/firmware/app-2.0.0.yaml`` (cached): a
    signed image from a recipe, or the software files of a release (``bench.image.release``);
    ``build("app-2.0.0", payload=8000)`` the same recipe's image with its payload cut to 8,000
    bytes (``bench.scenarios.fitted_image``; a release of software files is never cut)."""
    def build(recipe: str, payload: int | None = None) -> FirmwareImage | SoftwareRelease:
        path = rootpath / FIRMWARE_DIR / f"{recipe}.yaml"
        if not path.is_file():
            raise ConfigError(f"no firmware recipe {recipe!r}", file=str(path))
        if is_release(path):
            if payload is not None:
                raise ConfigError(f"{recipe!r} is a release of software files: it is flashed whole, never cut",
                                  file=str(path))
            return load_release(path)
        if payload is None:
            return build_image(path)
        return build_image(dataclasses.replace(load_recipe(path), size=payload))

    return build


def delta_builder(rootpath: Path) -> Callable[[str, str, DeltaTarget], DeltaPackage]:
    """``deltas("factory", "app-1.1.0", ecu)``: the delta package from the ECU's factory image (or
    a recipe of fixtures/firmware) to a recipe, cut for the way ``ecu`` applies patches (cached)."""
    def build(base: str, target: str, ecu: DeltaTarget) -> DeltaPackage:
        if base == "factory":
            if ecu.config.virtual is None or ecu.config.virtual.factory_image is None:
                raise ConfigError(f"ECU {ecu.name!r} has no factory image on this bench to make a delta package from")
            base_recipe = ecu.config.virtual.factory_image
        else:
            base_recipe = rootpath / FIRMWARE_DIR / f"{base}.yaml"
        return build_delta(base_recipe, rootpath / FIRMWARE_DIR / f"{target}.yaml", PatchLayout.for_profile(ecu.profile))

    return build
