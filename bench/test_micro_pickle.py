"""Pickling cost of each payload kind (``ipcbench.wire.make_payload``),
as sent on the wire.

The message is ``(seq, payload)`` pickled with the highest protocol, like the ``pickle`` floor
transport; ``object`` payloads are lists of small tuples of about the same pickled size as the
``bytes`` payload, so the difference is the cost of walking Python objects.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from ipcbench.wire import make_payload

SIZES = [64, 4096, 64 * 1024, 1024 * 1024]
KINDS = ["bytes", "object"]
PROTOCOL = pickle.HIGHEST_PROTOCOL


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_dumps(benchmark: Any, kind: str, size: int) -> None:
    msg = (0, make_payload(kind, size)[0])
    benchmark.group = f"pickle {size} B"
    data = benchmark(pickle.dumps, msg, PROTOCOL)
    assert pickle.loads(data) == msg


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_loads(benchmark: Any, kind: str, size: int) -> None:
    msg = (0, make_payload(kind, size)[0])
    data = pickle.dumps(msg, PROTOCOL)
    benchmark.group = f"pickle {size} B"
    assert benchmark(pickle.loads, data) == msg
