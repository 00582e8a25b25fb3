"""Pattern registry: each pattern is a Session class that starts its processes and times itself."""

from __future__ import annotations

from ipcbench.errors import IpcbenchError
from ipcbench.patterns.base import Session
from ipcbench.patterns.pingpong import PingPong
from ipcbench.patterns.proxy_ops import ProxyOps
from ipcbench.patterns.stream import Stream

PATTERNS: dict[str, type[Session]] = {
    "pingpong": PingPong,
    "stream": Stream,
    "proxy_ops": ProxyOps,
}

DESCRIPTIONS: dict[str, str] = {
    "pingpong": "latency: parent sends, child echoes; every round trip timed",
    "stream": "throughput: child produces, parent receives + verifies; timed at arrival",
    "proxy_ops": "Manager dict/list: child writes, parent reads back; per-op latency",
}

LATENCY_PATTERNS = ("pingpong", "proxy_ops")


def names() -> list[str]:
    return list(PATTERNS)


def get(name: str) -> type[Session]:
    try:
        return PATTERNS[name]
    except KeyError:
        raise IpcbenchError(f"unknown pattern {name!r}; valid: {', '.join(PATTERNS)}") from None
