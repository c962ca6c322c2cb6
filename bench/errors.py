"""The framework's exceptions.

Two families, never mixed up in a report:

* ``UsageError`` — the user asked for something wrong: a test or catalog asks the bench for what
  it cannot do (a trigger argument out of range, a fault on an ECU without a supply, a trigger
  point the update never reaches). ``ConfigError`` is the one found in a file (YAML, a name, a
  path): its message names the file, the line where known, and the field. Either ends a test as
  a usage error, never as a failure of the ECU.
* ``BenchFault`` — the bench itself is broken (adapter gone, supply not answering, a virtual
  ECU thread that died). A test that hits one is an error of the bench, not a failure of the ECU.
  ``SuspectedBenchFault`` is one the evidence points to without proving it (with the reason).

What the ECU under test does wrong is reported by the flasher and the oracles as ordinary
test failures (``FlashError`` and assertion errors), never as one of the above.
"""

from __future__ import annotations


class BenchError(Exception):
    """Base of every exception the framework raises on purpose."""


class UsageError(BenchError):
    """What the user asked for is wrong or impossible on this bench; the message says what to fix."""


class ConfigError(UsageError):
    """A bench file, profile, recipe or option is wrong; the message says where and what."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.line, self.field = file, line, field
        where = ""
        if file:
            where = file + (f":{line}" if line else "")
        if field:
            where = f"{where}: {field}" if where else field
        super().__init__(f"{where}: {message}" if where else message)


class BenchFault(BenchError):
    """The bench (instrument, adapter, simulator thread) failed — not the ECU under test."""


class HostOverloaded(BenchFault):
    """The host running the virtual bench was so loaded that the simulator answered late: what
    looked like an ECU failure meanwhile is void."""


class SuspectedBenchFault(BenchFault):
    """A failure the evidence lays at the bench's door, though the bench cannot prove it: the
    tester stopped sending in the middle of a message, no fault fired at all, a simulator that
    answered late on a loaded host. ``reason`` says which (one line, the same for the same kind
    of doubt, so a report groups by it); ``finding`` is the failure it stands for, kept whole.
    A bench fault for the exit status, retries and the report, never a product defect."""

    def __init__(self, reason: str, finding: BaseException, *, details: str = "") -> None:
        super().__init__(f"{reason} (the failure it stands for: {type(finding).__name__})")
        self.reason, self.finding, self.details = reason, finding, details


class FlashError(Exception):
    """The ECU did not complete a reprogramming step the way ISO 14229 and its profile say.

    Deliberately not a ``BenchError``: this is a finding about the ECU under test. ``result``
    holds what the flasher did up to the failure (its timeline), when a flasher raised it.
    """

    def __init__(self, message: str, *, result: object | None = None) -> None:
        super().__init__(message)
        self.result = result


class FlashRolledBack(FlashError):
    """The download went through, but after the reset the ECU runs the version it ran before:
    its bootloader dropped the new image (a failed trial boot) and went back. Not a successful
    flash; ``result.rolled_back`` says the same."""
