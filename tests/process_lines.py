"""Reading a child process's first line of output without ever hanging (for `ota-bench sim`)."""

from __future__ import annotations

import os
import selectors
import subprocess
import time

import pytest


def first_line(process: subprocess.Popen[bytes], *, deadline: float, what: str = "`ota-bench sim`") -> str:
    """The process's first stdout line; a test failure once ``deadline`` (monotonic) passes or the
    process exits first. What arrived after that line in the same read is dropped."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no line from {what} in time; got {buffer!r}")
            if selector.select(remaining):
                chunk = os.read(fd, 4096)
                if not chunk:
                    pytest.fail(f"{what} exited ({process.wait()}) before its first line; got {buffer!r}")
                buffer += chunk
    return buffer.split(b"\n", 1)[0].decode()
