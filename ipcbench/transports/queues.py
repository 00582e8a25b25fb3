"""Endpoints over queue-like objects (multiprocessing queues and Manager queue proxies)."""

from __future__ import annotations

import multiprocessing.queues
import queue
import time
from typing import Any

from ipcbench.transports.base import Endpoint


class QueueEnd(Endpoint):
    """put/get on two queues (out, in); either may be None for one-way use.

    With ``task_done`` the receiver calls ``task_done()`` after every ``get()`` (JoinableQueue).
    Queues are shared objects, so ``close`` is a no-op: the driver owns them.
    """

    def __init__(self, out_q: Any, in_q: Any, task_done: bool = False) -> None:
        self.out_q = out_q
        self.in_q = in_q
        self.task_done = task_done
        self.sends_in_thread = isinstance(out_q, multiprocessing.queues.Queue)  # + Joinable
        if out_q is not None:
            self.send = out_q.put  # type: ignore[method-assign]
        if in_q is not None:
            self.recv = self._get_done if task_done else in_q.get  # type: ignore[method-assign]

    def _get_done(self) -> Any:
        item = self.in_q.get()
        if item is not None:
            self.done_ns = time.perf_counter_ns()
        self.in_q.task_done()
        return item

    def send_nowait(self, msg: Any) -> int:
        retries = 0
        put_nowait = self.out_q.put_nowait
        while True:
            try:
                put_nowait(msg)
                return retries
            except queue.Full:
                retries += 1
                if self.sends_in_thread:
                    time.sleep(0)  # release the GIL: only the feeder thread can make room

    def recv_nowait(self) -> tuple[Any, int]:
        retries = 0
        get_nowait = self.in_q.get_nowait
        while True:
            try:
                item = get_nowait()
            except queue.Empty:
                retries += 1
                continue
            if self.task_done:
                self.in_q.task_done()
            return item, retries

    def update(self, op: str, index: int, seq: int, msg: Any) -> None:
        """shared_state through a queue: every update is a put."""
        self.out_q.put(msg)

    def abandon(self) -> None:
        for q in (self.out_q, self.in_q):
            if isinstance(q, multiprocessing.queues.Queue):  # + Joinable: a feeder thread
                q.cancel_join_thread()

    def __getstate__(self) -> dict[str, Any]:
        return {"out_q": self.out_q, "in_q": self.in_q, "task_done": self.task_done}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]


def queue_channel(make: Any, duplex: bool, task_done: bool = False) -> tuple[QueueEnd, QueueEnd]:
    """Parent and child endpoints over one queue (child -> parent) or two (both ways)."""
    up = make()
    if not duplex:
        return QueueEnd(None, up, task_done), QueueEnd(up, None, task_done)
    down = make()
    return QueueEnd(down, up, task_done), QueueEnd(up, down, task_done)
