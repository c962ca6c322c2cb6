"""A refusal in words: the negative response codes a reprogramming ECU answers (ISO 14229-1,
annex A.1) and the status its check routines report (``bench.routine_status``), so that a
failed step says why the ECU refused, not only the number it sent."""

from __future__ import annotations

from udsoncan.exceptions import NegativeResponseException

from bench.routine_status import status_words

NRC_MEANINGS = {
    0x10: "the ECU rejected the request without a more specific reason",
    0x11: "the ECU does not support this service",
    0x12: "the ECU does not support this sub-function",
    0x13: "the request's length or format is wrong",
    0x14: "the response would be too long for the transport",
    0x21: "the ECU is busy: repeat the request",
    0x22: "the ECU's conditions do not allow it now (session, vehicle state, or no valid application)",
    0x24: "the request is out of sequence (e.g. TransferData before RequestDownload)",
    0x31: "a parameter is out of range or refused (address, size, identifier, or the image's or package's "
          "header)",
    0x33: "the ECU is locked: security access is needed first",
    0x35: "the security key is wrong",
    0x36: "too many wrong security keys: the ECU is locked out",
    0x37: "the ECU's security delay timer has not expired (it runs after wrong keys, in many bootloaders "
          "after every start too; a flash waits up to the profile's security.lockout_delay)",
    0x70: "the ECU does not accept the download (memory, format or state)",
    0x71: "the ECU stopped the transfer (the data or its memory is at fault)",
    0x72: "erasing or programming the ECU's flash failed",
    0x73: "the TransferData block sequence counter is not the one the ECU expects",
    0x7E: "the sub-function is not supported in the ECU's current session",
    0x7F: "the service is not supported in the ECU's current session",
    0x92: "the supply voltage is above the ECU's programming window",
    0x93: "the supply voltage is below the ECU's programming window",
}


def nrc_words(code: int) -> str:
    if 0x38 <= code <= 0x4F:
        return "a security-related refusal the ECU's maker defines"
    return NRC_MEANINGS.get(code, "a code ISO 14229-1 reserves or the ECU's maker defines")


def explain(error: Exception) -> str:
    """``error``'s message, with the meaning of the ECU's negative response when it is one."""
    if isinstance(error, NegativeResponseException) and error.response is not None and error.response.code is not None:
        return f"{error}: {nrc_words(error.response.code)}"
    return str(error)


def routine_refusal(step: str, status: int) -> str:
    """``RoutineControl check programming dependencies refused: status 0x04, anti-rollback: ...``."""
    return f"{step} refused: status {status:#04x}, {status_words(status)}"
