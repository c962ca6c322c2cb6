"""Negative responses: a handler raises ``Nrc(code)``; the server turns it into 0x7F SID code."""

from __future__ import annotations

from udsoncan.ResponseCode import ResponseCode


class Nrc(Exception):
    def __init__(self, code: int, why: str = "") -> None:
        self.code = code
        super().__init__(f"{ResponseCode.get_name(code)} (0x{code:02X}){': ' + why if why else ''}")


# NRCs a server must not send to a functionally addressed request (ISO 14229-1, 7.5).
SUPPRESSED_ON_FUNCTIONAL = frozenset({
    ResponseCode.ServiceNotSupported,
    ResponseCode.SubFunctionNotSupported,
    ResponseCode.RequestOutOfRange,
    ResponseCode.SubFunctionNotSupportedInActiveSession,
    ResponseCode.ServiceNotSupportedInActiveSession,
})
