"""Endpoints over queue-like objects (multiprocessing queues and Manager queue proxies)."""

from __future__ import annotations

import multiprocessing.queues
import queue
import time
from typing import Any

from ipcbench.transports.base import ChannelSpec, Endpoint


class QueueEnd(Endpoint):
    """put/get on two queues (out, in); either may be None for one-way use.

    ``call`` is the calling style (``CALL_STYLES``): "block" (or "") binds ``send``/``recv``
    to the queue's own ``put``/``get``, so the timed loop calls them directly; "timeout" and
    "nowait" bind the retry loops a user writes around ``put(msg, True, t)`` / ``get(True, t)``
    and ``put_nowait`` / ``get_nowait``, counting each expiry or Full/Empty in ``retries``.
    Non-blocking retries yield the GIL (``time.sleep(0)``): a spinning loop starves a Queue's
    feeder thread, in this process or, on one CPU, the peer's.
    With ``task_done`` the receiver calls ``task_done()`` after every ``get()`` (JoinableQueue).
    Queues are shared objects, so ``close`` is a no-op: the driver owns them.
    """

    def __init__(
        self,
        out_q: Any,
        in_q: Any,
        task_done: bool = False,
        call: str = "",
        timeout_s: float | None = None,
    ) -> None:
        self.out_q = out_q
        self.in_q = in_q
        self.task_done = task_done
        self.call = call
        self.timeout_s = timeout_s
        self.retries = 0
        self.sends_in_thread = isinstance(out_q, multiprocessing.queues.Queue)  # + Joinable
        if call == "timeout" and not (timeout_s and timeout_s > 0):
            raise ValueError(f"call 'timeout' needs a positive timeout, got {timeout_s!r}")
        if out_q is not None:
            self.send = self._sender()  # type: ignore[method-assign]
        if in_q is not None:
            self.recv = self._receiver()  # type: ignore[method-assign]

    def _sender(self) -> Any:
        if self.call == "timeout":
            return self._put_timeout
        if self.call == "nowait":
            return self._put_nowait
        return self.out_q.put

    def _receiver(self) -> Any:
        if self.call == "timeout":
            return self._get_timeout
        if self.call == "nowait":
            return self._get_nowait
        return self._get_done if self.task_done else self.in_q.get

    def _get_done(self) -> Any:
        item = self.in_q.get()
        if item is not None:
            self.done_ns = time.perf_counter_ns()
        self.in_q.task_done()
        return item

    def _put_timeout(self, msg: Any) -> None:
        put, timeout_s = self.out_q.put, self.timeout_s
        while True:
            try:
                put(msg, True, timeout_s)
                return
            except queue.Full:
                self.retries += 1

    def _put_nowait(self, msg: Any) -> None:
        put_nowait, sleep = self.out_q.put_nowait, time.sleep
        while True:
            try:
                put_nowait(msg)
                return
            except queue.Full:
                self.retries += 1
                sleep(0)  # release the GIL: only the feeder thread can make room

    def _get_timeout(self) -> Any:
        get, timeout_s = self.in_q.get, self.timeout_s
        while True:
            try:
                item = get(True, timeout_s)
                break
            except queue.Empty:
                self.retries += 1
        if self.task_done:
            self._done(item)
        return item

    def _get_nowait(self) -> Any:
        get_nowait, sleep = self.in_q.get_nowait, time.sleep
        while True:
            try:
                item = get_nowait()
                break
            except queue.Empty:
                self.retries += 1
                sleep(0)
        if self.task_done:
            self._done(item)
        return item

    def _done(self, item: Any) -> None:
        if item is not None:
            self.done_ns = time.perf_counter_ns()
        self.in_q.task_done()

    def update(self, op: str, index: int, seq: int, msg: Any) -> None:
        """shared_state through a queue: every update is a put."""
        self.out_q.put(msg)

    def abandon(self) -> None:
        for q in (self.out_q, self.in_q):
            if isinstance(q, multiprocessing.queues.Queue):  # + Joinable: a feeder thread
                q.cancel_join_thread()

    def __getstate__(self) -> dict[str, Any]:
        return {
            "out_q": self.out_q,
            "in_q": self.in_q,
            "task_done": self.task_done,
            "call": self.call,
            "timeout_s": self.timeout_s,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]


def queue_channel(
    make: Any, duplex: bool, task_done: bool = False, spec: ChannelSpec | None = None
) -> tuple[QueueEnd, QueueEnd]:
    """Parent and child endpoints over one queue (child -> parent) or two (both ways), calling
    put/get in the spec's style."""
    call, timeout_s = (spec.call, spec.call_timeout_s) if spec else ("", None)

    def end(out_q: Any, in_q: Any) -> QueueEnd:
        return QueueEnd(out_q, in_q, task_done, call, timeout_s)

    up = make()
    if not duplex:
        return end(None, up), end(up, None)
    down = make()
    return end(down, up), end(up, down)
