"""Power instruments behind one small protocol (on, off, cycle, is_on)."""

from bench.power.protocol import PowerSupply
from bench.power.virtual import VirtualSupply

__all__ = ["PowerSupply", "VirtualSupply"]
