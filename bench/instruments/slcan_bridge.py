"""A CAN bus served on a TCP port in SLCAN, the ASCII protocol of USB-serial CAN adapters.

SLCAN (Lawicel CANUSB; also CANable, USBtin and their clones) carries commands and classic CAN
frames as CR-terminated ASCII lines. python-can's ``slcan`` interface speaks it over any pyserial
URL, so a tester in another process reaches a bus served here exactly as it reaches a rack
through such an adapter::

    with SlcanBridge(lambda: can.Bus(interface="virtual", channel="body")) as bridge:
        tester = can.Bus(interface="slcan", channel=bridge.url, sleep_after_open=0)

(``sleep_after_open=0``: python-can otherwise waits 2 s for a USB adapter to boot.)
``ota-bench sim --slcan HOST:PORT`` serves a virtual ECU's bus this way.

Every TCP client is one adapter on the bus, with its own handle from ``open_bus``: clients hear
the bus and each other, never themselves, as CAN nodes do. A client can send::

    O, L          open the channel (L: listen only); frames flow only while it is open
    C             close it
    S0..S9, sxxyy set the bitrate (only while closed): accepted, the served bus has no bit timing
    tIIILDD..     send a standard data frame (T: 29-bit identifier; r, R: remote frames),
                  answered z (t, r) or Z (T, R)
    V, N, F       versions, serial number, status flags (always 00: the served bus has no errors)
    (empty)       nothing: answered OK

Every answer ends with CR; a BEL (0x07) answers a command that is unknown, malformed or not allowed
in the channel's state, and a line longer than any command. Classic CAN only: CAN FD frames
(d, D, b, B) and data bitrates (Y) are refused, as are acceptance filters (M, m), timestamps (Z1)
and polling (P, A). Frames received from the bus go to the client as ``tIIILDD..\\r`` (``T``,
``r``, ``R``), batched into as few TCP writes as the bus allows.
"""

from __future__ import annotations

import logging
import re
import select
import socket
import threading
from collections.abc import Callable
from typing import Self

import can

logger = logging.getLogger(__name__)

POLL = 0.05
"""Seconds between checks of the stop flag: bounds how long ``close()`` takes."""
SEND_TIMEOUT = 2.0
"""Seconds a client may leave our frames unread before it counts as gone and is disconnected."""
BATCH = 16 * 1024
"""Bytes of frames from the bus gathered into one TCP write at most."""
LONGEST_COMMAND = 32
"""Bytes a command may have (an extended frame with 8 bytes has 26): more without a CR is
refused and dropped, as an adapter's line buffer overflows."""

OK, ERROR = b"\r", b"\a"
VERSION = b"V0101"
"""Answer to ``V``: hardware version 01, software version 01."""
SERIAL_NUMBER = b"NOTAB"
"""Answer to ``N``: serial number ``OTAB``."""
STATUS = b"F00"
"""Answer to ``F``: no error flags."""

_FRAME = re.compile(rb"(?:([tr])([0-9A-Fa-f]{3})|([TR])([0-9A-Fa-f]{8}))([0-8])((?:[0-9A-Fa-f]{2})*)")
_BITRATE = re.compile(rb"S[0-9]|s[0-9A-Fa-f]{4}")


def decode_frame(command: bytes) -> can.Message | None:
    """The frame a ``t``/``T``/``r``/``R`` command sends, or None if it is malformed."""
    match = _FRAME.fullmatch(command)
    if match is None:
        return None
    standard_kind, standard_id, extended_kind, extended_id, dlc_digit, data_hex = match.groups()
    kind = standard_kind or extended_kind
    can_id = int(standard_id or extended_id, 16)
    dlc = int(dlc_digit)
    remote = kind in b"rR"
    if (standard_kind and can_id > 0x7FF) or (extended_kind and can_id > 0x1FFF_FFFF):
        return None
    if len(data_hex) != (0 if remote else 2 * dlc):
        return None
    return can.Message(arbitration_id=can_id, is_extended_id=bool(extended_kind), is_remote_frame=remote,
                       dlc=dlc, data=b"" if remote else bytes.fromhex(data_hex.decode()))


def encode_frame(msg: can.Message) -> bytes:
    """The SLCAN line (CR included) that carries a classic CAN frame to a client."""
    if msg.is_extended_id:
        head = f"{'R' if msg.is_remote_frame else 'T'}{msg.arbitration_id:08X}"
    else:
        head = f"{'r' if msg.is_remote_frame else 't'}{msg.arbitration_id:03X}"
    if msg.is_remote_frame:
        return f"{head}{msg.dlc}\r".encode()
    return f"{head}{len(msg.data)}{msg.data.hex().upper()}\r".encode()


class SlcanBridge:
    """Serves the bus ``open_bus`` opens (once per client) to SLCAN clients on ``url``.

    ``port=0`` picks a free port; ``url`` is then ``socket://HOST:PORT`` with the port chosen.
    """

    def __init__(self, open_bus: Callable[[], can.BusABC], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._open_bus = open_bus
        self._stop = threading.Event()
        self._sessions: list[_Session] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server((host, port))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"socket://{host}:{self.port}"
        self._acceptor = threading.Thread(target=self._accept, name="slcan-accept", daemon=True)
        self._acceptor.start()

    @property
    def clients(self) -> int:
        """Clients connected now."""
        with self._lock:
            return sum(1 for session in self._sessions if not session.ended.is_set())

    def close(self) -> None:
        """Disconnect every client, stop serving, close the clients' bus handles. Idempotent."""
        self._stop.set()
        self._acceptor.join()
        self._listener.close()
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            if not select.select([self._listener], [], [], POLL)[0]:
                continue
            connection, peer = self._listener.accept()
            try:
                bus = self._open_bus()
            except Exception:  # an adapter whose bus cannot open drops the client; the log says why
                logger.exception("SLCAN client %s: cannot open the bus", peer)
                connection.close()
                continue
            with self._lock:
                self._sessions = [s for s in self._sessions if s.serving]  # forget the finished ones
                self._sessions.append(_Session(connection, bus, self._stop, name=f"slcan-{peer[1]}"))


class _Session:
    """One client: its SLCAN channel state, its bus handle, a thread per direction."""

    def __init__(self, connection: socket.socket, bus: can.BusABC, stop: threading.Event, *, name: str) -> None:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # answers must not wait for Nagle
        connection.settimeout(SEND_TIMEOUT)
        self.connection = connection
        self.bus = bus
        self.is_open = False
        self.listen_only = False
        self.ended = threading.Event()
        self._stop = stop
        self._send_lock = threading.Lock()
        self._from_bus = threading.Thread(target=self._forward_from_bus, name=f"{name}-rx", daemon=True)
        self._from_client = threading.Thread(target=self._serve_client, name=f"{name}-tx", daemon=True)
        self._from_bus.start()
        self._from_client.start()

    @property
    def serving(self) -> bool:
        """Its threads still run (they stop soon after ``ended``)."""
        return self._from_client.is_alive()

    def close(self) -> None:
        self.ended.set()
        self._from_client.join()

    def _running(self) -> bool:
        return not (self.ended.is_set() or self._stop.is_set())

    def _send(self, data: bytes | bytearray) -> None:
        try:
            with self._send_lock:
                self.connection.sendall(data)
        except OSError:  # gone, or not reading for SEND_TIMEOUT: the cable is pulled
            self.ended.set()

    def _serve_client(self) -> None:
        pending = b""
        try:
            while self._running():
                if not select.select([self.connection], [], [], POLL)[0]:
                    continue
                try:
                    data = self.connection.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                *commands, pending = (pending + data).split(b"\r")
                answers = b"".join(self._execute(command) for command in commands)
                if len(pending) > LONGEST_COMMAND:
                    pending, answers = b"", answers + ERROR
                if answers:
                    self._send(answers)
        finally:
            self.ended.set()
            self._from_bus.join()
            self.bus.shutdown()
            self.connection.close()

    def _forward_from_bus(self) -> None:
        while self._running():
            msg = self.bus.recv(POLL)
            out = bytearray()
            while msg is not None:
                if self.is_open and not (msg.is_fd or msg.is_error_frame):  # a closed adapter hears nothing
                    out += encode_frame(msg)
                if len(out) >= BATCH:
                    break
                msg = self.bus.recv(0)  # whatever else is already there goes in the same write
            if out:
                self._send(out)

    def _execute(self, command: bytes) -> bytes:
        """The answer to one command (CR not included in ``command``)."""
        if not command:
            return OK
        kind = command[:1]
        if kind in b"tTrR":
            if not self.is_open or self.listen_only:
                return ERROR
            msg = decode_frame(command)
            if msg is None:
                return ERROR
            try:
                self.bus.send(msg)
            except can.CanError:
                return ERROR
            return b"Z\r" if kind in b"TR" else b"z\r"
        if command in (b"O", b"L"):
            if self.is_open:
                return ERROR
            self.is_open, self.listen_only = True, command == b"L"
            return OK
        if command == b"C":
            self.is_open = False
            return OK
        if _BITRATE.fullmatch(command):
            return ERROR if self.is_open else OK
        if command == b"V":
            return VERSION + OK
        if command == b"N":
            return SERIAL_NUMBER + OK
        if command == b"F":
            return STATUS + OK if self.is_open else ERROR
        if command == b"Z0":
            return OK
        return ERROR
