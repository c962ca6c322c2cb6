"""Real software files as logical blocks: what a supplier's ECU is flashed with (Intel HEX,
Motorola S-record, raw binary at an address, VBF), next to the bench's own signed image."""

from bench.image.software.loader import load_software
from bench.image.software.memory_map import MemoryMap
from bench.image.software.model import LogicalBlock, SoftwareFile

__all__ = ["LogicalBlock", "MemoryMap", "SoftwareFile", "load_software"]
