"""Passive bus monitor: ISO-TP reassembly and UDS decoding of what tester and ECUs say on a bus.

    with BusMonitor(listener_bus, bench.config.buses["body"], ecus_on_bus(bench.config, "body")) as monitor:
        monitor.subscribe(lambda event: ...)      # fault triggers, in the monitor thread
        ...
    print(monitor.render())
"""

from bench.monitor.bus_monitor import BusMonitor, ecus_on_bus
from bench.monitor.decode import Conversation, decode
from bench.monitor.events import UdsEvent

__all__ = ["BusMonitor", "Conversation", "UdsEvent", "decode", "ecus_on_bus"]
