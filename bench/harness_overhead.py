"""Harness overhead: ipcbench's pipe/pingpong 64 B median vs a minimal hand-written loop.

Both run in this one process invocation, alternating (ABAB...) so drift hits both equally,
with the same CPU placement. Target: ipcbench within 5% of the hand-written loop.

    .venv/bin/python bench/harness_overhead.py [--rounds 5] [--placement same|split|unpinned]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from typing import Any

from ipcbench.runner import Runner
from ipcbench.sweep import build_settings

PAYLOAD = b"x" * 64


def _cpus(placement: str) -> tuple[list[int] | None, list[int] | None]:
    allowed = sorted(os.sched_getaffinity(0))
    if placement == "same":
        return [allowed[0]], [allowed[0]]
    if placement == "split":
        return [allowed[0]], [allowed[1]]
    return None, None


def _echo(conn: Any, cpus: list[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    while True:
        msg = conn.recv()
        if msg is None:
            return
        conn.send(msg)


def hand_written(n: int, placement: str) -> float:
    """Median round trip in µs of the simplest honest loop: send, recv, timed each."""
    parent_cpus, child_cpus = _cpus(placement)
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe()
    child = ctx.Process(target=_echo, args=(b, child_cpus))
    child.start()
    old = os.sched_getaffinity(0)
    if parent_cpus:
        os.sched_setaffinity(0, parent_cpus)
    try:
        for _ in range(200):  # warm-up
            a.send(PAYLOAD)
            a.recv()
        samples = []
        clock = time.perf_counter_ns
        for _ in range(n):
            t0 = clock()
            a.send(PAYLOAD)
            a.recv()
            samples.append(clock() - t0)
    finally:
        os.sched_setaffinity(0, old)
        a.send(None)
        child.join()
    return statistics.median(samples) / 1e3


def ipcbench_median(placement: str, target_s: float, out_dir: str) -> float:
    settings = build_settings(
        {
            "transports": "pipe",
            "patterns": "pingpong",
            "sizes": "64",
            "placements": placement,
            "start_methods": "fork",
            "repeats": 5,
            "target_time": target_s,
            "quiet": True,
            "out": out_dir,
        }
    )
    rows = Runner(settings).run().rows
    return statistics.median(float(r["lat_p50_us"]) for r in rows if r["status"] == "ok")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--placement", default="same", choices=["same", "split", "unpinned"])
    parser.add_argument("--target-time", type=float, default=0.2)
    args = parser.parse_args()
    hand, harness = [], []
    with tempfile.TemporaryDirectory() as out_dir:
        for _ in range(args.rounds):
            harness.append(ipcbench_median(args.placement, args.target_time, out_dir))
            n = int(5 * args.target_time * 1e6 / max(harness[-1], 1))
            hand.append(hand_written(n, args.placement))
    h, b = statistics.median(hand), statistics.median(harness)
    print(f"placement={args.placement} rounds={args.rounds}")
    print(
        f"hand-written pipe round trip, 64 B: median {h:.2f} µs  (rounds: "
        + ", ".join(f"{x:.2f}" for x in hand)
        + ")"
    )
    print(
        f"ipcbench pipe/pingpong 64 B:        median {b:.2f} µs  (rounds: "
        + ", ".join(f"{x:.2f}" for x in harness)
        + ")"
    )
    print(f"overhead: {100 * (b / h - 1):+.1f}%  (target: within 5%)")


if __name__ == "__main__":
    main()
