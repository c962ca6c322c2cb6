"""The bench's own signed image (``bench.image.format``, magic ``OTAIMG01``) as a software file:
one logical block, header and payload, at the address the profile downloads it to
(``memory.address``), which the caller gives as the base address. The signature is not checked
here: that needs the ECU's trusted key, and the ECU checks it."""

from __future__ import annotations

from pathlib import Path

from bench.errors import ConfigError
from bench.image.format import HEADER_MAGIC, FirmwareImage, ImageFormatError
from bench.image.software.binary import check_inside
from bench.image.software.memory_map import MemoryMap
from bench.image.software.model import LogicalBlock, SoftwareFile

FORMAT = "bench-image"


def looks_like(raw: bytes) -> bool:
    return raw[:len(HEADER_MAGIC)] == HEADER_MAGIC


def load(path: Path, raw: bytes, base_address: int | None, memory_map: MemoryMap | None) -> SoftwareFile:
    file = str(path)
    if base_address is None:
        raise ConfigError("the bench's signed image goes where the ECU profile downloads it: give the profile's "
                          "memory.address as the base address (base_address=..., --base-address)", file=file)
    try:
        image = FirmwareImage.from_bytes(raw)
    except ImageFormatError as exc:
        raise ConfigError(f"not a valid bench image: {exc}", file=file) from None
    check_inside(path, base_address, len(raw), memory_map)
    header = image.header
    fields = {"version": header.version, "security_version": str(header.security_version),
              "payload_sha256": header.payload_sha256.hex(), "key_id": header.key_id.hex()}
    return SoftwareFile(path=path, format=FORMAT, header=fields,
                        blocks=(LogicalBlock(address=base_address, data=raw, name="image"),))
