"""A flash specification: an OEM's programming sequence as data, the contract a flash bootloader keeps.

An ECU profile names one (``flash_spec: his``, a shipped one), points at a YAML file of its own
(``flash_spec: ../flash-specs/acme.yaml``) or writes it inline. The flasher (``bench.flash``)
sends its steps in order and names each step on its timeline as the spec names it::

    name: his
    resume: restart_block            # journal | restart_block | from_start
    tester_serial: "BENCH1"          # the fingerprint's tester serial (ASCII)
    memory_map:                      # the ECU's logical blocks: a software file's blocks must fall in one
      - {name: application, address: 0x00010000, size: 0x00030000}
      - {name: calibration, address: 0x00080000, size: 0x00008000}
    steps:
      - {do: session, name: "DiagnosticSessionControl extended (functional)", session: extended,
         functional: true, suppress: true}
      - {do: routine, name: "RoutineControl check programming preconditions", routine_id: 0x0203,
         status: {ok: [0x00], meanings: {0x01: "engine speed not zero"}}}
      - {do: security_access, level: 0x11}
      - {do: write_did, did: 0xF15A, record: [{tester_serial: 6}, date_bcd]}
      - do: logical_blocks               # once per logical block of the software
        erase: {routine_id: 0xFF00, option_record: [alfid, address, size]}
        download: {compression: 1, codec: zlib}
        check: {routine_id: 0x0202, option_record: [crc32]}
      - {do: ecu_reset, reset_type: hard}

Option records (routines, RequestTransferExit's transferRequestParameterRecord) are lists of
fields, each encoded big-endian: ``alfid`` (ISO 14229-1 addressAndLengthFormatIdentifier: the
length's byte count in the high nibble, the address's in the low one), ``address``, ``size``
(with ``address_bytes``/``length_bytes``), ``block_index`` (``index_bytes``), ``crc16``
(CRC-16/CCITT-FALSE), ``crc32`` (ISO-HDLC, as zlib), ``file_checksum`` (the checksum the
software file gives the block, e.g. VBF's CRC16), ``{file_header: NAME, bytes: N}`` (a number of
the file's header, e.g. a VBF signature) and ``{hex: "01"}`` for constant bytes.
Checksums are over the block's data as written to flash (uncompressed).

A download's dataFormatIdentifier is ``compression << 4 | encryption``. The tester compresses with
``codec`` (zlib for method 1), then encrypts with ``cipher`` for a non-zero ``encryption`` method:
``{encryption: 1, cipher: aes-128-ctr, key: {hex: "<16 bytes>"}, nonce: {hex: "<16 bytes>"}}``
(``bench.image.download_cipher``; the virtual HIS-style ECU decrypts with the same spec's key).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

# the records were defined here; the flasher, tests and users import them from this module too
from bench.config.flash_spec_records import (Byte, FileHeaderField, Fingerprint, HexBytes,  # noqa: F401
                                             MemoryFormat, OptionRecord, Status, TesterSerial, WriteField)
from bench.config.strict import Strict
from bench.config.yaml_source import read_yaml

SHIPPED = Path(__file__).with_name("flash_specs")
"""The flash specifications the bench ships, one YAML file each: ``bench`` and ``his``."""

Identifier = Annotated[int, Field(strict=True, ge=0, le=0xFFFF)]
Nibble = Annotated[int, Field(strict=True, ge=0, le=0x0F)]

SESSIONS = {"default": 0x01, "programming": 0x02, "extended": 0x03}
RESET_TYPES = {"hard": 0x01, "key_off_on": 0x02, "soft": 0x03}
DTC_SETTINGS = {"on": 0x01, "off": 0x02}
CODECS = {"none": 0, "zlib": 1}
"""The codecs the tester applies to a block's data, with the compressionMethod each one needs."""


class _Named(Strict):
    name: str | None = None
    """The step's name on the flasher's timeline (each kind has a default)."""


class _Addressed(_Named):
    functional: bool = False
    """Sent to the ECU's functional address (one single frame to every ECU of the bus)."""
    suppress: bool = False
    """suppressPosRspMsgIndicationBit: no positive answer expected (a negative one fails the step)."""


class SessionStep(_Addressed):
    do: Literal["session"]
    session: Literal["default", "programming", "extended"] | Byte


class DtcSettingStep(_Addressed):
    do: Literal["dtc_setting"]
    setting: Literal["on", "off"]

    @field_validator("setting", mode="before")
    @classmethod
    def _yaml_boolean(cls, value: object) -> object:
        """YAML 1.1 reads an unquoted on/off as a boolean: take it as the word that was written."""
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


class CommunicationControlStep(_Addressed):
    do: Literal["communication_control"]
    control: Byte
    """controlType: 0x00 enableRxAndTx, 0x01 enableRxAndDisableTx, 0x03 disableRxAndTx."""
    communication_type: Byte = 0x01
    """0x01 normal communication messages (ISO 14229-1 Annex B.1), 0x03 normal and network management."""


class ClearDtcsStep(_Named):
    """ClearDiagnosticInformation has no sub-function, so no suppress bit: every ECU answers."""

    do: Literal["clear_dtcs"]
    group: int = Field(0xFFFFFF, ge=0, le=0xFFFFFF)
    functional: bool = False


class SecurityAccessStep(_Named):
    do: Literal["security_access"]
    level: Byte
    """The odd requestSeed sub-function; sendKey is level + 1."""
    key_function: str | None = None
    """``module:callable`` with udsoncan's ``(level, seed, params)``; default: the profile's security."""
    key_params: dict[str, object] | None = None

    @field_validator("level")
    @classmethod
    def _odd(cls, level: int) -> int:
        if level % 2 == 0 or level > 0x7D:
            raise ValueError(f"a security level is an odd requestSeed value 0x01..0x7D, got {level:#x}")
        return level


class Expect(Strict):
    """What a read DID must hold before the flasher goes on; anything else refuses the ECU."""

    one_of: list[str] = Field(min_length=1)
    refusal: str = "the ECU's {name} is {value!r}; this software is for {expected}"
    """The message; ``{name}``, ``{value}`` and ``{expected}`` are filled in."""


class ReadDidStep(_Named):
    do: Literal["read_did"]
    did: Identifier
    decode: Literal["ascii", "hex"] = "ascii"
    expect: Expect | None = None
    record_as: Literal["version_before", "version_after"] | None = None
    """Keep the value as the version the ECU ran before, or runs after, the flash."""
    absent_ok: bool = False
    """A negative answer 0x22 (conditionsNotCorrect: e.g. no valid application) reads as nothing."""



class WriteDidStep(_Named):
    do: Literal["write_did"]
    did: Identifier
    record: list[WriteField] = Field(min_length=1)


class RoutineStep(_Named, OptionRecord):
    do: Literal["routine"]
    routine_id: Identifier
    status: Status = Status()
    budget: Literal["check_memory", "check_dependencies", "erase"] | None = None
    """The ``timing.step_budget`` entry that bounds this routine (none: wait while the ECU sends 0x78)."""

    @model_validator(mode="after")
    def _no_block_fields(self) -> RoutineStep:
        per_block = [f if isinstance(f, str) else f"file_header {f.file_header}" for f in self.option_record
                     if isinstance(f, str | FileHeaderField)]
        if per_block:
            raise ValueError(f"option_record fields {', '.join(per_block)} describe a logical block: "
                             "only routines inside 'logical_blocks' (erase, check) can send them")
        return self


class EcuResetStep(_Named):
    do: Literal["ecu_reset"]
    reset_type: Literal["hard", "key_off_on", "soft"] | Byte = "hard"
    wait_name: str = "wait for ECU after reset"
    """The timeline's name of the wait until the ECU answers again."""


class BlockRoutine(_Named, OptionRecord):
    """A routine run for each logical block (erase, check); names may hold ``{index}`` (the block's
    index in the memory map) and ``{region}`` (its name there)."""

    routine_id: Identifier
    status: Status = Status()
    range: Literal["block", "region", "file"] = "block"
    """What ``address`` and ``size`` name: the block's data, the whole memory-map region it is in, or
    each range the software file says to erase for it (VBF's ``erase``: one routine call a range)."""


class Download(_Named, MemoryFormat):
    """RequestDownload: dataFormatIdentifier = compression << 4 | encryption; the tester applies ``codec``."""

    compression: Nibble = 0
    encryption: Nibble = 0
    codec: Literal["none", "zlib"] = "none"
    cipher: Literal["none", "aes-128-ctr"] = "none"
    """What the ``encryption`` method is: the tester encrypts after compressing
    (``bench.image.download_cipher``), with ``key`` (16 bytes) and the initial counter block ``nonce``."""
    key: HexBytes | None = None
    nonce: HexBytes = HexBytes(hex="00" * 16)
    memory_size: Literal["uncompressed", "compressed"] = "uncompressed"
    """What memorySize counts: the block as written to flash, or the bytes sent."""
    transfer_name: str = "TransferData"
    max_block_length: int | None = Field(None, ge=3, le=0xFFFF)
    """Cap on TransferData requests (SID + counter + data) below what the ECU announces."""

    @model_validator(mode="after")
    def _codec_matches(self) -> Download:
        if bool(self.encryption) != (self.cipher != "none"):
            raise ValueError(f"encryption method {self.encryption} needs the cipher it stands for "
                             f"(cipher: aes-128-ctr), and cipher {self.cipher!r} an encryption method 1..15")
        if self.cipher != "none" and (self.key is None or len(self.key.value) != 16):
            raise ValueError(f"cipher {self.cipher} needs key: {{hex: ...}} of 16 bytes")
        if len(self.nonce.value) != 16:
            raise ValueError(f"nonce has {len(self.nonce.value)} bytes; AES's counter block has 16")
        if CODECS[self.codec] != self.compression and (self.codec != "none" or self.compression):
            raise ValueError(f"compression {self.compression} needs the codec that makes it "
                             f"(zlib for 1), not codec {self.codec!r}")
        return self


class TransferExit(_Named, OptionRecord):
    """RequestTransferExit, with the transferRequestParameterRecord of ``option_record`` (often none)."""


class LogicalBlocksStep(_Named):
    do: Literal["logical_blocks"]
    erase: BlockRoutine | None = None
    download: Download = Download()
    transfer_exit: TransferExit = TransferExit()
    check: BlockRoutine | None = None


Step = Annotated[SessionStep | DtcSettingStep | CommunicationControlStep | ClearDtcsStep | SecurityAccessStep
                 | ReadDidStep | WriteDidStep | RoutineStep | EcuResetStep | LogicalBlocksStep,
                 Field(discriminator="do")]


class MemoryRegion(Strict):
    name: str
    address: int = Field(strict=True, ge=0)
    size: int = Field(strict=True, gt=0)

    @property
    def end(self) -> int:
        return self.address + self.size


class FlashSpec(Strict):
    name: str
    description: str = ""
    resume: Literal["journal", "restart_block", "from_start"]
    """What a resumed flash does: continue from the ECU's download journal (the bench's dialect), start
    the interrupted logical block again (erasing it again), or start from the beginning."""
    tester_serial: str = "OTABEN"
    memory_map: list[MemoryRegion] = Field(default_factory=list)
    """The ECU's logical blocks, in the order of their index. Empty: the profile's ``memory.blocks``
    (an ECU's map belongs to the ECU more than to the OEM's sequence), else any address."""
    steps: list[Step] = Field(min_length=1)

    @property
    def takes_images(self) -> bool:
        """The bench's own contract: it flashes the bench's signed images and resumes from the
        ECU's download journal; any other spec flashes software files (HEX, S-record, VBF...)."""
        return self.resume == "journal"

    @model_validator(mode="after")
    def _consistent(self) -> FlashSpec:
        blocks = [s for s in self.steps if isinstance(s, LogicalBlocksStep)]
        if len(blocks) != 1:
            raise ValueError(f"a flash specification has exactly one 'logical_blocks' step, this one has "
                             f"{len(blocks)}")
        regions = sorted(self.memory_map, key=lambda r: r.address)
        for low, high in zip(regions, regions[1:]):
            if high.address < low.end:
                raise ValueError(f"memory_map regions {low.name!r} and {high.name!r} overlap")
        if not self.tester_serial.isascii():
            raise ValueError(f"tester_serial {self.tester_serial!r} is not ASCII")
        for step in self.steps:
            for field in step.record if isinstance(step, WriteDidStep) else ():
                if isinstance(field, TesterSerial) and field.tester_serial != len(self.tester_serial):
                    raise ValueError(f"DID {step.did:#06x} holds a {field.tester_serial}-byte tester serial; "
                                     f"tester_serial {self.tester_serial!r} has {len(self.tester_serial)}")
        return self

    @property
    def needs_memory_map(self) -> bool:
        """Whether a record names a block's index or its whole region."""
        routines = [r for r in (self.blocks.erase, self.blocks.check) if r is not None]
        return any("block_index" in r.option_record or r.range == "region" for r in routines)

    @property
    def erase_routine(self) -> int | None:
        """The routine that erases a logical block (None: this bootloader erases without being asked)."""
        return self.blocks.erase.routine_id if self.blocks.erase is not None else None

    @property
    def unlock_level(self) -> int | None:
        """The first security level the sequence unlocks (its requestSeed sub-function)."""
        return next((step.level for step in self.steps if isinstance(step, SecurityAccessStep)), None)

    @property
    def blocks(self) -> LogicalBlocksStep:
        return next(s for s in self.steps if isinstance(s, LogicalBlocksStep))

    @property
    def preconditions_routine(self) -> int | None:
        """The first routine before the logical blocks (check programming preconditions), if any."""
        return next((s.routine_id for s in self._before_blocks if isinstance(s, RoutineStep)), None)

    @property
    def fingerprint_did(self) -> int | None:
        """The first DID written before the logical blocks (the fingerprint), if any."""
        return next((s.did for s in self._before_blocks if isinstance(s, WriteDidStep)), None)

    @property
    def check_block_routine(self) -> int | None:
        """The routine that checks each logical block (None: the spec checks in a routine after them)."""
        return self.blocks.check.routine_id if self.blocks.check is not None else None

    @property
    def dependencies_routine(self) -> int | None:
        """The last routine after the logical blocks (check programming dependencies), if any."""
        after = self.steps[self.steps.index(self.blocks) + 1:]
        return next((s.routine_id for s in reversed(after) if isinstance(s, RoutineStep)), None)

    @property
    def _before_blocks(self) -> list[Step]:
        return self.steps[:self.steps.index(self.blocks)]


def shipped_names() -> list[str]:
    return sorted(path.stem for path in SHIPPED.glob("*.yaml"))


@cache
def shipped_spec(name: str) -> FlashSpec:
    """A flash specification the bench ships (``bench``, ``his``), by name."""
    if name not in shipped_names():
        raise ValueError(f"no shipped flash specification {name!r} (shipped: {', '.join(shipped_names())}); "
                         "a spec of your own is a .yaml file, relative to the bench file")
    data, _ = read_yaml(SHIPPED / f"{name}.yaml")
    return FlashSpec.model_validate(data)
