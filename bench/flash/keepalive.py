"""TesterPresent (3E 80, functional) while a non-default session must stay open."""

from __future__ import annotations

import threading
from collections.abc import Callable


class TesterPresentKeepalive:
    def __init__(self, send: Callable[[], None], period: float) -> None:
        self._send = send
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tester-present", daemon=True)

    def __enter__(self) -> TesterPresentKeepalive:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self._send()
