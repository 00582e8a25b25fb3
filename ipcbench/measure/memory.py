"""Peak memory of the processes of a case, read from Linux ``/proc/<pid>/status``.

``VmHWM`` is a process's peak resident set size (RSS): the most pages it ever had resident at
once. RSS counts every page mapped and resident in the process, its own and shared ones alike:
pages a forked child inherited from its parent, shared-memory segments and shared libraries
are counted in every process that touches them. So a peak here is an upper bound on what the
process itself cost, and peaks of several processes must not be added up. The unique set
size (USS, pages only this process maps) would be exact but the kernel keeps no peak of it.

On a platform without ``/proc`` (macOS, Windows) every reading is None: the result columns
are then empty, not zero.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

MIB = 1024 * 1024


def peak_rss_mib(pid: int | None = None) -> float | None:
    """The peak RSS (``VmHWM``) of process ``pid`` (this process when None) in MiB, or None
    where it cannot be read (no ``/proc``, the process has ended, not permitted)."""
    path = f"/proc/{os.getpid() if pid is None else pid}/status"
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    kib = int(line.split()[1])  # "VmHWM:    12345 kB"
                    return kib * 1024 / MIB
    except (OSError, ValueError, IndexError):
        return None
    return None  # a kernel thread or a zombie has no VmHWM line


def largest_peak_rss_mib(pids: Iterable[int]) -> float | None:
    """The largest peak RSS among ``pids`` in MiB; None when none of them can be read."""
    peaks = [p for p in (peak_rss_mib(pid) for pid in pids) if p is not None]
    return max(peaks) if peaks else None
