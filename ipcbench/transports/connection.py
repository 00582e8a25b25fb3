"""Endpoints over multiprocessing.connection.Connection (Pipe)."""

from __future__ import annotations

from multiprocessing.connection import wait
from typing import Any

from ipcbench.transports.base import Endpoint


class ObjectConn(Endpoint):
    """send/recv over Connections: pickles each message. Either side may be None (one-way)."""

    send_name = "send"
    recv_name = "recv"

    def __init__(self, out_conn: Any, in_conn: Any) -> None:
        self.out_conn = out_conn
        self.in_conn = in_conn
        self._by_conn: dict[Any, ObjectConn] | None = None  # ready_among: conn -> endpoint
        # Bound methods cached on the instance: no extra Python call in the timed loop.
        if out_conn is not None:
            self.send = getattr(out_conn, self.send_name)  # type: ignore[method-assign]
        if in_conn is not None:
            self.recv = getattr(in_conn, self.recv_name)  # type: ignore[method-assign]

    def __getstate__(self) -> dict[str, Any]:
        return {"out_conn": self.out_conn, "in_conn": self.in_conn}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["out_conn"], state["in_conn"])  # type: ignore[misc]

    def ready_among(self, eps: list[Any]) -> list[Any]:
        """Those of ``eps`` with a message waiting (``multiprocessing.connection.wait`` on
        their receiving Connections); the lookup is built on the first call, which gets them
        all."""
        if self._by_conn is None:
            self._by_conn = {ep.in_conn: ep for ep in eps}
        by_conn = self._by_conn
        return [by_conn[conn] for conn in wait([ep.in_conn for ep in eps])]

    def close(self) -> None:
        for conn in (self.out_conn, self.in_conn):
            if conn is not None and not conn.closed:
                conn.close()


class BytesConn(ObjectConn):
    """send_bytes/recv_bytes: no pickling."""

    send_name = "send_bytes"
    recv_name = "recv_bytes"
