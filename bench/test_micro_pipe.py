"""Pipe per-call cost in one process: send/recv (pickled) vs send_bytes/recv_bytes (raw).

A duplex Pipe is a socketpair whose kernel buffer holds a 64 KiB message, so sending and then
receiving in the same thread never blocks. One timed call = one send + one receive.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import Any

import pytest

from ipcbench.wire import make_payload, new_frame

SIZES = [64, 64 * 1024]


@pytest.fixture
def pipe() -> Iterator[tuple[Any, Any]]:
    a, b = multiprocessing.Pipe(duplex=True)
    yield a, b
    a.close()
    b.close()


@pytest.mark.parametrize("size", SIZES)
def test_send_recv(benchmark: Any, pipe: tuple[Any, Any], size: int) -> None:
    a, b = pipe
    msg = (0, make_payload("bytes", size)[0])
    send, recv = a.send, b.recv
    benchmark.group = f"pipe send+recv {size} B"

    def send_recv() -> Any:
        send(msg)
        return recv()

    assert benchmark(send_recv) == msg


@pytest.mark.parametrize("size", SIZES)
def test_send_bytes_recv_bytes(benchmark: Any, pipe: tuple[Any, Any], size: int) -> None:
    a, b = pipe
    frame = new_frame(make_payload("bytes", size)[0])
    send, recv = a.send_bytes, b.recv_bytes
    benchmark.group = f"pipe send+recv {size} B"

    def send_recv() -> Any:
        send(frame)
        return recv()

    assert benchmark(send_recv) == frame
