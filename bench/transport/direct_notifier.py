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
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

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
        bus.deliver_to(self._deliver)

    def _deliver(self, msg: can.Message) -> None:
        for listener in tuple(self.listeners):  # add/remove_listener may run on other threads
            try:
                listener(msg)
            except Exception:
                log.exception("listener %r of bus %s failed on frame %s", listener,
                              self._bus_list[0].channel_info, msg)

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
