"""The DoIP part of a bench file (ISO 13400-2): the tester's addresses and the DoIP entities."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from bench.config.strict import Strict

LogicalAddress = Annotated[int, Field(strict=True, ge=0x0001, le=0xFFFF)]
"""An ISO 13400-2 logical address (0x0000 is reserved)."""


class DoipEntityConfig(Strict):
    """A DoIP entity (ISO 13400-2): a gateway reached over TCP/UDP that routes diagnostic messages
    to the CAN ECUs behind it. Virtual benches run it on loopback (``bench.doip``)."""

    logical_address: LogicalAddress
    host: str = "127.0.0.1"
    port: int = Field(13400, ge=0, le=0xFFFF)
    """TCP_DATA and UDP_DISCOVERY port (13400, the standard's); 0 lets a virtual gateway pick one."""
    routes: dict[str, LogicalAddress]
    """ECU name -> its logical address behind this gateway (the ECU's CAN bus is its entry's ``bus``)."""
    vin: str = Field("WOTAHILBENCH00001", min_length=17, max_length=17)
    eid: int = Field(0x02_00_00_00_00_01, ge=0, le=0xFFFF_FFFF_FFFF)
    """Entity identification (a MAC address, ISO 13400-2 EID)."""
    functional_address: LogicalAddress = 0xE400
    """Target address of functional requests (ISO 13400-2: 0xE400-0xE7FF, OEM-specific; 0xE400 here)."""
    max_sockets: int = Field(2, ge=1)
    """TCP_DATA sockets the entity serves at once; one more is refused with 0x01 (all sockets registered)."""
    virtual: bool = False
    """The bench runs this entity itself (``bench.doip``), on ``host`` (loopback); false: a real gateway."""


class DoipConfig(Strict):
    """The tester's side of DoIP and the entities of the bench."""

    tester_address: LogicalAddress = 0x0E00
    """The tester's source address (ISO 13400-2 external test equipment: 0x0E00-0x0FFF)."""
    activation_type: int = Field(0x00, ge=0, le=0xFF)
    """Routing activation type the tester asks for (0x00 default, 0x01 WWH-OBD, 0xE0 central security)."""
    entities: dict[str, DoipEntityConfig]
