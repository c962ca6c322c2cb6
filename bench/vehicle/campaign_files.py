"""A campaign as the cloud hands it to a vehicle: its packages and the signed manifest naming
them, written to a folder (for campaign scenarios and tests on the bench)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.vehicle.manifest import Install, Preconditions
from bench.vehicle.signature import sign_manifest


SOFTWARE_DIR = Path("fixtures/software")
SOFTWARE_SUFFIXES = (".hex", ".s19", ".srec", ".vbf")
"""The software files a package may be (any other name is a firmware recipe)."""


@dataclass(frozen=True)
class TargetFiles:
    """One ECU of a campaign: (version, source) it runs and (version, source) it gets, where a
    source is a firmware recipe (``app-1.1.0``) or a software file (``eps-2.0.0.hex``)."""

    from_: tuple[str, str]
    to: tuple[str, str]
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class PackageSource:
    """How a source becomes the bytes of a package file."""

    recipe_bytes: Callable[[str], bytes]
    """A firmware recipe's signed image."""
    software: Path
    """The folder of software files."""

    def write(self, folder: Path, source: str) -> Path:
        if source.endswith(SOFTWARE_SUFFIXES):
            path = folder / source
            path.write_bytes((self.software / source).read_bytes())
        else:
            path = folder / f"{source}.img"
            path.write_bytes(self.recipe_bytes(source))
        return path


@dataclass(frozen=True)
class CampaignFiles:
    targets: Mapping[str, TargetFiles]
    sequence: int = 1
    version_sets: list[dict[str, str]] = field(default_factory=list)
    """The released version sets (empty: the targets' new versions)."""
    preconditions: Preconditions | None = None
    """The manifest's preconditions and policy (None: its defaults)."""
    install: Install | None = None
    """The manifest's install policy (None: its defaults)."""

    def write(self, folder: Path, sources: PackageSource, key: Ed25519PrivateKey) -> Path:
        """``campaign.yaml`` in ``folder``, signed with ``key``, its packages beside it."""
        folder.mkdir(parents=True, exist_ok=True)

        def package(version: str, source: str) -> dict[str, str]:
            path = sources.write(folder, source)
            return {"version": version, "image": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}

        document: dict[str, object] = {
            "campaign": f"cmp-{self.sequence}", "sequence": self.sequence,
            "issued": "2026-12-01T00:00:00Z", "expires": "2100-01-01T00:00:00Z",
            "targets": {name: {"from": package(*target.from_), "to": package(*target.to),
                               **({"after": list(target.after)} if target.after else {})}
                        for name, target in self.targets.items()},
            "version_sets": self.version_sets or [{name: target.to[0] for name, target in self.targets.items()}],
            "energy": {"update_wh": 30, "recovery_wh": 15},
            **({"preconditions": self.preconditions.model_dump(mode="json")} if self.preconditions else {}),
            **({"install": self.install.model_dump(mode="json")} if self.install else {})}
        path = folder / "campaign.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        sign_manifest(path, key)
        return path
