"""A minimal hand-written loop for the three put/get calling styles, outside ipcbench's harness.

One producer process puts N five-int tuples into a ``multiprocessing.Queue(maxsize)``; the
parent gets them; the clock runs from just before the producer's first put (its timestamp, sent
back) to the parent's last get. Styles: ``block`` (put/get), ``timeout`` (put(timeout=t) /
get(timeout=t), retried on Full/Empty) and ``nowait`` (put_nowait/get_nowait, retried, yielding
the GIL). Rounds interleave the styles in a shuffled order, so a drift of the machine does not
favour one. Prints the median msgs/s per style with its min-max over rounds, and each style's
time ratio to ``block``::

    python bench/calls_minimal.py --messages 100000 --maxsize 1000 --rounds 7 --timeout 0.01
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import random
import statistics
import sys
import time
from typing import Any

ITEM = (1, 2, 3, 4, 5)
STYLES = ("block", "timeout", "nowait")


def _put_all(q: Any, n: int, style: str, timeout_s: float, clock_q: Any) -> None:
    t_start_ns = time.perf_counter_ns()
    if style == "block":
        for _ in range(n):
            q.put(ITEM)
    elif style == "timeout":
        for _ in range(n):
            while True:
                try:
                    q.put(ITEM, True, timeout_s)
                    break
                except queue.Full:
                    continue
    else:
        for _ in range(n):
            while True:
                try:
                    q.put_nowait(ITEM)
                    break
                except queue.Full:
                    time.sleep(0)
    clock_q.put(t_start_ns)


def _get_all(q: Any, n: int, style: str, timeout_s: float) -> None:
    if style == "block":
        for _ in range(n):
            q.get()
    elif style == "timeout":
        for _ in range(n):
            while True:
                try:
                    q.get(True, timeout_s)
                    break
                except queue.Empty:
                    continue
    else:
        for _ in range(n):
            while True:
                try:
                    q.get_nowait()
                    break
                except queue.Empty:
                    time.sleep(0)


def one_run(ctx: Any, n: int, maxsize: int, style: str, timeout_s: float) -> float:
    """msgs/s of one run in fresh processes."""
    q, clock_q = ctx.Queue(maxsize), ctx.Queue()
    proc = ctx.Process(target=_put_all, args=(q, n, style, timeout_s, clock_q))
    proc.start()
    _get_all(q, n, style, timeout_s)
    t_end_ns = time.perf_counter_ns()
    t_start_ns = clock_q.get(timeout=60)
    proc.join(60)
    return n / ((t_end_ns - t_start_ns) / 1e9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--maxsize", type=int, default=1000, help="0: unbounded")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=0.01, help="seconds (style timeout)")
    parser.add_argument("--start-method", default="fork")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.rounds < 1 or args.maxsize < 0 or not args.timeout > 0:
        print(
            "calls_minimal: --messages, --rounds >= 1, --maxsize >= 0, --timeout > 0",
            file=sys.stderr,
        )
        return 2
    ctx = multiprocessing.get_context(args.start_method)
    rng = random.Random(1)
    rates: dict[str, list[float]] = {s: [] for s in STYLES}
    for _ in range(args.rounds):
        order = list(STYLES)
        rng.shuffle(order)
        for style in order:
            rates[style].append(one_run(ctx, args.messages, args.maxsize, style, args.timeout))
    block = statistics.median(rates["block"])
    print(
        f"mp.Queue(maxsize={args.maxsize}), {args.messages} five-int tuples, "
        f"{args.start_method}, {args.rounds} rounds, timeout {args.timeout:g} s"
    )
    for style in STYLES:
        values = rates[style]
        med = statistics.median(values)
        print(
            f"  {style:8s} {med:10,.0f} msgs/s  (min {min(values):,.0f}, max {max(values):,.0f})"
            f"  time vs block {block / med:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
