"""How glibc's malloc thresholds change large-message figures (``ipcbench.harness.allocator``).

Each state runs in a fresh interpreter (its own malloc history only), one after the other,
``--rounds`` times: a pattern session (as a driver runs it, fork, placement ``same``) warmed
up with 8 messages, then a batch; it prints the median of the figure (pingpong: µs per round
trip; stream: µs per message) and the parent's page faults per message. States:

* ``fixed``: what every ipcbench driver does (mmap threshold 32 MiB, trim threshold 256 MiB);
* ``fresh``: glibc's defaults in a fresh process (128 KiB, raised by frees of large chunks);
* ``128k``: both fixed at 128 KiB (every buffer above it mapped and faulted in anew).

    .venv/bin/python bench/allocator_state.py [--rounds 3] [--sizes 128K,1M,8M]
        [--transports pipe,queue] [--patterns pingpong]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

STATES = ("fixed", "fresh", "128k")

CHILD = """
import ctypes, multiprocessing as mp, resource, statistics, sys
state, transport, pattern, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
from ipcbench.harness import allocator
if state == "fixed":
    assert allocator.fix()
elif state == "128k":
    libc = ctypes.CDLL(None)
    libc.mallopt(-3, 128 * 1024); libc.mallopt(-1, 128 * 1024)
from ipcbench.harness.driver import placement_cpus
from ipcbench.measure.patterns import open_session
from ipcbench.params import Case
session = open_session(Case(transport, pattern, size, placement="same"),
                       placement_cpus("same"), mp.get_context("fork"))
n = max(20, min(2000, (64 << 20) // size))
try:
    session.run(8)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    m = session.run(n)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
finally:
    session.close()
if m.samples_ns is not None and pattern == "pingpong":
    us = statistics.median(m.samples_ns) / 1e3
else:
    us = m.elapsed_ns / n / 1e3
print(us, faults / n)
"""


def one(state: str, transport: str, pattern: str, size: int) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, state, transport, pattern, str(size)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    us, faults = done.stdout.split()
    return float(us), float(faults)


def main() -> None:
    from ipcbench.params import parse_size

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="128K,1M,8M")
    parser.add_argument("--transports", default="pipe,queue")
    parser.add_argument("--patterns", default="pingpong")
    args = parser.parse_args()
    print(f"{'case':<28} {'state':<6} {'µs/msg (median, min..max)':>30} {'faults/msg':>10}")
    for pattern in args.patterns.split(","):
        for transport in args.transports.split(","):
            for size in (parse_size(s) for s in args.sizes.split(",")):
                found: dict[str, list[tuple[float, float]]] = {s: [] for s in STATES}
                for _ in range(args.rounds):
                    for state in STATES:
                        found[state].append(one(state, transport, pattern, size))
                for state in STATES:
                    us = [u for u, _ in found[state]]
                    faults = statistics.median(f for _, f in found[state])
                    spread = f"{statistics.median(us):9.1f} ({min(us):.0f}..{max(us):.0f})"
                    case = f"{pattern} {transport} {size} B"
                    print(f"{case:<28} {state:<6} {spread:>30} {faults:10.1f}")


if __name__ == "__main__":
    main()
