"""Simulated bench instruments: stand-ins for real supplies, relays and CAN adapters, on a TCP
port or a pty.

They speak the same protocols as the devices ``bench.power``'s drivers talk to, so the real
driver code runs unchanged against them — in CI, on a laptop, or while a rack is being wired::

    from bench.instruments import ScpiSupplySimulator
    from bench.power import ScpiSupply

    with ScpiSupplySimulator(pty=True) as sim:        # sim.url = "socket://127.0.0.1:PORT"
        supply = ScpiSupply("kl30", sim.url)          # or ScpiSupply("kl30", sim.pty_path)
        supply.on()

A bench file can point a ``scpi`` or ``relay`` supply at ``sim.url`` too. Every supply and
relay simulator serves in daemon threads, keeps its state, and has hooks for tests: ``mute()``
(stop answering), ``ignore`` (accept a command without effect) and ``on_change`` (called on
every state change — how a simulated supply drives a virtual ECU's power).

``LineServer`` is the transport they share: a line protocol served to any number of TCP
clients on 127.0.0.1 and, optionally, on the master side of a pseudo-terminal whose slave
path (``pty_path``) pyserial opens like a USB-serial adapter.

``SlcanBridge`` serves a CAN bus the way a USB-serial SLCAN adapter does, so python-can's
``slcan`` interface reaches it from another process (``ota-bench sim --slcan``).
"""

from bench.instruments.line_server import LineServer
from bench.instruments.relay_sim import RelaySimulator, RelayState
from bench.instruments.scpi_sim import OutputState, ScpiSupplySimulator
from bench.instruments.slcan_bridge import SlcanBridge

__all__ = ["LineServer", "OutputState", "RelaySimulator", "RelayState", "ScpiSupplySimulator", "SlcanBridge"]
