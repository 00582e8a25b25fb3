"""Peer: faster-fifo's Queue (a circular buffer in shared memory), put/get (pickled).

Optional (``pip install 'ipcbench[peers]'``): the package is imported only when a channel is
opened, so ``ipcbench list`` shows the transport as unavailable and a sweep records
``status=skipped`` when it is missing.

Two things differ from ``multiprocessing.Queue`` and are handled here:

* the buffer is fixed (``max_size_bytes``, 1 MB by default) and a message larger than it can
  never be put, so the buffer is sized from the case's own pickled message;
* ``put``/``get`` time out after 10 s by default, and a thread blocked in the C call does not
  run Python signal handlers (the driver learns of a dead child through SIGUSR1). Endpoints
  therefore wait in slices of ``WAIT_SLICE_S`` and retry on Full/Empty.
"""

from __future__ import annotations

import pickle
import queue
from typing import Any

from ipcbench.params import Case
from ipcbench.transports.base import Channel, Endpoint, Transport
from ipcbench.verify import make_payload

WAIT_SLICE_S = 0.5  # longest wait inside one put/get call before Python code runs again
MESSAGE_SLACK_BYTES = 4096  # faster-fifo's per-message header, pickle protocol differences
MIN_BUFFER_BYTES = 1000 * 1000  # faster-fifo's default circular buffer size
INSTALL_HINT = "pip install 'ipcbench[peers]'"


def message_bytes(case: Case) -> int:
    """Pickled size of the largest message of the case: ``(seq, payload)``, seq up to 2**62."""
    payload, _ = make_payload(case.payload_kind, case.payload_bytes)
    return len(pickle.dumps((2**62, payload), protocol=pickle.HIGHEST_PROTOCOL))


def buffer_bytes(case: Case) -> int:
    """``max_size_bytes`` for the case: room for two messages, never below the default."""
    return max(MIN_BUFFER_BYTES, 2 * (message_bytes(case) + MESSAGE_SLACK_BYTES))


class FifoEnd(Endpoint):
    """put/get on two faster-fifo queues (out, in); either may be None (one-way).

    The queues live in shared memory owned by the driver, so ``close`` is a no-op.
    """

    def __init__(self, out_q: Any, in_q: Any) -> None:
        self.out_q = out_q
        self.in_q = in_q

    def __getstate__(self) -> dict[str, Any]:
        return {"out_q": self.out_q, "in_q": self.in_q}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["out_q"], state["in_q"])  # type: ignore[misc]

    def send(self, msg: Any) -> None:
        put = self.out_q.put
        while True:
            try:
                put(msg, True, WAIT_SLICE_S)
                return
            except queue.Full:
                continue

    def recv(self) -> Any:
        get = self.in_q.get
        while True:
            try:
                return get(True, WAIT_SLICE_S)
            except queue.Empty:
                continue


class FasterFifoTransport(Transport):
    name = "faster_fifo"
    description = "peer: faster-fifo Queue (shared-memory ring buffer), put/get (pickled)"
    patterns = ("pingpong", "stream", "fan")
    fan_mode = "shared"  # one multi-producer multi-consumer queue, like multiprocessing.Queue

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import faster_fifo  # noqa: F401
        except ImportError:
            return f"faster-fifo is not installed ({INSTALL_HINT})"
        return None

    def open(self, ctx: Any, case: Case, duplex: bool) -> Channel:
        import faster_fifo

        size = buffer_bytes(case)
        up = faster_fifo.Queue(max_size_bytes=size)
        if not duplex:
            return Channel(parent=FifoEnd(None, up), child=FifoEnd(up, None))
        down = faster_fifo.Queue(max_size_bytes=size)
        return Channel(parent=FifoEnd(down, up), child=FifoEnd(up, down))
