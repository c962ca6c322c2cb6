"""Whether an update reaches a catalog's trigger point, decided when the catalog is expanded.

A point is counted in the download the scenario interrupts: ``block:N`` in TransferData blocks
(the profile's ``max_block_length`` less the service id and the counter), ``offset:N`` in bytes,
``page:N`` and ``sector:N`` in the virtual ECU's pages and sectors of the download (erase covers
the download's sectors), ``patch_step:N`` in the steps of applying a delta package. The download
is the case's ``to`` image, or its delta package from ``from``; a catalog may name an image per
case, so every case is checked against its own. A point past the end (``block:50`` of a
17-block download) is a catalog mistake, reported with the line of the point before any
scenario runs, instead of a fault that never fires.

A release of software files (an ECU with logical blocks, ``bench.image.release``) is checked
for the logical block a point names (``erase@2`` of a two-block release); the points inside a
logical block depend on how the flash specification encodes it (compression), so they are
left to the run, whose trigger that never fires is a usage error too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from bench.config import BenchConfig, EcuConfig, EcuProfile
from bench.flash.block_plan import memory_map, plan_blocks
from bench.image import DeltaPackage, FirmwareImage
from bench.image.release import SoftwareRelease
from bench.sim.patching import patch_steps

BLOCK_OVERHEAD = 2
"""TransferData's service id and block sequence counter, inside ``max_block_length``."""


@dataclass(frozen=True)
class Download:
    """What one update sends an ECU, counted in the units trigger points use."""

    what: str
    """The image or package, for messages: ``app-2.0.0``, ``delta package factory -> app-1.1.0``."""
    ecu: str
    size: int
    block: int
    """Data bytes per TransferData block."""
    page: int | None = None
    """Flash page and sector sizes of a virtual ECU (None: a real ECU, not counted here)."""
    sector: int | None = None
    patch_steps: int | None = None
    """Steps of applying a delta package (None: a full image)."""
    logical_blocks: int | None = None
    """Logical blocks of a release of software files (None: one image, no logical blocks)."""

    def count(self, kind: str) -> int | None:
        """How many ``kind`` points the update passes (indexes 1..n for blocks, else 0..n-1)."""
        if self.logical_blocks is not None:
            return None  # points inside logical blocks: counted by the run (see the module's docstring)

        def units(size: int | None) -> int | None:
            return None if size is None else -(-self.size // size)
        return {"block": units(self.block), "offset": self.size, "page": units(self.page),
                "sector": units(self.sector), "patch_step": self.patch_steps}.get(kind)

    def describe(self, kind: str) -> str:
        size = f"{self.what} is a {self.size:,}-byte download to {self.ecu}"
        per = {"block": f"{self.count('block')} TransferData blocks of {self.block:,} B",
               "page": f"{self.count('page')} pages of {self.page or 0:,} B",
               "sector": f"{self.count('sector')} sectors of {self.sector or 0:,} B"}
        if kind == "patch_step":
            return f"{self.what} is applied by {self.ecu} in {self.patch_steps} steps (patch_step:0 to " \
                   f"patch_step:{(self.patch_steps or 1) - 1})"
        if kind == "offset":
            return f"{size} (offset:0x0 to offset:{self.size - 1:#x})"
        return f"{size}: {per[kind]}"


def unreachable(at: str, download: Download) -> str | None:
    """Why the update ``download`` never reaches the trigger point ``at`` (normal form, as
    ``bench.scenarios.catalog.parse_at`` gives it); None when it does, or cannot be counted."""
    at, _, logical = at.partition("@")
    if logical and download.logical_blocks is not None and int(logical) >= download.logical_blocks:
        return (f"'{at}@{logical}' is never reached: {download.what} has {download.logical_blocks} logical "
                f"block{'s' if download.logical_blocks != 1 else ''} for {download.ecu} (@0 to "
                f"@{download.logical_blocks - 1})")
    kind, sep, number = at.partition(":")
    if not sep:
        return None
    count = download.count(kind)
    index = int(number, 0)
    if count is None or (index <= count if kind == "block" else index < count):
        return None
    return f"{at!r} is never reached: {download.describe(kind)}"


Images = Callable[[str], FirmwareImage | SoftwareRelease]
Deltas = Callable[[str, str, "_Target"], DeltaPackage]


@dataclass(frozen=True)
class _Target:
    """An ECU of a bench file, as the delta builder cuts a package for it."""

    name: str
    config: EcuConfig
    profile: EcuProfile


Downloads = Callable[[str, str, str, str], Download]
"""``downloads(ecu, package, from, to)``: what a case's update sends (``downloads`` makes one)."""


def downloads(benches: Sequence[BenchConfig], images: Images, deltas: Deltas) -> Downloads:
    """``download(ecu, package, base, target)``: the update a case sends, measured on the first
    bench file that has ``ecu`` (the racks of a pool agree on what an ECU name is); images and
    packages are built from their recipes once."""
    @cache
    def download(ecu: str, package: str, base: str, target: str) -> Download:
        config = next(bench for bench in benches if ecu in bench.ecus)
        ecu_config = config.ecus[ecu]
        profile = config.profiles[ecu_config.profile]
        virtual = ecu_config.virtual
        sector = virtual.sector_size if virtual is not None else None
        common = {"ecu": ecu, "block": profile.max_block_length - BLOCK_OVERHEAD,
                  "page": virtual.page_size if virtual is not None else None, "sector": sector}
        if package == "delta":
            delta = deltas(base, target, _Target(ecu, ecu_config, profile))
            return Download(f"delta package {base} -> {target}", size=len(delta.to_bytes()),
                            patch_steps=patch_steps(delta, sector) if sector else None, **common)
        built = images(target)
        if isinstance(built, SoftwareRelease):
            blocks = plan_blocks(built.files, memory_map(profile), profile.flash_spec.name)
            return Download(target, size=sum(len(block.data) for block in blocks), logical_blocks=len(blocks),
                            **common)
        return Download(target, size=len(built.to_bytes()), **common)

    return download
