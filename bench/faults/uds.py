"""UDS triggers by name: ``uds.transfer_data(block=37)``, ``uds.request("RoutineControl", routine=0xFF00)``.

Service names are udsoncan's (``DiagnosticSessionControl``, ``SecurityAccess``,
``RoutineControl``, ``RequestDownload``, ``TransferData``, ``RequestTransferExit``,
``ECUReset``...). Every function takes ``nth`` (fire on the Nth match) and ``ecu`` (watch
another ECU than the one the action targets).
"""

from __future__ import annotations

from bench.errors import UsageError
from bench.faults.triggers import UdsTrigger
from bench.monitor import UdsEvent


def _counting(nth: int, **numbers: int | None) -> None:
    """``nth`` and block numbers count from 1, a download offset or counter from 0: anything else
    would never fire, so it is refused when the trigger is made."""
    if nth < 1:
        raise UsageError(f"nth={nth}: the Nth matching message counts from 1")
    for name, value in numbers.items():
        if value is not None and value < (1 if name == "block" else 0):
            raise UsageError(f"{name}={value}: {name} numbers start at {1 if name == 'block' else 0}")


def _fields(event: UdsEvent, subfunction: int | None, did: int | None, routine: int | None) -> bool:
    return ((subfunction is None or event.subfunction == subfunction)
            and (did is None or event.did == did)
            and (routine is None or event.routine == routine))


def _label(kind: str, service: str, **fields: int | None) -> str:
    shown = ", ".join(f"{k}={v:#x}" if k != "block" else f"{k}={v}" for k, v in fields.items() if v is not None)
    return f"{service} {kind}" + (f" ({shown})" if shown else "")


def request(service: str, *, subfunction: int | None = None, did: int | None = None,
            routine: int | None = None, nth: int = 1, ecu: str | None = None) -> UdsTrigger:
    """When the tester's request reaches the ECU: a virtual ECU before it acts on it, a real one as
    the request is complete on the bus (``bench.faults.uds_events``)."""
    _counting(nth)
    return UdsTrigger(
        "request", lambda e: e.service == service and _fields(e, subfunction, did, routine),
        _label("request", service, subfunction=subfunction, did=did, routine=routine), nth, ecu)


def response(service: str, *, positive: bool | None = None, nrc: int | None = None,
             subfunction: int | None = None, routine: int | None = None, nth: int = 1,
             ecu: str | None = None) -> UdsTrigger:
    """When the ECU's answer to ``service`` is on the bus (``nrc=0x78``: a response pending)."""
    _counting(nth)
    return UdsTrigger(
        "response", lambda e: (e.service == service and (positive is None or e.positive == positive)
                               and (nrc is None or e.nrc == nrc) and _fields(e, subfunction, None, routine)),
        _label("response", service, nrc=nrc, subfunction=subfunction, routine=routine), nth, ecu)


def transfer_data(block: int | None = None, *, counter: int | None = None, nth: int = 1,
                  ecu: str | None = None) -> UdsTrigger:
    """TransferData request number ``block`` of the download (1-based, counted across counter
    wraps; a repeated block keeps its number), or the Nth one carrying ``counter``."""
    _counting(nth, block=block, counter=counter)
    return UdsTrigger(
        "request", lambda e: (e.service == "TransferData"
                              and (block is None or e.block_index == block)
                              and (counter is None or e.block_counter == counter)),
        _label("request", "TransferData", block=block, counter=counter), nth, ecu)


def download_offset(at: int, *, ecu: str | None = None) -> UdsTrigger:
    """The TransferData request whose data covers byte ``at`` of the download."""
    _counting(1, offset=at)
    return UdsTrigger(
        "request", lambda e: (e.service == "TransferData" and e.download_offset is not None
                              and e.download_offset <= at < e.download_offset + e.data_length - 2),
        f"TransferData covering download byte {at:#x}", 1, ecu)
