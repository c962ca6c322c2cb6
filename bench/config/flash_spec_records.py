"""The records of a flash specification: the bytes its steps send and the status a routine answers.

Option records (a routine's routineControlOptionRecord, RequestTransferExit's
transferRequestParameterRecord: ``OptionRecord``, their fields ``RecordField``), the record a
WriteDataByIdentifier step writes (``WriteField``: the date, the tester serial, the fingerprint,
constant bytes) and what a routine's status byte means (``Status``). The module docstring of
``bench.config.flash_spec`` says how each field is encoded. They are kept apart from the steps
(``bench.config.flash_spec``) because they are a vocabulary of their own, shared by the steps that
send them and the flasher that fills them in (``bench.flash.records``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from bench.config.strict import Strict

Byte = Annotated[int, Field(strict=True, ge=0, le=0xFF)]
FieldBytes = Annotated[int, Field(strict=True, ge=1, le=15)]


class HexBytes(Strict):
    """Constant bytes in a record: ``{hex: "01 02"}``."""

    hex: str

    @field_validator("hex")
    @classmethod
    def _is_hex(cls, text: str) -> str:
        try:
            bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{text!r} is not hex bytes (write e.g. \"01 FF\")") from None
        return text

    @property
    def value(self) -> bytes:
        return bytes.fromhex(self.hex)


class FileHeaderField(Strict):
    """A number the software file's header gives (VBF: ``sw_signature_dev``...), sent as ``bytes`` bytes:
    e.g. a signature the tester passes on to the check routine."""

    file_header: str
    bytes: int = Field(ge=1, le=4096)


RecordField = Literal["alfid", "address", "size", "block_index", "crc16", "crc32", "file_checksum"] | HexBytes \
    | FileHeaderField


class MemoryFormat(Strict):
    """The sizes of memoryAddress and memorySize (their addressAndLengthFormatIdentifier)."""

    address_bytes: FieldBytes = 4
    length_bytes: FieldBytes = 4


class OptionRecord(MemoryFormat):
    """An option record's layout and the sizes of its numbers."""

    option_record: list[RecordField] = Field(default_factory=list)
    index_bytes: FieldBytes = 1
    checksum_bytes: FieldBytes = 2
    """Size of ``file_checksum`` (VBF: a 2-byte CRC16)."""


class Status(Strict):
    """What a routine's first routineStatusRecord byte means: ``ok`` values pass, any other fails
    the step with its meaning (a reason the spec documents) in the message."""

    ok: list[Byte] = Field(default_factory=lambda: [0x00])
    meanings: dict[Annotated[int, Field(ge=0, le=0xFF)], str] = Field(default_factory=dict)
    """Keys are status bytes (not strict: a bench dumped to JSON, as tests write one, has them as text)."""
    required: bool = False
    """True: a response without a status record fails the step (default: no record passes)."""


class TesterSerial(Strict):
    tester_serial: FieldBytes
    """The tester serial's bytes (ASCII of the spec's ``tester_serial``, exactly this long)."""


class Fingerprint(Strict):
    fingerprint: FieldBytes
    """The fingerprint the flash call gives (``flash(..., fingerprint=)``), exactly this long."""


WriteField = Literal["date_bcd"] | TesterSerial | Fingerprint | HexBytes
"""``date_bcd``: the programming date as YY MM DD in BCD (3 bytes, UTC)."""
