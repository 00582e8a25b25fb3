"""What a transport is: a name, the patterns it supports, and how to open a channel.

A channel has two endpoints: ``parent`` (used by the case driver) and ``child`` (passed to one
worker process). ``send``/``recv`` carry one message each way; object-wire transports carry
``(seq, payload)`` tuples, bytes-wire transports carry frames (see ``ipcbench.wire``).
A transport opens a channel from a ``ChannelSpec`` (what it needs to know of a case), so it
knows nothing of cases, patterns or sweeps.
Endpoints must survive pickling into a spawned child (multiprocessing reduces Connections,
Queues and Manager proxies itself while a Process starts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ipcbench.wire import frame_bytes

# How put/get are called on a queue-type channel (a transport lists those it takes in
# ``Transport.calls``): a plain blocking call; a blocking call with a timeout
# (``ChannelSpec.call_timeout_s``), retried when it expires; put_nowait/get_nowait, retried on
# Full/Empty. Expiries and Full/Empty retries are counted in ``Endpoint.retries``.
CALL_STYLES: tuple[str, ...] = ("block", "timeout", "nowait")


@dataclass(frozen=True)
class ChannelSpec:
    """What a transport reads of a case to open a channel; built by the pattern session."""

    payload_bytes: int  # the payload of every message (bytes wire: a frame is longer by a seq)
    maxsize: int = 0  # a bounded queue's maxsize (transports with ``uses_maxsize``); 0: unbounded
    # The session's own payload (built once per process): faster-fifo sizes its buffer by the
    # pickled message. Not compared, not shown.
    payload: Any = field(default=None, compare=False, repr=False)
    call: str = ""  # the put/get calling style (CALL_STYLES; "" = the transport's plain calls)
    call_timeout_s: float | None = None  # the timeout of call "timeout"
    producers: int = 1  # processes writing one shared state (shared_state: sharedctypes slots)
    # the case's payload kind: a bytes-wire lane that takes "ndarray" views each frame it
    # receives as the sender's array (see transports.shm.view_arrays)
    payload_kind: str = "bytes"

    @property
    def frame_bytes(self) -> int:
        """Bytes of one bytes-wire frame."""
        return frame_bytes(self.payload_bytes)


class Endpoint:
    """One side of a channel."""

    # A thread of this process does the sending (multiprocessing.Queue's feeder): a sender
    # that busy-waits must release the GIL now and then, or nothing is sent meanwhile.
    sends_in_thread = False
    # recv always returns one whole frame of the channel's frame size (raw fds read into a
    # buffer of that size): a receive loop need not check the length of each frame.
    whole_frames = False
    # The clock just before this receiver's last task_done() of a real item (not a sentinel);
    # 0 where the channel has no task_done() (all but JoinableQueue).
    done_ns = 0
    # Expired timeouts and Full/Empty retries of this side's styled put/get (``call``
    # "timeout" or "nowait"), counted since the endpoint was made; read outside the clock.
    retries = 0

    def send(self, msg: Any) -> None:
        raise NotImplementedError

    def recv(self) -> Any:
        raise NotImplementedError

    def in_child(self) -> None:
        """Called once in the worker process before use (e.g. to take raw fds)."""

    def close(self) -> None:
        """Release OS resources held by this side (idempotent)."""

    def ready_among(self, eps: list[Any]) -> list[Any]:
        """Of ``eps`` (this one among them, all of one channel kind), those with a message
        waiting; blocks until one has. For a consumer reading several channels (fan over
        pipe pairs): transports with ``fan_mode = "pairs"`` implement it."""
        raise NotImplementedError

    def abandon(self) -> None:
        """Prepare to close after a failure: don't wait to flush data nobody will read."""


@dataclass
class Channel:
    parent: Endpoint
    child: Endpoint
    # Called by the driver after the case, in order (e.g. Manager.shutdown).
    cleanups: list[Any] = field(default_factory=list)
    # pids of helper processes the channel started (a Manager server), for pinning and checks.
    helper_pids: list[int] = field(default_factory=list)

    def close(self) -> None:
        for ep in (self.parent, self.child):
            ep.close()
        for cleanup in self.cleanups:
            cleanup()


class Transport:
    """Base class: subclasses set the class attributes and implement ``open``."""

    name: ClassVar[str]
    description: ClassVar[str]
    wire: ClassVar[str] = "object"  # "object" (pickled tuples) or "bytes" (frames)
    patterns: ClassVar[tuple[str, ...]] = ("pingpong", "stream")
    uses_maxsize: ClassVar[bool] = False
    in_process: ClassVar[bool] = False  # floors with no IPC (memcpy, pickle)
    # Worker roles run in threads of the driver process, not in child processes (baselines:
    # thread_queue); no start method, like in_process floors.
    in_threads: ClassVar[bool] = False
    # Its endpoints start threads in the driver process (multiprocessing.Queue's feeder, at
    # the first put): a signal then may land on one of them and not interrupt the main
    # thread's blocking call, so a worker's death is watched by a thread (patterns.base).
    starts_threads: ClassVar[bool] = False
    floor: ClassVar[bool] = False
    # The raw floor the payload's bytes travel through ("raw_pipe", "raw_socketpair"), or
    # None where no payload byte crosses the kernel (shared memory, threads, the floors). No
    # default: every transport says which (the cost breakdown figure draws it beside it).
    kernel_floor: ClassVar[str | None]
    # pattern -> the operations it measures on this transport (each a separate case).
    ops: ClassVar[dict[str, tuple[str, ...]]] = {}
    # fan: "shared" (all producers and consumers on one queue), "pairs" (one channel per
    # producer-consumer pair), or "" (fan not supported).
    fan_mode: ClassVar[str] = ""
    # The put/get calling styles (CALL_STYLES) its endpoints take from ``ChannelSpec.call``;
    # () for channels without a timeout or non-blocking call (Pipe, SimpleQueue, raw fds).
    calls: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def payload_kinds(cls) -> tuple[str, ...]:
        """A bytes wire carries frames of bytes only; an object wire pickles (or passes) any
        payload: bytes, objects, NumPy arrays (``ipcbench.wire``)."""
        return ("bytes",) if cls.wire == "bytes" else ("bytes", "object", "ndarray")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when usable here, else why not (a missing optional package, say)."""
        return None

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        """Create the channel in the driver, outside any timed region.

        ``duplex`` asks for both directions (ping-pong); otherwise child -> parent suffices.
        """
        raise NotImplementedError
