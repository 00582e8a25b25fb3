"""taskqueue: the JoinableQueue task pipeline -- fan's producers and consumers on one
JoinableQueue, the driver waiting on ``q.join()`` (see fan for the shared machinery)."""

from __future__ import annotations

import threading
import time
from typing import Any

from ipcbench.errors import DeliveryError
from ipcbench.measure.patterns.base import Measurement
from ipcbench.measure.patterns.fan import STALL_S, Fan
from ipcbench.measure.patterns.producer import Produced

JOIN_POLL_S = 0.01  # how often the driver looks at the queue while join() waits
JOIN_START_S = 1.0  # at most this long for the join() waiter thread to start


class TaskQueue(Fan):
    """JoinableQueue: producers put tasks, daemon consumers get + task_done(), the driver
    waits on ``q.join()``. Throughput runs to join()'s return.

    ``join_latency_us`` is the join handshake alone: from the last ``task_done()`` to join()
    returning, with join() already waiting. Before the producers start, the driver holds one
    unfinished task of its own (a "gate": counted like a put, with no item behind it) and a
    thread enters ``q.join()``, which cannot return while the gate is held. Once every
    producer has replied (every task counted), the driver releases the gate with its own
    ``task_done()``. The last task_done() is the later of the gate's and the consumers' last.
    """

    gate_ns = 0  # the clock just before the driver released its gate

    def before_producers(self) -> None:
        q = self.channel.child.out_q  # type: ignore[union-attr]
        self.returned_ns: list[int] = []
        waiting = threading.Event()

        def join() -> None:
            waiting.set()
            q.join()
            self.returned_ns.append(self.clock())

        _hold_gate(q)
        self.joiner = threading.Thread(target=join, name="ipcbench-join", daemon=True)
        self.joiner.start()
        waiting.wait(JOIN_START_S)

    def after_producers(self) -> int | None:
        """The clock when ``q.join()`` returned, or None if it stalled (tasks lost).

        join() has no timeout, so a thread waits on it and stamps its return; meanwhile the
        driver watches ``qsize()`` (tasks put but not yet taken). The producers are done, so
        if join() has not returned and the backlog has not changed for ``STALL_S``, the
        consumers are idle and tasks were lost: join() is released with ``task_done()`` calls
        and the end rounds and the exactly-once check report the loss."""
        q, joiner = self.channel.child.out_q, self.joiner  # type: ignore[union-attr]
        self.gate_ns = self.clock()
        q.task_done()  # the gate: join() may return from now on
        backlog, changed_at = _backlog(q), time.monotonic()
        while True:
            joiner.join(JOIN_POLL_S)
            if self.returned_ns:
                return self.returned_ns[0]
            now = time.monotonic()
            current = _backlog(q)
            if current != backlog or current is None:
                backlog, changed_at = current, now  # progress, or no way to tell (macOS)
            elif now - changed_at >= STALL_S:
                if self.a_child_is_stopped():  # looked at only here: join() is timed
                    changed_at = now
                    continue
                _release_join(q, joiner)
                self.join_stalled = True
                return None

    def measurement(
        self, n: int, start_ns: int, last_ns: int, produced: list[Produced], end_extra: int | None
    ) -> Measurement:
        if end_extra is None:
            raise DeliveryError(
                f"lost: join() did not return {STALL_S} s after the producers finished, though "
                "every task sent arrived and the consumers were idle"
            )
        last_task_done_ns = max(self.last_done_ns or last_ns, self.gate_ns)
        return Measurement(
            n_messages=n,
            elapsed_ns=end_extra - start_ns,
            producer_elapsed_ns=max(p.end_ns for p in produced) - start_ns,
            extra={"join_latency_us": (end_extra - last_task_done_ns) / 1e3},
        )


def _hold_gate(q: Any) -> None:
    """Count one unfinished task with no item behind it, as ``JoinableQueue.put`` counts one
    (under the queue's condition); released with ``q.task_done()``."""
    with q._cond:
        q._unfinished_tasks.release()


def _backlog(q: Any) -> int | None:
    """Tasks put but not yet taken (None where qsize() is not implemented, on macOS)."""
    try:
        backlog: int = q.qsize()
    except NotImplementedError:
        return None
    return backlog


def _release_join(q: Any, joiner: threading.Thread) -> None:
    """Complete the lost tasks so the thread blocked in join() returns and ends."""
    while joiner.is_alive():
        try:
            q.task_done()
        except ValueError:  # no unfinished task left: join() is returning
            joiner.join(JOIN_POLL_S)
            return
        joiner.join(JOIN_POLL_S)
