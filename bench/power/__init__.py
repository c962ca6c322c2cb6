"""Power instruments behind one small protocol (on, off, cycle, is_on)."""

from bench.config.power_settings import DEFAULT_COMMANDS
from bench.power.drivers import close_supply, open_supply
from bench.power.protocol import PowerSupply
from bench.power.relay import SerialRelay
from bench.power.scpi import ScpiSupply
from bench.power.virtual import VirtualSupply

__all__ = ["DEFAULT_COMMANDS", "PowerSupply", "ScpiSupply", "SerialRelay", "VirtualSupply", "close_supply",
           "open_supply"]
