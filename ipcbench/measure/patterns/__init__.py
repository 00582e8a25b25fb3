"""Pattern registry: each pattern is a Session class that starts its processes and times itself."""

from __future__ import annotations

from ipcbench.errors import IpcbenchError
from ipcbench.measure.patterns.base import Session
from ipcbench.measure.patterns.fan import Fan, TaskQueue
from ipcbench.measure.patterns.flow import Backpressure, Nowait
from ipcbench.measure.patterns.lifecycle import CLOSE_JOIN_UNBOUNDED_ONLY, Lifecycle
from ipcbench.measure.patterns.pingpong import PingPong
from ipcbench.measure.patterns.proxy_ops import ProxyOps
from ipcbench.measure.patterns.rate import Rate
from ipcbench.measure.patterns.shared_state import SharedState
from ipcbench.measure.patterns.stream import Stream

PATTERNS: dict[str, type[Session]] = {
    "pingpong": PingPong,
    "stream": Stream,
    "proxy_ops": ProxyOps,
    "fan": Fan,
    "taskqueue": TaskQueue,
    "shared_state": SharedState,
    "backpressure": Backpressure,
    "nowait": Nowait,
    "lifecycle": Lifecycle,
    "rate": Rate,
}

DESCRIPTIONS: dict[str, str] = {
    "pingpong": "latency: parent sends, child echoes; every round trip timed",
    "stream": "throughput: child produces, parent receives + verifies; timed at arrival",
    "proxy_ops": "Manager dict/list: child writes, parent reads back; per-op latency",
    "fan": "P producers x C consumers (--producers/--consumers); exactly-once across consumers",
    "taskqueue": "JoinableQueue tasks: P producers, C daemon consumers, q.join(); join latency",
    "shared_state": "K processes (--producers) update a Manager dict/list (or Queue); ops/s",
    "backpressure": "queue maxsize 1/16/256/0 under a fast producer: blocked time, peak depth",
    "nowait": "put_nowait/get_nowait retried on Full/Empty vs blocking put/get; retries",
    "lifecycle": "close()+join_thread() flush time (maxsize 0); per-call qsize()/empty()/full()",
    "rate": "open-loop latency at offered rates (--rates 50%,20000); saturation point",
}

# Longer notes, printed under the description by `ipcbench list`.
NOTES: dict[str, str] = {"lifecycle": CLOSE_JOIN_UNBOUNDED_ONLY}


def names() -> list[str]:
    return list(PATTERNS)


def get(name: str) -> type[Session]:
    try:
        return PATTERNS[name]
    except KeyError:
        raise IpcbenchError(f"unknown pattern {name!r}; valid: {', '.join(PATTERNS)}") from None
