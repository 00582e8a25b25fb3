"""Endpoint over a Manager dict/list proxy: writes by key (dict) or append (list), reads back."""

from __future__ import annotations

from typing import Any

from ipcbench.transports.base import Endpoint

READ_BACK_BYTES = 4 * 1024**2  # a list read-back call returns about this many payload bytes
PER_KEY_BYTES = 256 * 1024  # a dict of messages this large is read back key by key


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

    def snapshot(self, payload_bytes: int = 0) -> list[Any]:
        """The whole content, in sequence order. A list comes back in slices of about
        ``READ_BACK_BYTES`` of payload; a dict, which has no call for some of its values, in
        one ``copy()``, or key by key when its messages are ``PER_KEY_BYTES`` or larger.
        One reply holding a whole batch of large messages is a buffer past glibc's mmap
        threshold, faulted in anew in every fresh driver, that ``Connection`` grows piece by
        piece: on the 2-vCPU VM 7 x 8 MiB took 89 ms in one ``copy()`` and 43 ms key by key,
        150 x 512 KiB 132 and 76 ms; 1500 x 32 KiB 53 ms in one call and 250 ms key by key
        (a round trip each)."""
        if self.kind == "dict":
            if payload_bytes < PER_KEY_BYTES:
                content = self.proxy.copy()
                return [content[k] for k in sorted(content)]
            return [self.proxy[k] for k in sorted(self.proxy.keys())]
        per_call = max(1, READ_BACK_BYTES // max(1, payload_bytes))
        count = len(self.proxy)
        return [msg for at in range(0, count, per_call) for msg in self.proxy[at : at + per_call]]
