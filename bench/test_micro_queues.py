"""Per-call cost of queue methods in one process: put, get, put_nowait, get_nowait, qsize,
empty, full -- for multiprocessing.Queue, SimpleQueue and (if installed) faster-fifo.

Each put/get variant is timed one call per round (``benchmark.pedantic``), with an untimed
setup that brings the queue to the same state first: before a ``get`` one item has been put
and is readable; before a ``put`` the previous item has been taken out again. So the figure is
the caller's cost of that one call -- for ``Queue.put`` that excludes the feeder thread, which
pickles and writes after ``put`` has returned.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ipcbench import transports
from ipcbench.wire import make_payload

ITEM = (0, make_payload("bytes", 64)[0])
ROUNDS = 2000
WARMUP_ROUNDS = 100
# queue kind -> the calls it has
CALLS: dict[str, tuple[str, ...]] = {
    "queue": ("put", "get", "put_nowait", "get_nowait", "qsize", "empty", "full"),
    "simplequeue": ("put", "get", "empty"),
    "faster_fifo": ("put", "get", "put_nowait", "get_nowait", "qsize", "empty", "full"),
}
CASES = [(kind, call) for kind, calls in CALLS.items() for call in calls]


def _make(kind: str) -> Any:
    if kind == "faster_fifo":
        reason = transports.get("faster_fifo").unavailable_reason()
        if reason:
            pytest.skip(reason)
        import faster_fifo

        return faster_fifo.Queue()
    ctx = multiprocessing.get_context("fork")
    return ctx.SimpleQueue() if kind == "simplequeue" else ctx.Queue()


@pytest.fixture
def queue_of(request: Any) -> Iterator[Callable[[str], Any]]:
    made: list[Any] = []

    def make(kind: str) -> Any:
        q = _make(kind)
        made.append(q)
        return q

    yield make
    for q in made:
        if hasattr(q, "cancel_join_thread"):  # multiprocessing.Queue: don't flush at exit
            q.cancel_join_thread()
        q.close()


def _wait_readable(q: Any) -> None:
    while q.empty():  # Queue: the feeder thread has not written the item yet
        time.sleep(0)


@pytest.mark.parametrize(("kind", "call"), CASES)
def test_queue_call(benchmark: Any, queue_of: Callable[[str], Any], kind: str, call: str) -> None:
    q = queue_of(kind)
    benchmark.group = f"queue {call} 64 B"
    if call in ("put", "put_nowait"):
        state = {"outstanding": 0}

        def take_previous() -> None:
            while state["outstanding"]:
                q.get()
                state["outstanding"] -= 1
            state["outstanding"] = 1  # the timed put adds one

        benchmark.pedantic(
            getattr(q, call),
            args=(ITEM,),
            setup=take_previous,
            rounds=ROUNDS,
            warmup_rounds=WARMUP_ROUNDS,
        )
        _wait_readable(q)
    elif call in ("get", "get_nowait"):

        def put_one() -> None:
            q.put(ITEM)
            _wait_readable(q)

        got = benchmark.pedantic(
            getattr(q, call), setup=put_one, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS
        )
        assert got == ITEM
    else:  # qsize / empty / full on a queue holding one item
        q.put(ITEM)
        _wait_readable(q)
        benchmark(getattr(q, call))
