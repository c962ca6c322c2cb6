"""The tester's side of one ECU: can-isotp stacks on the tester bus and a udsoncan client."""

from __future__ import annotations

import can
import udsoncan
from udsoncan.client import Client
from udsoncan.connections import PythonIsoTpConnection

from bench.config.loader import resolve_key_function
from bench.config.models import BusConfig, EcuConfig, EcuProfile
from bench.transport.isotp_link import address, make_stack

TESTER_PRESENT_SUPPRESSED = b"\x3e\x80"


class RawDid(udsoncan.DidCodec):
    """A DID read as the raw bytes the ECU sent, whatever their length."""

    def encode(self, value: bytes) -> bytes:  # type: ignore[override]
        return bytes(value)

    def decode(self, payload: bytes) -> bytes:  # type: ignore[override]
        return bytes(payload)

    def __len__(self) -> int:
        raise udsoncan.DidCodec.ReadAllRemainingData


def client_config(profile: EcuProfile) -> dict[str, object]:
    """udsoncan settings from the ECU profile: the profile's timings, never library defaults.

    The tester waits P2/P2* plus the profile's ``network_margin`` (ISO 14229-2's ΔP2).
    """
    timing = profile.timing
    network_margin = timing.network_margin
    dids = profile.dids
    codecs = {did: RawDid for did in (dids.version, dids.fingerprint, dids.journal, dids.boot_state,
                                     *dids.identification.values())}
    return {
        **udsoncan.configs.default_client_config,
        "security_algo": resolve_key_function(profile.security.key_function),
        "security_algo_params": dict(profile.security.key_params),
        "data_identifiers": codecs,
        "p2_timeout": timing.p2 + network_margin,
        "p2_star_timeout": timing.p2_star + network_margin,
        "request_timeout": 10 * (timing.p2_star + network_margin),
        "use_server_timing": False,
        "server_address_format": 8 * profile.memory.address_bytes,
        "server_memorysize_format": 8 * profile.memory.length_bytes,
    }


class TesterLink:
    """Physical requests through a udsoncan client; functional TesterPresent beside it."""

    def __init__(self, ecu: EcuConfig, profile: EcuProfile, bus_config: BusConfig, bus: can.BusABC,
                 notifier: can.Notifier) -> None:
        frame = max(profile.max_block_length, 4095)
        self._physical = make_stack(bus, notifier, address(ecu, server=False), bus_config, max_frame_size=frame)
        self._functional = make_stack(bus, notifier, address(ecu, server=False, functional=True), bus_config,
                                      max_frame_size=frame)
        self.client = Client(PythonIsoTpConnection(self._physical), config=client_config(profile))

    def open(self) -> TesterLink:
        self.client.open()
        self._functional.start()
        return self

    def close(self) -> None:
        self._functional.stop()
        self.client.close()

    def discard_pending(self) -> None:
        """Drop what an unanswered exchange left behind: a request still waiting for flow
        control, and any late response, so the next request starts clean."""
        self.client.conn.empty_txqueue()
        self.client.conn.empty_rxqueue()

    def tester_present_functional(self) -> None:
        """3E 80 to the functional address: keeps every ECU's session alive, no response."""
        self._functional.send(TESTER_PRESENT_SUPPRESSED)

    def __enter__(self) -> TesterLink:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
