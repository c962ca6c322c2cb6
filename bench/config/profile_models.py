"""An ECU profile: how an ECU is flashed and read, the contract between the flasher and the bootloader.

A bench file's ``profiles`` map names to these (``EcuProfile``: the bootloader dialect, its DIDs,
routines, security access, memory layout, session timings, delta support and flash specification);
each ECU names one. They live apart from the bench's wiring (``bench.config.models``: buses, ECUs,
serial ports, the simulator's settings) because they describe the bootloader, not the rig: the
flasher, the virtual bootloaders and the oracles read them without caring where the ECU is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from bench.config.flash_spec import FlashSpec, ReadDidStep, shipped_spec
from bench.config.strict import Strict

# strict: ``request_id: yes`` must not quietly become 1 (YAML 1.1 reads yes/on as true)
Identifier = Annotated[int, Field(strict=True, ge=0, le=0xFFFF)]


class SecurityConfig(Strict):
    level: int = Field(0x11, ge=1, le=0x7D)
    """The odd requestSeed sub-function; sendKey is level + 1."""
    key_function: str = "bench.keys:xor_key"
    """Dotted path ``package.module:callable`` with udsoncan's signature ``(level, seed, params) -> key``."""
    key_params: dict[str, object] = Field(default_factory=dict)
    key_library: Path | None = None
    """A seed-key shared library (an OEM's seed-key DLL built for this OS) exporting ``GenerateKeyEx``
    (``GenerateKeyExOpt`` with ``key_options``); instead of ``key_function``. Relative to the bench file."""
    key_variant: str = ""
    """The ``variant`` string the library is called with."""
    key_options: str | None = None
    """The ``options`` string: when set, the library's ``GenerateKeyExOpt`` is called."""
    key_buffer_size: int = Field(256, ge=1, le=0xFFFF)
    """Bytes of the key buffer the library writes into (its ``maxKeySize``)."""
    max_attempts: int = Field(3, ge=1)
    lockout_delay: float = Field(10.0, ge=0)
    """The ECU's security delay timer: seconds during which requestSeed answers 0x37 (the virtual ECU:
    after exceededNumberOfAttempts). The flasher's SecurityAccess (an image, software files by the flash
    spec, a bank switch or commit) waits up to this long for a seed (``bench.flash.security_delay``)."""

    @field_validator("level")
    @classmethod
    def _odd(cls, level: int) -> int:
        if level % 2 == 0:
            raise ValueError(f"security level must be the odd requestSeed value, got {level:#x}")
        return level

    @model_validator(mode="after")
    def _one_key_source(self) -> SecurityConfig:
        """Judged by values, not by the keys written, so a dumped model loads again."""
        defaults = SecurityConfig.model_fields
        if self.key_library is not None:
            if self.key_function != defaults["key_function"].default:
                raise ValueError("give either key_function (a Python callable) or key_library (a seed-key "
                                 "library), not both")
            if self.key_params:
                raise ValueError("key_params are the arguments of a key_function; a seed-key library takes "
                                 "key_variant and key_options")
            return self
        given = [name for name in ("key_variant", "key_options", "key_buffer_size")
                 if getattr(self, name) != defaults[name].default]
        if given:
            raise ValueError(f"{', '.join(given)} apply to a seed-key library; add key_library")
        return self


class RoutineIds(Strict):
    erase: Identifier = 0xFF00
    check_dependencies: Identifier = 0xFF01
    check_memory: Identifier = 0x0202
    check_preconditions: Identifier = 0x0203
    """HIS-style bootloaders only: CheckProgrammingPreconditions, in the extended session."""
    switch_bank: Identifier = 0x0210
    """A/B bootloaders only: start the previous bank again at the next reset, while the update
    that replaced it is not committed (``bench.sim.boot``); 0x22 when there is none to go back to."""
    commit_bank: Identifier = 0x0211
    """The bench's bootloaders (A/B and single bank): commit the running update: the anti-rollback
    counter rises to its security version, and on A/B its previous bank is no longer a fallback."""


class DidIds(Strict):
    version: Identifier = 0xF189
    fingerprint: Identifier = 0xF15A
    journal: Identifier = 0xFD01
    boot_state: Identifier = 0xFD02
    image_digest: Identifier = 0xFD03
    """SHA-256 of the installed image (header and payload): the base a delta package must name."""
    identification: dict[str, Identifier] = Field(
        default_factory=lambda: {"part_number": 0xF187, "serial_number": 0xF18C})


class LogicalBlock(Strict):
    """One logical block of a bootloader's memory map (HIS-style): erased, downloaded and checked
    on its own, at its own address."""

    name: str
    address: int = Field(ge=0)
    size: int = Field(gt=0)


class MemoryLayout(Strict):
    """Where the tester downloads the application (a logical address on A/B ECUs); a HIS-style
    bootloader's logical blocks instead (``blocks``, in address order, block 0 the application)."""

    address: int = Field(0x0008_0000, ge=0)
    size: int = Field(0x0010_0000, gt=0)
    address_bytes: int = Field(4, ge=1, le=15)
    length_bytes: int = Field(4, ge=1, le=15)
    blocks: list[LogicalBlock] = Field(default_factory=list)

    @model_validator(mode="after")
    def _blocks_apart(self) -> MemoryLayout:
        for before, after in zip(self.blocks, self.blocks[1:]):
            if after.address < before.address + before.size:
                raise ValueError(f"logical block {after.name!r} at {after.address:#x} is not after block "
                                 f"{before.name!r} ({before.address:#x}+{before.size:#x}): list them in address "
                                 "order, without overlap")
        return self


class DeltaSupport(Strict):
    """The ECU takes delta packages (``bench.image.delta``): patches against the image it runs.

    The tester downloads the package into a staging area (``address``, ``size``), never over
    the application; the bootloader checks it, then patches at its next start: sequentially into
    the other bank (A/B) or in place, ``segment_size`` bytes at a time (single bank).
    """

    address: int = Field(ge=0)
    """Logical address of the staging area the tester downloads a package to."""
    size: int = Field(gt=0)
    compression: Literal["heatshrink", "lzma", "crle", "none"] = "heatshrink"
    """The one detools compression the bootloader decodes (heatshrink needs a few hundred bytes of RAM)."""
    segment_size: int = Field(0x1000, gt=0)
    """In-place patches: bytes rewritten per segment, a multiple of the flash sector."""


BudgetedStep = Literal["erase", "request_download", "transfer_data", "request_transfer_exit", "check_memory",
                       "check_dependencies", "reset"]
"""Flash steps a ``timing.step_budget`` may limit (``transfer_data``: each block)."""


class Timing(Strict):
    """ISO 14229-2 session timings, in seconds."""

    p2: float = Field(0.05, gt=0)
    p2_star: float = Field(5.0, gt=0)
    s3: float = Field(5.0, gt=0)
    network_margin: float = Field(0.15, ge=0)
    """ΔP2 of ISO 14229-2: what the tester adds to P2/P2* for the response's way back and
    scheduling delay (P2 itself runs from the end of the request's transmission). The virtual
    bench runs tester, gateway and ECUs in one Python process on few cores, so its default
    leaves room for a busy machine; a rack with a dedicated tester can use less."""
    n_bs: float = Field(1.0, gt=0)
    """ISO 15765-2 N_Bs: how long a sender waits for flow control (ISO maximum: 1 s)."""
    n_cr: float = Field(1.0, gt=0)
    """ISO 15765-2 N_Cr: how long a receiver waits for the next consecutive frame (ISO maximum: 1 s)."""
    step_budget: dict[BudgetedStep, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    """Seconds a flash step may take in all, however many 0x78 (response pending) the ECU sends:
    ``{erase: 600}``. A step without a budget waits as long as the ECU keeps answering 0x78
    (each one restarts P2*, as ISO 14229-2 says); a budget is the only overall limit."""


class EcuProfile(Strict):
    """How an ECU is flashed and read: the contract between the flasher and the bootloader."""

    bootloader: Literal["single_bank", "ab", "his"]
    """The bootloader dialect: the bench's own (``single_bank``, ``ab``: signed images, journal
    DID 0xFD01) or a HIS/Vector-style one (``his``: logical blocks, fingerprint before erase,
    CRC-32 check, compressed download; the virtual one is ``bench.sim.dialects.his``)."""
    resume: bool = True
    dids: DidIds = DidIds()
    security: SecurityConfig = SecurityConfig()
    routines: RoutineIds = RoutineIds()
    memory: MemoryLayout = MemoryLayout()
    max_block_length: int = Field(0x1002, ge=3, le=0xFFFF)
    """Largest TransferData request (SID + counter + data) the bootloader announces."""
    timing: Timing = Timing()
    trial_boots: int = Field(3, ge=1)
    """A/B only: failed trial boots before the bootloader falls back to the previous bank."""
    delta: DeltaSupport | None = None
    """Present when the ECU takes delta packages; the flasher then sends one when the ECU runs its base."""
    clear_dtcs: bool = False
    """Post-programming: after restoring DTC setting and communication, clear every ECU's DTCs
    (ClearDiagnosticInformation 14 FF FF FF, functional), as OEM programming sequences do."""
    flash_spec: FlashSpec = Field(default_factory=lambda: shipped_spec("bench"))
    """The flash sequence as data (``bench.config.flash_spec``): a shipped one by name (``bench``, the
    default, or ``his``), a YAML file relative to the bench file, or written inline."""

    @field_validator("flash_spec", mode="before")
    @classmethod
    def _shipped(cls, value: object) -> object:
        """A name is a shipped spec (the loader has already read a file named here)."""
        return shipped_spec(value) if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _what_the_spec_says(cls, data: object) -> object:
        """What the flash spec says, the user writes once: a his profile without ``memory.blocks`` has the
        spec's ``memory_map`` as its logical blocks, and a profile without ``dids.version`` reads the version
        from the DID the spec reads as ``version_after`` (the oracles read the profile's)."""
        if not isinstance(data, dict):
            return data
        try:
            spec = data.get("flash_spec")
            spec = shipped_spec(spec) if isinstance(spec, str) else FlashSpec.model_validate(spec) \
                if isinstance(spec, dict) else spec
        except ValueError:  # pydantic's ValidationError too
            return data  # the field's own validation names the mistake where it is
        if not isinstance(spec, FlashSpec):
            return data
        memory, dids = data.get("memory", {}), data.get("dids", {})
        if data.get("bootloader") == "his" and isinstance(memory, dict) and not memory.get("blocks") \
                and spec.memory_map:
            blocks = [region.model_dump() for region in sorted(spec.memory_map, key=lambda region: region.address)]
            data = {**data, "memory": {**memory, "blocks": blocks}}
        version = next((step.did for step in spec.steps
                        if isinstance(step, ReadDidStep) and step.record_as == "version_after"), None)
        if isinstance(dids, dict) and "version" not in dids and version is not None:
            data = {**data, "dids": {**dids, "version": version}}
        return data

    @model_validator(mode="after")
    def _his_blocks(self) -> EcuProfile:
        if self.bootloader == "his" and not self.memory.blocks:
            raise ValueError("a his bootloader needs its logical blocks (name, address, size): memory.blocks, "
                             "or the memory_map of its flash_spec")
        if self.bootloader != "his" and self.memory.blocks:
            raise ValueError(f"memory.blocks are logical blocks of a his bootloader, not of a {self.bootloader} one")
        return self

    @model_validator(mode="after")
    def _staging_apart(self) -> EcuProfile:
        delta, memory = self.delta, self.memory
        if delta is None:
            return self
        if delta.address < memory.address + memory.size and memory.address < delta.address + delta.size:
            raise ValueError(f"delta staging area {delta.address:#x}+{delta.size:#x} overlaps the application "
                             f"region {memory.address:#x}+{memory.size:#x}")
        if self.bootloader == "single_bank" and memory.size % delta.segment_size:
            raise ValueError(f"memory.size {memory.size:#x} is not a multiple of delta.segment_size "
                             f"{delta.segment_size:#x} (in-place patches work on whole segments)")
        return self
