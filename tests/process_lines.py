"""Reading a child process's output lines without ever hanging (for `ota-bench sim`)."""

from __future__ import annotations

import os
import selectors
import subprocess
import time

import pytest


def first_line(process: subprocess.Popen[bytes], *, deadline: float, what: str = "`ota-bench sim`") -> str:
    """The process's first stdout line; a test failure once ``deadline`` (monotonic) passes or the
    process exits first. What arrived after that line in the same read is dropped."""
    return lines_until(process, "", deadline=deadline, what=what)[0]


def lines_until(process: subprocess.Popen[bytes], prefix: str, *, deadline: float,
                what: str = "`ota-bench sim`") -> list[str]:
    """The process's stdout lines up to the first that starts with ``prefix`` (included); a test
    failure once ``deadline`` passes or the process exits first. What arrived after it in the same
    read is dropped."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            lines = buffer.decode(errors="replace").split("\n")
            done = [index for index, line in enumerate(lines[:-1]) if line.startswith(prefix)]
            if done:
                return lines[:done[0] + 1]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no line starting with {prefix!r} from {what} in time; got {buffer!r}")
            if selector.select(remaining):
                chunk = os.read(fd, 4096)
                if not chunk:
                    pytest.fail(f"{what} exited ({process.wait()}) before a line starting with {prefix!r}; "
                                f"got {buffer!r}")
                buffer += chunk
