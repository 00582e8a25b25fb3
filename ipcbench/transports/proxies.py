"""Endpoint over a Manager dict/list proxy: writes by key (dict) or append (list), reads back."""

from __future__ import annotations

from typing import Any

from ipcbench.transports.base import Endpoint


class ProxyEnd(Endpoint):
    """``write(seq, msg)`` stores a message under ``seq``; ``read(seq)`` fetches it.

    A dict uses ``d[seq] = msg`` / ``d[seq]``; a list uses ``l.append(msg)`` / ``l[seq]``
    (the writer appends in sequence order, so index == seq).
    """

    def __init__(self, proxy: Any, kind: str) -> None:
        self.proxy = proxy
        self.kind = kind

    def write(self, seq: int, msg: Any) -> None:
        if self.kind == "dict":
            self.proxy[seq] = msg
        else:
            self.proxy.append(msg)

    def write_many(self, items: list[tuple[int, Any]]) -> None:
        """``write`` of each ``(seq, msg)``, in order, in one proxy call."""
        if self.kind == "dict":
            self.proxy.update(items)
        else:
            self.proxy.extend([msg for _, msg in items])

    def update(self, op: str, index: int, seq: int, msg: Any) -> None:
        """shared_state: distinct keys, one contended key, or an append."""
        if op == "dict_distinct":
            self.proxy[seq] = msg
        elif op == "dict_contended":
            self.proxy["hot"] = msg
        else:
            self.proxy.append(msg)

    def read(self, seq: int, index: int) -> Any:
        """The message with sequence number ``seq``, written ``index``-th in this batch."""
        return self.proxy[seq if self.kind == "dict" else index]

    def clear(self) -> None:
        if self.kind == "dict":
            self.proxy.clear()
        else:
            del self.proxy[:]

    def snapshot(self) -> list[Any]:
        """The whole content, in sequence order (one round trip)."""
        if self.kind == "dict":
            content = self.proxy.copy()
            return [content[k] for k in sorted(content)]
        return list(self.proxy[:])
