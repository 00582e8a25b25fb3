"""Round trip per transport through ipcbench's own echo child (pingpong Session + worker).

The channel and the child are started by the ``roundtrip`` fixture; one timed call is one
send + receive of a sequence-numbered 64 B message, checked on arrival (O(1), well under 1 µs).
Compare with ``ipcbench run -p pingpong -s 64``: the same loop, timed per message there.
"""

from __future__ import annotations

from typing import Any

import pytest

from ipcbench import transports

PINGPONG = [cls.name for cls in transports.all_transports() if "pingpong" in cls.patterns]


@pytest.mark.benchmark(group="roundtrip 64 B")
@pytest.mark.parametrize("transport", PINGPONG)
def test_roundtrip_64b(benchmark: Any, roundtrip: Any, transport: str) -> None:
    benchmark(roundtrip(transport, 64))


@pytest.mark.benchmark(group="roundtrip 64 KiB")
@pytest.mark.parametrize("transport", ["pipe", "pipe_bytes", "queue", "raw_socketpair"])
def test_roundtrip_64kib(benchmark: Any, roundtrip: Any, transport: str) -> None:
    benchmark(roundtrip(transport, 64 * 1024))
