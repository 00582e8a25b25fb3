"""Manager proxy calls: each is one round trip to the Manager's server process.

The Manager is started once for the module (outside any timed call) and shut down after.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import Any

import pytest

from ipcbench.wire import make_payload

ITEM = (0, make_payload("bytes", 64)[0])


@pytest.fixture(scope="module")
def manager() -> Iterator[Any]:
    mgr = multiprocessing.get_context("fork").Manager()
    yield mgr
    mgr.shutdown()


@pytest.mark.benchmark(group="manager proxy 64 B")
def test_dict_set(benchmark: Any, manager: Any) -> None:
    d = manager.dict()
    benchmark(d.__setitem__, 0, ITEM)
    assert d[0] == ITEM


@pytest.mark.benchmark(group="manager proxy 64 B")
def test_dict_get(benchmark: Any, manager: Any) -> None:
    d = manager.dict({0: ITEM})
    assert benchmark(d.__getitem__, 0) == ITEM


@pytest.mark.benchmark(group="manager proxy 64 B")
def test_list_append(benchmark: Any, manager: Any) -> None:
    lst = manager.list()
    benchmark(lst.append, ITEM)
    assert lst[0] == ITEM


@pytest.mark.benchmark(group="manager proxy 64 B")
def test_list_get(benchmark: Any, manager: Any) -> None:
    lst = manager.list([ITEM])
    assert benchmark(lst.__getitem__, 0) == ITEM
