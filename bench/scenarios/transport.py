"""The bench a scenario runs on, for its ``transport`` (a catalog dimension).

``can`` (the default): the tester speaks to the ECU on its CAN bus, even where the bench file
routes it through a DoIP entity (``via``), so a ``can`` scenario means the same on every bench.

``doip``: the tester reaches the ECU over DoIP (ISO 13400-2). Through the entity its ``via``
names where the bench file has one; otherwise through a virtual DoIP gateway the scenario's bench
adds (``SCENARIO_ENTITY``, on loopback, a free port) that routes the ECU over its own CAN bus, so
the catalogs need no DoIP bench file and CAN faults still act behind the gateway. The tester's
address and activation type are the bench file's ``doip`` section's, or ISO 13400-2's defaults.
Either way the runner puts a TCP relay between tester and entity (``Bench.relay_doip``): the TCP
fault kinds act on it, and its traffic is the scenario's pcapng evidence.
"""

from __future__ import annotations

from bench.config.doip_models import DoipConfig, DoipEntityConfig
from bench.config.models import BenchConfig
from bench.errors import ConfigError

TRANSPORTS = ("can", "doip")
SCENARIO_ENTITY = "scenario-gateway"
"""The name of the virtual DoIP gateway added for an ECU the bench file reaches over CAN only."""
GATEWAY_ADDRESS = 0x1000
ECU_ADDRESSES = 0x1010
"""Logical addresses behind the added gateway: the ECUs' in the bench file's order from here."""


def over_transport(config: BenchConfig, ecu: str, transport: str) -> tuple[BenchConfig, str | None]:
    """The bench ``config`` with ``ecu`` reached over ``transport``, and the DoIP entity the tester
    reaches it through (None over CAN)."""
    entry = config.ecus[ecu]
    if transport == "can":
        if entry.bus is None:
            raise ConfigError(f"ECU {ecu!r} is on Ethernet only (no CAN bus in bench {config.name!r}): its catalog "
                             "cases need transport: doip", file=str(config.source or ""))
        if entry.via is None:
            return config, None
        return config.model_copy(update={"ecus": {**config.ecus, ecu: entry.model_copy(update={"via": None})}}), None
    if entry.via is not None:
        return config, entry.via
    doip = config.doip or DoipConfig(entities={})
    name = SCENARIO_ENTITY
    while name in doip.entities:
        name += "-1"
    entity = DoipEntityConfig(virtual=True, logical_address=GATEWAY_ADDRESS, host="127.0.0.1", port=0,
                              routes={ecu: ECU_ADDRESSES + list(config.ecus).index(ecu)})
    doip = doip.model_copy(update={"entities": {**doip.entities, name: entity}})
    ecus = {**config.ecus, ecu: entry.model_copy(update={"via": name})}
    return config.model_copy(update={"doip": doip, "ecus": ecus}), name
