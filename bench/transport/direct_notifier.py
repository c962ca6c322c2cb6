"""A ``can.Notifier`` without a thread, for the bench's virtual bus.

python-can's ``Notifier`` reads its bus in a thread of its own and calls the listeners from
there: every frame wakes that thread. On a ``BenchVirtualBus`` the frame can go straight to
the listeners instead: ``DirectNotifier`` sits in the channel where the bus's receive queue was
listened to, and the thread that sends a frame calls the listeners (after the receiver's
acceptance filters, as the queue had them). The listeners the bench gives a notifier
(can-isotp stacks, which queue the frame for their own thread) return at once, so the sender
pays a queue put per receiver, and a thread hop per frame is saved.

The bus delivers to the listeners in the order frames are sent; frames of two senders that
race reach a listener in either order, as they would through a queue. A listener that raises
is logged and left out of that frame only: the sender's ``send`` never fails because of it.

A listener that is the method of an object with ``frame_key()`` (the bench's ISO-TP stacks: a
tester's or an ECU's physical and functional stacks share one bus handle) gets only the frames
of that (CAN id, 29-bit) key, which are the only ones it would not drop at once; a listener with
``frame_keys()`` (a virtual ECU's vehicle listener: its DBC messages) only those of its keys; the
others get every frame. Listeners come and go through ``add_listener``/``remove_listener`` (python-can's
API, as can-isotp's stacks use it), which keep the routes. Frames sent together
(``BenchVirtualBus.send_isotp_block``) reach a routed stack with ``take_frames`` in one call.
"""

from __future__ import annotations

import logging
import operator
import threading
from collections.abc import Callable, Iterable

import can

from bench.transport.virtual_bus import BenchVirtualBus

log = logging.getLogger(__name__)


class DirectNotifier(can.Notifier):
    """Calls its listeners from the sending thread; ``stop()`` gives the bus its queue back."""

    def __init__(self, bus: BenchVirtualBus, listeners: Iterable[can.typechecking.MessageRecipient] = ()) -> None:
        # python-can's __init__ would start the reader thread this class exists to avoid
        self.listeners = list(listeners)
        self._bus_list = [bus]
        self.timeout = 0.0
        self._loop = None
        self.exception = None
        self._stopped = False
        self._readers = []
        self._changing = threading.Lock()
        self._routes: dict[tuple[int, bool], tuple[_Route, ...]] = {}
        self._anyone: tuple[_Route, ...] = ()
        self._route()
        bus.deliver_to(self._deliver, self._deliver_many)

    def add_listener(self, listener: can.typechecking.MessageRecipient) -> None:
        with self._changing:
            self.listeners.append(listener)
            self._route()

    def remove_listener(self, listener: can.typechecking.MessageRecipient) -> None:
        with self._changing:
            self.listeners.remove(listener)
            self._route()

    def _route(self) -> None:
        """Who gets a frame of each key (in the order they were added); ``_anyone`` the rest. A
        routed listener's owner may take several frames at once (``take_frames``)."""
        keys = [_frame_keys(listener) for listener in self.listeners]
        self._routes = {key: tuple((listener, _many(listener) if its is not None else None)
                                   for listener, its in zip(self.listeners, keys, strict=True)
                                   if its is None or key in its)
                        for key in frozenset().union(*(its for its in keys if its is not None))}
        self._anyone = tuple((listener, None) for listener, its in zip(self.listeners, keys, strict=True)
                             if its is None)

    def _deliver_many(self, msgs: list[can.Message]) -> None:
        """Frames sent together: one call to a listener that takes them together, else one a frame."""
        keys = set(map(_ROUTE_KEY, msgs))
        if len(keys) != 1:
            for msg in msgs:
                self._deliver(msg)
            return
        key = keys.pop()
        for listener, many in self._routes.get(key, self._anyone):
            if many is None:
                for msg in msgs:
                    self._call(listener, msg)
                continue
            try:
                many(msgs)
            except Exception:
                log.exception("listener %r of bus %s failed on %d frames from %s", many,
                              self._bus_list[0].channel_info, len(msgs), msgs[0])

    def _deliver(self, msg: can.Message) -> None:
        for listener, _ in self._routes.get((msg.arbitration_id, msg.is_extended_id), self._anyone):
            self._call(listener, msg)

    def _call(self, listener: can.typechecking.MessageRecipient, msg: can.Message) -> None:
        try:
            listener(msg)
        except Exception:
            log.exception("listener %r of bus %s failed on frame %s", listener, self._bus_list[0].channel_info, msg)

    def stop(self, timeout: float = 5.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        bus = self._bus_list[0]
        assert isinstance(bus, BenchVirtualBus)
        bus.deliver_to(None)
        for listener in self.listeners:
            if hasattr(listener, "stop"):
                listener.stop()


_ROUTE_KEY = operator.attrgetter("arbitration_id", "is_extended_id")
"""A frame's route: its (CAN id, 29-bit), as ``frame_key`` gives it."""
_Route = tuple[Callable[[can.Message], object], Callable[[list[can.Message]], None] | None]
"""A listener, and its owner's ``take_frames`` when it has one."""


def _many(listener: can.typechecking.MessageRecipient) -> Callable[[list[can.Message]], None] | None:
    """The owner's ``take_frames`` when ``listener`` is the owner's ``_on_message_received`` (a stack's)
    and the class that defines it defines ``take_frames`` too (a subclass that filters frames its own
    way in ``_on_message_received`` alone gets them one by one)."""
    owner = getattr(listener, "__self__", None)
    defining = next((cls for cls in type(owner).__mro__ if "_on_message_received" in vars(cls)), None)
    if defining is None or getattr(listener, "__func__", None) is not vars(defining)["_on_message_received"] \
            or "take_frames" not in vars(defining):
        return None
    return getattr(owner, "take_frames")


def _frame_keys(listener: can.typechecking.MessageRecipient) -> frozenset[tuple[int, bool]] | None:
    """The (CAN id, 29-bit) keys of the frames ``listener`` takes, if it says: a stack's method whose
    owner has ``frame_key()``, or a listener object with ``frame_keys()``; None for every frame."""
    owner = getattr(listener, "__self__", listener)
    key = getattr(owner, "frame_key", None)
    if callable(key):
        one = key()
        return None if one is None else frozenset((one,))
    keys = getattr(owner, "frame_keys", None)
    return frozenset(keys()) if callable(keys) else None
