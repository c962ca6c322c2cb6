"""The campaign manifest: what the cloud tells a vehicle's update master to install, as one.

A manifest is a YAML file (paths relative to it)::

    campaign: cmp-2026-12-body          # the campaign's id, named in the status report
    sequence: 7                         # rises with every campaign of this vehicle; a master refuses
                                        # one not above the last it accepted (a replay)
    issued: 2026-12-01T00:00:00Z
    expires: 2027-01-01T00:00:00Z       # refused from then on
    targets:                            # the ECUs it updates, by their name on the bench
      bcm:
        from: {version: "1.0.0", image: bcm-1.0.0.img, sha256: 5f1c...}   # what runs now; the
                                        # master keeps this software to re-flash on a rollback
        to:   {version: "1.1.0", image: bcm-1.1.0.img, sha256: 9a0e...}
      bms:
        from: {version: "1.0.0", image: bms-1.0.0.img, sha256: 5f1c...}
        to:   {version: "1.1.0", image: bms-1.1.0.img, sha256: 9a0e...}
        after: [bcm]                    # dependencies: bms only once bcm runs its new version
    version_sets:                       # the vehicle's version sets released together: the
      - {bcm: "1.1.0", bms: "1.1.0"}    # campaign must end in one of them
    install: {parallel: buses,          # ECUs on different buses at once (or "none": one by one)
              retries: 1, retry_within: 10}   # a failed flash tried again (resumed) once the ECU
                                        # answers again within 10 s; retries 0: roll back at once
    activation: all_or_nothing          # every target runs its new version, or all run the old
    preconditions:                      # what the vehicle must be, read before and during
      max_speed: 0.0                    # km/h
      gears: [P]
      ignition: ["on"]                  # the ECUs program with terminal 15 on
      parking_brake: true
      min_battery_voltage: 12.0         # V
      on_violation: suspend             # broken during the campaign: "abort" (roll back at once) or
      resume_within: 120                # "suspend" (start nothing new; roll back if not fine again
                                        # within resume_within seconds)
    energy: {update_wh: 30, recovery_wh: 15}   # the battery must hold both

An image is the file the ECU's flash specification takes: the bench's signed image for ECUs
flashed by the bench's sequence, a software file (Intel HEX, S-record, VBF) for the others. Its
``sha256`` is of the file's bytes. The manifest is signed as a whole (``bench.vehicle.signature``).
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, Field, ValidationError, model_validator

from bench.config.strict import Strict
from bench.config.yaml_source import dotted, nearest_line, parse_yaml
from bench.errors import ConfigError


class Package(Strict):
    """One software package of an ECU: its version, file and digest."""

    version: str = Field(min_length=1)
    image: Path
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")

    def file_digest(self) -> str:
        """SHA-256 of the image file as it is now (hex); ConfigError when it cannot be read."""
        try:
            return hashlib.sha256(self.image.read_bytes()).hexdigest()
        except OSError as exc:
            raise ConfigError(f"cannot read package image: {exc.strerror or exc}", file=str(self.image)) from None


class Target(Strict):
    from_: Package = Field(alias="from")
    to: Package
    after: tuple[str, ...] = ()
    """ECUs that must run their new version before this one is flashed."""


class Install(Strict):
    parallel: Literal["buses", "none"] = "buses"
    """``buses``: ECUs with no dependency between them on different buses are flashed at once."""
    retries: int = Field(default=0, ge=0)
    """Further attempts at an ECU whose flash failed (its bus cut, a power dip): each once the ECU
    answers again, within ``retry_within`` seconds, resuming its download; 0: roll back at once."""
    retry_within: float = Field(default=10.0, gt=0)


class Preconditions(Strict):
    max_speed: float = Field(default=0.0, ge=0)
    gears: tuple[str, ...] = ("P",)
    ignition: tuple[str, ...] = ("on",)
    """The ECUs are reprogrammed with the ignition on (the bench's bootloaders refuse otherwise)."""
    parking_brake: bool = True
    min_battery_voltage: float = Field(default=12.0, ge=0)
    on_violation: Literal["abort", "suspend"] = "abort"
    """What the master does when a precondition breaks during the campaign: ``abort`` rolls it
    back; ``suspend`` starts nothing new until the vehicle is fine again, then goes on."""
    resume_within: float = Field(default=300.0, gt=0)
    """``suspend``: seconds the vehicle has to become fine again; past them the campaign rolls back."""


class Energy(Strict):
    update_wh: float = Field(ge=0)
    recovery_wh: float = Field(ge=0)
    """What a rollback of every target needs on top of the update."""


class CampaignManifest(Strict):
    campaign: str = Field(min_length=1)
    sequence: int = Field(ge=1, strict=True)
    issued: AwareDatetime
    expires: AwareDatetime
    targets: dict[str, Target] = Field(min_length=1)
    version_sets: tuple[dict[str, str], ...] = Field(min_length=1)
    install: Install = Install()
    activation: Literal["all_or_nothing"] = "all_or_nothing"
    preconditions: Preconditions = Preconditions()
    energy: Energy

    @model_validator(mode="after")
    def _consistent(self) -> CampaignManifest:
        if self.expires <= self.issued:
            raise ValueError("expires must be after issued")
        for name, target in self.targets.items():
            unknown = [ecu for ecu in target.after if ecu not in self.targets]
            if unknown:
                raise ValueError(f"targets.{name}.after names {unknown[0]!r}, which is not a target")
        install_order(self)  # a dependency circle is an error of the file
        return self

    def expired(self, now: datetime.datetime) -> bool:
        return now >= self.expires

    def released_together(self, versions: dict[str, str | None]) -> bool:
        """Whether ``versions`` (ECU -> version) agree with one of the sets released together on
        every ECU that set names."""
        return any(all(versions.get(ecu) == version for ecu, version in released.items())
                   for released in self.version_sets)


def install_order(manifest: CampaignManifest) -> list[list[str]]:
    """The targets in waves: each wave's ECUs depend only on ECUs of earlier waves (in the
    manifest's order within a wave); ValueError on a dependency circle."""
    done: list[str] = []
    waves: list[list[str]] = []
    while len(done) < len(manifest.targets):
        wave = [name for name, target in manifest.targets.items()
                if name not in done and all(ecu in done for ecu in target.after)]
        if not wave:
            left = [name for name in manifest.targets if name not in done]
            raise ValueError(f"targets {', '.join(left)} depend on one another in a circle (after:)")
        waves.append(wave)
        done += wave
    return waves


def parse_manifest(text: str, *, file: Path) -> CampaignManifest:
    """The manifest in ``text`` (read from ``file``, against which image paths resolve);
    ConfigError naming the file, line and field otherwise."""
    data, locations = parse_yaml(text, file=str(file))
    try:
        manifest = CampaignManifest.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = tuple(part for part in error["loc"] if isinstance(part, (str, int)))
        raise ConfigError(error["msg"], file=str(file), line=nearest_line(locations, where),
                          field=dotted(where) or None) from None
    base = file.parent
    targets = {name: target.model_copy(update={
        "from_": target.from_.model_copy(update={"image": base / target.from_.image}),
        "to": target.to.model_copy(update={"image": base / target.to.image})}) for name, target in
        manifest.targets.items()}
    return manifest.model_copy(update={"targets": targets})
