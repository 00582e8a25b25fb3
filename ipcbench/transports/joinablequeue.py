"""multiprocessing.JoinableQueue(maxsize): the receiver calls task_done() per item."""

from __future__ import annotations

from typing import Any

from ipcbench.transports.queue import QueueTransport


class JoinableQueueTransport(QueueTransport):
    name = "joinablequeue"
    description = "multiprocessing.JoinableQueue(maxsize), put/get + task_done()"
    patterns = ("pingpong", "stream", "fan", "taskqueue", "backpressure", "nowait", "lifecycle")
    task_done = True

    def new_queue(self, ctx: Any, maxsize: int) -> Any:
        return ctx.JoinableQueue(maxsize)
