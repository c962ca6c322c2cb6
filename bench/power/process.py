"""An ECU that is a program (a software-in-the-loop build, an ECU image under an emulator), as a
``PowerSupply``: power on starts the program, power off kills it with SIGKILL, as pulling
terminal 30 stops a real ECU between two instructions.

The bench file says how to start it (``power: {sil: {driver: process, process: {...}}}``,
``bench.config.power_models.ProcessSettings``): the command, with ``{python}``, ``{nvm}`` and
``{slcan:BUS}`` filled in, and the line the program prints when it listens (``ready``). The
program keeps its non-volatile memory in the ``{nvm}`` folder, the same across power cycles, so
a cut in the middle of a write leaves what a real ECU's flash would hold.

Everything the program prints goes to ``log`` (evidence of the run; it says when the program
stopped on its own). A program that does not start, or does not print its ready line in time, is a
``BenchFault`` naming the command and its last lines: the bench could not switch the ECU on.
A program that stops by itself while powered is the ECU's behaviour (it crashed): it stays
silent like a dead ECU, and the log says how it ended.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path

from bench.config.power_models import PowerConfig, ProcessSettings
from bench.errors import BenchFault

logger = logging.getLogger(__name__)

TAIL = 20
"""Lines of the program's output a fault message quotes."""


class ProcessSupply:
    """Power of an ECU program. ``bind`` gives it the NVM folder and shared bus URLs (the rig does)
    before the first ``on()``."""

    def __init__(self, name: str, settings: ProcessSettings) -> None:
        self.name = name
        self.settings = settings
        self._ready = re.compile(settings.ready)
        self._values: dict[str, str] = {"python": sys.executable}
        self.nvm: Path | None = settings.nvm
        self.log: Path | None = None
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._tail: deque[str] = deque(maxlen=TAIL)
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, name: str, config: PowerConfig) -> ProcessSupply:
        assert config.process is not None  # PowerConfig requires it for driver 'process'
        return cls(name, config.process)

    def bind(self, workdir: Path, shared: Mapping[str, str]) -> None:
        """Where the program keeps its NVM (``settings.nvm``, else ``workdir/nvm/<name>``) and its
        log (``workdir/<name>.log``), and the URL of each shared bus (``{slcan:BUS}``)."""
        if self.nvm is None:
            self.nvm = workdir / "nvm" / self.name
        self.nvm.mkdir(parents=True, exist_ok=True)
        self.log = workdir / f"{self.name}.log"
        self._values.update({f"slcan:{bus}": url for bus, url in shared.items()})

    def command(self) -> list[str]:
        if self.nvm is None:
            raise BenchFault(f"process supply {self.name!r}: switched on before the bench bound its NVM folder")
        values = {**self._values, "nvm": str(self.nvm)}
        unbound = [bus for bus in self.settings.shared_buses() if f"slcan:{bus}" not in values]
        if unbound:  # the rig serves every bus a command names; only a caller of bind() can miss one
            raise BenchFault(f"process supply {self.name!r}: no URL bound for bus(es) {', '.join(unbound)}")
        return [re.sub(r"\{([^{}]*)\}", lambda match: values[match.group(1)], argument)
                for argument in self.settings.command]

    def is_on(self) -> bool:
        process = self._process
        return process is not None and process.poll() is None

    def on(self) -> None:
        with self._lock:
            if self.is_on():
                return
            self._reap()
            command = self.command()
            ready = threading.Event()
            try:
                process = subprocess.Popen(command, cwd=self.settings.cwd, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True, bufsize=1, stdin=subprocess.DEVNULL,
                                           start_new_session=True)
            except OSError as exc:
                raise BenchFault(f"process supply {self.name!r}: cannot start {command[0]!r}: {exc}") from exc
            self._process = process
            self._reader = threading.Thread(target=self._read, args=(process, ready), daemon=True,
                                            name=f"process-{self.name}")
            self._reader.start()
            deadline = time.monotonic() + self.settings.ready_timeout
            while not ready.wait(0.02):
                if process.poll() is not None or time.monotonic() > deadline:
                    self._kill()
                    why = (f"exited with status {process.returncode}" if process.returncode not in (None, -9)
                           else f"printed no line matching {self.settings.ready!r} within "
                                f"{self.settings.ready_timeout} s")
                    raise BenchFault(f"process supply {self.name!r}: the ECU program {why}; command: "
                                     f"{' '.join(command)}; last output:\n" + "\n".join(self._tail))

    def off(self) -> None:
        with self._lock:
            self._kill()

    def cycle(self, off_for: float = 0.5) -> None:
        self.off()
        time.sleep(off_for)
        self.on()

    def close(self) -> None:
        self.off()

    def _kill(self) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the program and anything it started
            except ProcessLookupError:
                pass
        self._reap()

    def _reap(self) -> None:
        """Wait for the killed or ended program and its output reader: no zombie, no thread left."""
        process, reader = self._process, self._reader
        if process is not None:
            process.wait()
        if reader is not None:
            reader.join()
        self._process = self._reader = None

    def _read(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        assert process.stdout is not None and self.log is not None
        with process.stdout, self.log.open("a", encoding="utf-8") as log:
            log.write(f"--- power on: {' '.join(map(str, process.args))}\n")  # type: ignore[arg-type]
            for line in process.stdout:
                line = line.rstrip("\n")
                self._tail.append(line)
                log.write(line + "\n")
                log.flush()
                if not ready.is_set() and self._ready.search(line):
                    ready.set()
            status = process.wait()
            ending = "power off (killed)" if status == -signal.SIGKILL else f"the program exited with status {status}"
            log.write(f"--- {ending}\n")
        if status != -signal.SIGKILL and ready.is_set():
            logger.warning("process supply %r: the ECU program stopped by itself with status %s (log: %s)",
                           self.name, status, self.log)
