"""``LineServer``: the transport the simulated instruments share, a line protocol served to any
number of TCP clients on 127.0.0.1 and, optionally, on the master side of a pseudo-terminal whose
slave path pyserial opens like a USB-serial adapter."""

from __future__ import annotations

import os
import select
import socket
import threading
import tty
from collections.abc import Callable
from typing import Self

POLL = 0.05
"""Seconds between checks of the stop flag: bounds how long ``close()`` takes."""


class LineServer:
    """Serves a line protocol; subclasses answer each line in ``handle``.

    ``port=0`` picks a free port (read ``url``); ``pty=True`` also serves on a pseudo-terminal
    (read ``pty_path``). Lines end with ``terminator``; surrounding whitespace is stripped.
    """

    terminator: bytes = b"\n"

    def __init__(self, *, port: int = 0, pty: bool = False) -> None:
        self._stop = threading.Event()
        self._muted = threading.Event()
        self._threads: list[threading.Thread] = []
        self._threads_lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        self.pty_path: str | None = None
        self._pty: tuple[int, int] | None = None
        self._spawn(self._accept, "tcp")
        if pty:
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no CR/LF translation: the bytes the device would send
            os.set_blocking(master, False)
            self._pty = (master, slave)  # the slave stays open here so the master never sees EIO
            self.pty_path = os.ttyname(slave)
            self._spawn(self._serve_pty, "pty")

    def handle(self, line: str) -> str:
        """The answer to ``line`` (terminators included), or "" for none."""
        raise NotImplementedError

    def mute(self) -> None:
        """Stop answering (and acting on) anything: a device that hung or lost its cable."""
        self._muted.set()

    def unmute(self) -> None:
        self._muted.clear()

    @property
    def muted(self) -> bool:
        return self._muted.is_set()

    def close(self) -> None:
        """Stop serving: threads end, sockets and the pty close. Idempotent."""
        self._stop.set()
        while True:
            with self._threads_lock:
                alive = [thread for thread in self._threads if thread.is_alive()]
            if not alive:
                break
            for thread in alive:
                thread.join()
        self._listener.close()
        if self._pty:
            for fd in self._pty:
                os.close(fd)
            self._pty = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- serving -------------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], label: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=f"{type(self).__name__}-{label}", daemon=True)
        with self._threads_lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            if select.select([self._listener], [], [], POLL)[0]:
                connection, _ = self._listener.accept()
                self._spawn(self._serve_connection, "client", connection)

    def _serve_connection(self, connection: socket.socket) -> None:
        def receive() -> bytes | None:
            if not select.select([connection], [], [], POLL)[0]:
                return None
            try:
                return connection.recv(4096)
            except OSError:
                return b""

        with connection:
            self._serve(receive, connection.sendall)

    def _serve_pty(self) -> None:
        assert self._pty is not None
        master = self._pty[0]

        def receive() -> bytes | None:
            if not select.select([master], [], [], POLL)[0]:
                return None
            try:
                return os.read(master, 4096)
            except OSError:
                return b""

        def send(data: bytes) -> None:
            try:
                while data:
                    data = data[os.write(master, data):]
            except BlockingIOError:
                pass  # nobody reads the line and its buffer is full: the bytes are lost, as on a wire

        self._serve(receive, send)

    def _serve(self, receive: Callable[[], bytes | None], send: Callable[[bytes], None]) -> None:
        pending = b""
        while not self._stop.is_set():
            data = receive()
            if data is None:
                continue
            if not data:
                return
            pending += data
            *lines, pending = pending.split(self.terminator)
            for raw in lines:
                if self.muted:
                    continue
                answer = self.handle(raw.decode("ascii", errors="replace").strip())
                if answer:
                    try:
                        send(answer.encode("ascii"))
                    except OSError:
                        return
