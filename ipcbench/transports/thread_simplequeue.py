"""Baseline: queue.SimpleQueue (unbounded, C) between threads of one process (see thread_queue)."""

from __future__ import annotations

import queue
from typing import Any

from ipcbench.transports.base import CALL_STYLES, Channel, ChannelSpec, Transport
from ipcbench.transports.thread_queue import thread_channel


class ThreadSimpleQueueTransport(Transport):
    name = "thread_simplequeue"
    description = "baseline: queue.SimpleQueue between threads of one process (GIL)"
    kernel_floor = None
    patterns = ("pingpong", "stream", "fan")
    fan_mode = "shared"
    calls = CALL_STYLES  # put never blocks (unbounded); get takes a timeout or nowait
    in_threads = True

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        return thread_channel(queue.SimpleQueue, spec, duplex)
