"""In-process loopback endpoints for the floors: no IPC, just the per-message copy or pickle.

A pair of endpoints points crosswise: ``a.send`` stores into ``b``, ``b.recv`` returns it.
Patterns run both roles inline in the driver process.
"""

from __future__ import annotations

import pickle
from typing import Any

from ipcbench.transports.base import Endpoint


class CopyEnd(Endpoint):
    """send copies the frame into the peer's preallocated (prefaulted) buffer."""

    def __init__(self, frame_bytes: int) -> None:
        self.buf = bytearray(frame_bytes)  # zero-filled, so its pages are already faulted in
        self.view = memoryview(self.buf)
        self.peer: CopyEnd = self

    def send(self, frame: Any) -> None:
        self.peer.view[:] = frame

    def recv(self) -> memoryview:
        return self.view


class PickleEnd(Endpoint):
    """send pickles the message for the peer; recv unpickles it."""

    def __init__(self) -> None:
        self.data = b""
        self.peer: PickleEnd = self

    def send(self, msg: Any) -> None:
        self.peer.data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)

    def recv(self) -> Any:
        return pickle.loads(self.data)


def crosswise(a: Any, b: Any) -> tuple[Any, Any]:
    a.peer, b.peer = b, a
    return a, b
