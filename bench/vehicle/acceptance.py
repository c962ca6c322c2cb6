"""Whether a master takes a campaign: every check made before anything is flashed, each refusal
with its own reason (``CampaignRefused.reason``)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bench.errors import ConfigError
from bench.image import FirmwareImage, ImageFormatError, SignatureError
from bench.image.software import SoftwareFile, load_software
from bench.vehicle.manifest import CampaignManifest, Package, parse_manifest
from bench.vehicle.signature import signature_path, verify_manifest

Reason = Literal["signature", "malformed", "expired", "replayed", "unknown_ecu", "digest", "package",
                 "from_version", "version_set", "preconditions"]


class CampaignRefused(Exception):
    """The master does not start the campaign; nothing was flashed."""

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        super().__init__(f"campaign refused ({reason}): {message}")


def read_signed(path: Path, public_key: Ed25519PublicKey) -> tuple[CampaignManifest, str]:
    """The manifest at ``path`` and its text, read once, once its detached signature is checked
    (``signature``) and it parses (``malformed``)."""
    try:
        text = path.read_bytes()
        signature = signature_path(path).read_text()
    except OSError as exc:
        raise CampaignRefused("signature", f"{exc.filename or path}: cannot read the manifest or its signature: "
                                           f"{exc.strerror or exc}") from None
    try:
        verify_manifest(text, signature, public_key)
    except SignatureError as exc:
        raise CampaignRefused("signature", f"{path}: {exc}") from None
    decoded = text.decode("utf-8", errors="replace")
    return parse_text(decoded, path), decoded


def parse_text(text: str, path: Path) -> CampaignManifest:
    try:
        return parse_manifest(text, file=path)
    except ConfigError as exc:
        raise CampaignRefused("malformed", str(exc)) from None


def check_campaign(manifest: CampaignManifest, *, now: datetime.datetime, last_sequence: int,
                   running: Mapping[str, str | None]) -> None:
    """Expiry, replay, the vehicle's ECUs, the version set, the versions running (``running``:
    ECU -> version, for every ECU of the vehicle the manifest names)."""
    if manifest.expired(now):
        raise CampaignRefused("expired", f"{manifest.campaign} expired at {manifest.expires.isoformat()}")
    if manifest.sequence <= last_sequence:
        raise CampaignRefused("replayed", f"{manifest.campaign} has sequence {manifest.sequence}, not above "
                                          f"{last_sequence}, the last this vehicle accepted")
    unknown = [name for name in manifest.targets if name not in running]
    if unknown:
        raise CampaignRefused("unknown_ecu", f"{manifest.campaign} updates {', '.join(unknown)}, which this "
                                             "vehicle does not have")
    after = {**running, **{name: target.to.version for name, target in manifest.targets.items()}}
    if not manifest.released_together(after):
        shown = ", ".join(f"{ecu} {version}" for ecu, version in sorted(after.items()))
        raise CampaignRefused("version_set", f"{manifest.campaign} would leave {shown}: never released together")
    for name, target in manifest.targets.items():
        if running.get(name) != target.from_.version:
            raise CampaignRefused("from_version", f"{name} runs {running.get(name) or 'no application'}, "
                                                  f"the campaign updates it from {target.from_.version}")


Loaded = FirmwareImage | SoftwareFile


def load_package(ecu: str, package: Package, *, bench_image: bool) -> Loaded:
    """The package's file once its digest is the manifest's (``digest``) and it is what it says
    (``package``): a bench image of that version, or a software file that loads."""
    digest = package.file_digest()
    if digest != package.sha256.lower():
        raise CampaignRefused("digest", f"{ecu}: SHA-256 of {package.image.name} is {digest}, the manifest "
                                        f"says {package.sha256.lower()}")
    if not bench_image:
        try:
            return load_software(package.image)
        except ConfigError as exc:
            raise CampaignRefused("package", f"{ecu}: {exc}") from None
    try:
        image = FirmwareImage.from_bytes(package.image.read_bytes())
    except ImageFormatError as exc:
        raise CampaignRefused("package", f"{ecu}: {package.image.name} is no bench image: {exc}") from None
    if image.header.version != package.version:
        raise CampaignRefused("package", f"{ecu}: {package.image.name} holds version {image.header.version}, "
                                         f"the manifest says {package.version}")
    return image
