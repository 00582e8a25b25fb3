"""The C allocator state every case runs in: glibc's two thresholds fixed in each driver.

glibc serves an allocation above ``M_MMAP_THRESHOLD`` (128 KiB in a fresh process) with its
own mmap, and when such a chunk is freed it raises the threshold to that chunk's size and
``M_TRIM_THRESHOLD`` (how much free memory the heap's top keeps) to twice that. Below the
threshold, a freed buffer's pages are reused; above it, or past the trim threshold, every
message's buffers are mapped and faulted in anew. A forked driver inherits the runner's
thresholds, so a large message's figure depended on the largest buffer the runner had freed
before (samples of earlier cases, files read) -- and on how the payload template was built.
On the 2-vCPU VM (``bench/allocator_state.py``, medians of 3 fresh interpreters), Pipe's 1 MiB
round trip took 1.1 ms with the thresholds fixed as below, 3.0 ms in a fresh interpreter
(13 page faults per message) and 7.5 ms with both at 128 KiB; Queue's 8 MiB one 19, 39 and
73 ms. A fresh ``ipcbench run`` measured Pipe 1 MiB at 3.3-4.3 ms, and 1.4 ms in
``bench/harness_overhead.py``, whose process had run other loops first.

Each driver therefore fixes both (``mallopt``, inherited by the workers it forks; exec'd
workers -- spawn, forkserver -- get the same through ``GLIBC_TUNABLES``): allocations up to
32 MiB come from the heap and up to 256 MiB of free memory stays there. That is the state of a
process that has already freed a buffer larger than its messages: the figures are the
channel's, not glibc's page-fault cycle, and the same whatever ran before. A program can get
the same with ``MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456``.
"""

from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD_BYTES = 32 * 1024**2  # glibc's largest dynamic threshold on 64-bit
TRIM_THRESHOLD_BYTES = 256 * 1024**2
_M_TRIM_THRESHOLD = -1  # malloc.h
_M_MMAP_THRESHOLD = -3
TUNABLES = (
    f"glibc.malloc.mmap_threshold={MMAP_THRESHOLD_BYTES}"
    f":glibc.malloc.trim_threshold={TRIM_THRESHOLD_BYTES}"
)
FIXED = (
    f"glibc malloc: mmap_threshold {MMAP_THRESHOLD_BYTES // 1024**2} MiB, trim_threshold "
    f"{TRIM_THRESHOLD_BYTES // 1024**2} MiB (fixed in each driver)"
)
DEFAULT = "default (not glibc: thresholds not fixed)"


def _mallopt() -> object | None:
    """glibc's ``mallopt``, or None where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 -- present in glibc only (not musl)
        return libc.mallopt
    except (OSError, AttributeError):
        return None


def description() -> str:
    """What ``fix`` does here, for the run's metadata."""
    return FIXED if _mallopt() is not None else DEFAULT


def fix() -> bool:
    """Fix both thresholds in this process, and in the processes it execs from now on; False
    where the C library is not glibc (nothing changed)."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    done = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1  # type: ignore[operator]
    done = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and done  # type: ignore[operator]
    if done:
        given = os.environ.get("GLIBC_TUNABLES", "")
        if TUNABLES not in given:
            os.environ["GLIBC_TUNABLES"] = f"{given}:{TUNABLES}" if given else TUNABLES
    return done
