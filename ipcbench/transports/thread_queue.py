"""Baseline: queue.Queue(maxsize) between threads of one process -- do I need processes at all?

The worker roles (pingpong's echo, stream's producer, fan's producers and consumers) run in
threads of the driver process (``in_threads``: ``Children`` starts ``WorkerThread``s with the
same control protocol), so the patterns run unchanged. A message is passed by reference:
nothing is pickled or copied, only the queue's lock and condition and a thread switch, all
under the GIL (``results/metadata.py`` records whether it is enabled). ``wire_bytes`` is the
pickled size as for every object-wire channel, though no byte crosses a process boundary here.

Every side's busy wait must yield the GIL (``sends_in_thread``): the peer that would make
progress is a thread of this process. No start method applies (cases have none, like the
in-process floors); placement "split" pins the worker threads to another CPU than the
driver's main thread (Linux pins threads one by one). The queue kinds are two transports,
``thread_queue`` and ``thread_simplequeue``, not two ops: the kind is the channel, compared
like-for-like with ``queue`` / ``simplequeue`` / ``pipe`` (ops are part of the comparison
group, and a transport opens from the ChannelSpec, which carries no op); only queue.Queue takes
a maxsize.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from ipcbench.transports.base import CALL_STYLES, Channel, ChannelSpec, Transport
from ipcbench.transports.queues import QueueEnd


class ThreadQueueEnd(QueueEnd):
    """QueueEnd over an in-process queue; ``copy.copy`` gives a worker thread its own side."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sends_in_thread = True  # the peer is a thread of this process: yield the GIL


def thread_channel(make: Callable[[], Any], spec: ChannelSpec, duplex: bool) -> Channel:
    """Parent and child ends over one queue (child -> parent) or two (both ways)."""

    def end(out_q: Any, in_q: Any) -> ThreadQueueEnd:
        return ThreadQueueEnd(out_q, in_q, call=spec.call, timeout_s=spec.call_timeout_s)

    up = make()
    if not duplex:
        return Channel(parent=end(None, up), child=end(up, None))
    down = make()
    return Channel(parent=end(down, up), child=end(up, down))


class ThreadQueueTransport(Transport):
    name = "thread_queue"
    description = "baseline: queue.Queue(maxsize) between threads of one process (GIL)"
    kernel_floor = None
    patterns = ("pingpong", "stream", "fan")
    fan_mode = "shared"
    uses_maxsize = True
    calls = CALL_STYLES
    in_threads = True

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        return thread_channel(lambda: queue.Queue(spec.maxsize), spec, duplex)
