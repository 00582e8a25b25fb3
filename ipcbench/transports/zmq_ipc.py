"""Peer: pyzmq over ``ipc://`` (a Unix socket in a fresh temporary folder), bytes frames.

PAIR sockets for ping-pong, PUSH (child) -> PULL (parent) for streams. Frames are the
bytes wire of ``ipcbench.wire`` (sequence number + payload, no pickling), like ``pipe_bytes``.

ZeroMQ contexts must not cross a fork, so an endpoint carries only its address: the child
creates its context and binds in ``in_child`` (before it reports ready, so the socket file
exists); the connecting side -- the driver, or a fan's consumer children -- creates its own
and connects on first use (after every child has bound).
Connecting to a listening socket is immediate; binding late would leave the child's connect
waiting for its 100 ms reconnect timer.

Optional (``pip install 'ipcbench[peers]'``): pyzmq is imported only when needed.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from typing import Any

from ipcbench.transports.base import Channel, ChannelSpec, Endpoint, Transport

INSTALL_HINT = "pip install 'ipcbench[peers]'"
HWM_BUDGET_BYTES = 32 * 1024**2  # bound on frames queued per socket (ZeroMQ counts messages)
MAX_HWM = 1000  # ZeroMQ's default high-water mark
ZERO_COPY_BYTES = 64 * 1024  # receive larger frames without a copy (zmq.COPY_THRESHOLD)
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes


def high_water_mark(frame_bytes: int) -> int:
    """Messages a socket may queue: ZeroMQ's default, fewer for large frames (memory)."""
    return max(1, min(MAX_HWM, HWM_BUDGET_BYTES // max(1, frame_bytes)))


def socket_dir() -> str:
    """A fresh private folder for the socket file (short enough for a Unix socket path)."""
    base = tempfile.gettempdir()
    if len(base) > MAX_SOCKET_PATH - 30:
        base = "/tmp"
    return tempfile.mkdtemp(prefix="ipcbench-zmq-", dir=base)


class ZmqEnd(Endpoint):
    """One ZeroMQ socket; ``kind`` is "PAIR", "PUSH" or "PULL". Picklable: address only."""

    def __init__(self, address: str, kind: str, bind: bool, frame_bytes: int) -> None:
        self.address = address
        self.kind = kind
        self.bind = bind
        self.frame_bytes = frame_bytes
        self._ctx: Any = None
        self._sock: Any = None
        self._recv: Any = None
        self._poller: Any = None  # fan consumers: one poller over all their sockets
        self._by_sock: dict[Any, ZmqEnd] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "kind": self.kind,
            "bind": self.bind,
            "frame_bytes": self.frame_bytes,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def in_child(self) -> None:
        """A binding end opens now, before its child reports ready; a connecting one (a fan
        consumer's) on first use, when every producer has bound: one that connects before
        its peer binds waits for ZeroMQ's 100 ms reconnect timer (a 2 x 2 fan's first
        batch took ~175 ms, ~5 ms once connecting waited for first use)."""
        if self.bind:
            self._open()

    def _open(self) -> None:
        import zmq

        self._ctx = zmq.Context()
        sock = self._ctx.socket(getattr(zmq, self.kind))
        hwm = high_water_mark(self.frame_bytes)
        sock.setsockopt(zmq.LINGER, 0)  # every frame is received before a case ends
        sock.setsockopt(zmq.SNDHWM, hwm)
        sock.setsockopt(zmq.RCVHWM, hwm)
        if self.bind:
            sock.bind(self.address)
        else:
            sock.connect(self.address)
        self._sock = sock
        if self.frame_bytes >= ZERO_COPY_BYTES:
            self._recv = functools.partial(sock.recv, copy=False)
        else:
            self._recv = sock.recv

    # Callers may cache ``ep.send``/``ep.recv`` before the first call (pingpong does), so
    # these stay methods: the first call opens the socket, later ones just use it.
    def send(self, frame: Any) -> None:
        if self._sock is None:
            self._open()
        self._sock.send(frame)

    def recv(self) -> Any:
        """The next frame: bytes, or a zmq.Frame (buffer protocol) for large frames."""
        if self._sock is None:
            self._open()
        return self._recv()

    def ready_among(self, eps: list[ZmqEnd]) -> list[ZmqEnd]:
        """The endpoints of ``eps`` with a frame waiting; blocks until one has (fan consumers
        reading one socket per producer). The poller is built once, on the first call."""
        if self._poller is None:
            import zmq

            self._poller = zmq.Poller()
            for ep in eps:
                if ep._sock is None:
                    ep._open()
                self._poller.register(ep._sock, zmq.POLLIN)
                self._by_sock[ep._sock] = ep
        return [self._by_sock[sock] for sock, _ in self._poller.poll()]

    def close(self) -> None:
        self._poller, self._by_sock = None, {}
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None
        self._recv = None


class ZmqIpcTransport(Transport):
    name = "zmq_ipc"
    description = "peer: pyzmq over ipc:// (PAIR ping-pong, PUSH/PULL stream), bytes frames"
    kernel_floor = "raw_socketpair"
    wire = "bytes"
    patterns = ("pingpong", "stream", "fan")
    fan_mode = "pairs"  # one PUSH/PULL socket pair per producer x consumer, like pipes

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import zmq
        except ImportError:
            return f"pyzmq is not installed ({INSTALL_HINT})"
        if not zmq.has("ipc"):
            return "this libzmq build has no ipc:// transport"
        return None

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        import zmq  # noqa: F401  -- imported here, untimed; contexts are made after the fork

        folder = socket_dir()
        address = f"ipc://{os.path.join(folder, 'sock')}"
        frame_bytes = spec.frame_bytes
        if duplex:
            parent = ZmqEnd(address, "PAIR", bind=False, frame_bytes=frame_bytes)
            child = ZmqEnd(address, "PAIR", bind=True, frame_bytes=frame_bytes)
        else:
            parent = ZmqEnd(address, "PULL", bind=False, frame_bytes=frame_bytes)
            child = ZmqEnd(address, "PUSH", bind=True, frame_bytes=frame_bytes)
        cleanup = functools.partial(shutil.rmtree, folder, ignore_errors=True)
        return Channel(parent=parent, child=child, cleanups=[cleanup])
