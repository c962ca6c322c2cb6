"""The status bytes the bench's bootloaders return from CheckMemory and CheckProgrammingDependencies
(the first byte of the routine status record), and what each means in words.

ISO 14229 leaves a routine's status record to the ECU's maker; this is the bench's convention,
spoken by the virtual bootloaders (``bench.sim.boot``) and decoded by the flasher
(``bench.flash.refusals``), so that a refusal reads as its reason rather than a number.
"""

from __future__ import annotations

CHECK_OK, CHECK_FORMAT, CHECK_DIGEST, CHECK_SIGNATURE, CHECK_ROLLBACK = 0x00, 0x01, 0x02, 0x03, 0x04
# Delta packages only: made for another base image; the patch does not make the target image.
CHECK_BASE, CHECK_PATCH = 0x05, 0x06

MEANINGS = {
    CHECK_OK: "correct",
    CHECK_FORMAT: "the image or package is malformed (header, length or descriptor)",
    CHECK_DIGEST: "the SHA-256 digest of what was programmed does not match the image's (corrupted)",
    CHECK_SIGNATURE: "the signature does not verify with the ECU's trusted key (signed with another key)",
    CHECK_ROLLBACK: "anti-rollback: the image's security version is below the ECU's (a downgrade)",
    CHECK_BASE: "the delta package was made for another base image than the one the ECU runs",
    CHECK_PATCH: "the delta patch does not make the signed target image",
}


def status_words(status: int) -> str:
    """``0x04`` → its meaning; a code outside the convention says so."""
    return MEANINGS.get(status, "a status this bench's bootloaders do not define (see the ECU's documentation)")
