"""can-isotp stacks configured from the bench file (classic CAN or CAN FD)."""

from __future__ import annotations

import can
import isotp

from bench.config.models import BusConfig, EcuConfig

PADDING = 0xAA


def stack_params(bus: BusConfig, *, max_frame_size: int) -> dict[str, object]:
    """Receiver never throttles the sender (STmin 0, block size 0): flash fast, as real testers do."""
    params: dict[str, object] = {
        "stmin": 0,
        "blocksize": 0,
        "tx_padding": PADDING,
        "max_frame_size": max_frame_size,
        "tx_data_length": 64 if bus.fd else 8,
        "can_fd": bus.fd,
        "bitrate_switch": bool(bus.fd and bus.data_bitrate),
    }
    return params


def address(ecu: EcuConfig, *, server: bool, functional: bool = False) -> isotp.Address | isotp.AsymmetricAddress:
    """The ISO-TP address of one side: the tester sends on request_id, the ECU on response_id."""
    mode = isotp.AddressingMode.Normal_29bits if ecu.extended_id else isotp.AddressingMode.Normal_11bits
    request = ecu.functional_id if functional else ecu.request_id
    if server:
        return isotp.Address(mode, txid=ecu.response_id, rxid=request)
    if functional:
        # Functional requests are single frames answered on the physical response id. The
        # tester's functional stack only sends: it listens on its own request id, which carries
        # no answers, so it never consumes (or flow-controls) what the physical stack expects.
        return isotp.AsymmetricAddress(tx_addr=isotp.Address(mode, txid=request, tx_only=True),
                                       rx_addr=isotp.Address(mode, rxid=request, rx_only=True))
    return isotp.Address(mode, txid=request, rxid=ecu.response_id)


def make_stack(bus: can.BusABC, notifier: can.Notifier, addr: isotp.Address, bus_config: BusConfig,
               *, max_frame_size: int) -> isotp.NotifierBasedCanStack:
    """A stack reading through ``notifier`` (several stacks share one bus); not started yet."""
    return isotp.NotifierBasedCanStack(bus, notifier, address=addr,
                                        params=stack_params(bus_config, max_frame_size=max_frame_size))
