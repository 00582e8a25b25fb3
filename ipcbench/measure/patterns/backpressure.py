"""backpressure: a stream on a bounded queue under a fast producer.

The producer times the blocking puts (``blocked_s``: the time it spent inside put()) and
samples the queue depth with qsize() every few puts (``peak_depth``); the grid sweeps the
queue's maxsize (its catalogue entry).
"""

from __future__ import annotations

from typing import Any

from ipcbench.measure.patterns.producer import Produced, SendOptions
from ipcbench.measure.patterns.stream import Stream


class Backpressure(Stream):
    producer_opts = SendOptions(block=True)

    def stats_columns(self, produced: Produced) -> dict[str, Any]:
        depth = produced.peak_depth
        return {
            "blocked_s": produced.blocked_ns / 1e9,
            "peak_depth": depth if isinstance(depth, int) else None,
        }
