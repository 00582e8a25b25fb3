"""Delivery checks and the watchdog with real processes: injected faults end as the right status."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from conftest import leftover_processes, run_with_fault, shm_entries


@pytest.mark.parametrize(
    ("transport", "pattern", "fault", "reason"),
    [
        ("pipe", "stream", "drop", "lost"),
        ("queue", "stream", "drop", "lost"),
        ("raw_pipe", "stream", "drop", "lost"),
        ("simplequeue", "stream", "duplicate", "duplicated"),
        ("pipe", "pingpong", "truncate", "truncated"),
        ("pipe_bytes", "stream", "truncate", "truncated"),
        ("raw_socketpair", "pingpong", "corrupt", "corrupted"),
        ("manager_queue", "stream", "corrupt", "corrupted"),
        ("manager_dict", "proxy_ops", "drop", "lost"),
        ("manager_list", "proxy_ops", "truncate", "truncated"),
    ],
)
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_injected_delivery_faults_are_errors(
    tmp_path: Path, transport: str, pattern: str, fault: str, reason: str, start_method: str
) -> None:
    rows = run_with_fault(
        tmp_path,
        fault,
        transports=transport,
        patterns=pattern,
        sizes="4K",
        start_methods=start_method,
    )
    assert rows, "no rows written"
    for case_rows in _by_case(rows).values():
        last = case_rows[-1]
        assert last["status"] == "error", last
        assert reason in last["error"]
        assert "msgs_per_s" not in last  # no figure from unverified delivery
    assert leftover_processes() == []


@pytest.mark.parametrize(
    ("transport", "size", "fault", "reason"),
    [
        ("manager_dict", "512K", "drop", "lost"),  # read back key by key
        ("manager_dict", "512K", "corrupt", "corrupted"),
        ("manager_list", "2M", "duplicate", "duplicated"),  # read back in slices of two
        ("manager_list", "2M", "truncate", "truncated"),
    ],
)
def test_large_proxy_read_backs_catch_every_fault(
    tmp_path: Path, transport: str, size: str, fault: str, reason: str
) -> None:
    """Large messages of proxy_ops set/append are read back key by key or in slices (one
    reply of a whole batch cost 2.4x the timed writes): still every message, in full."""
    rows = run_with_fault(tmp_path, fault, transports=transport, patterns="proxy_ops", sizes=size)
    assert rows, "no rows written"
    for case_rows in _by_case(rows).values():
        last = case_rows[-1]
        assert last["status"] == "error", last
        assert reason in last["error"], last["error"]
    assert leftover_processes() == []


class _CountingProxy:
    """A dict or list proxy stand-in that counts the calls a read-back makes."""

    def __init__(self, items: list[tuple[int, bytes]], kind: str) -> None:
        self.data: Any = dict(items) if kind == "dict" else [msg for _, msg in items]
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.data, name)

        def call(*args: Any) -> Any:
            self.calls += 1
            return method(*args)

        return call

    def __len__(self) -> int:
        self.calls += 1
        return len(self.data)

    def __getitem__(self, key: Any) -> Any:
        self.calls += 1
        return self.data[key]


@pytest.mark.parametrize(
    ("kind", "payload_bytes", "calls"),
    [
        ("dict", 64, 1),  # one copy()
        ("dict", 256 * 1024, 1 + 10),  # keys(), then one call per key
        ("list", 64, 1 + 1),  # len(), one slice
        ("list", 1024**2, 1 + 3),  # len(), slices of 4 x 1 MiB
    ],
)
def test_proxy_read_back_calls_by_message_size(kind: str, payload_bytes: int, calls: int) -> None:
    from ipcbench.transports.proxies import ProxyEnd

    items = [(seq, (seq, b"x")) for seq in range(100, 110)]
    proxy = _CountingProxy(list(reversed(items)) if kind == "dict" else items, kind)
    assert ProxyEnd(proxy, kind).snapshot(payload_bytes) == [msg for _, msg in items]
    assert proxy.calls == calls


def _by_case(rows: list[dict]) -> dict:
    cases: dict = {}
    for row in rows:
        cases.setdefault((row["transport"], row["pattern"], row["op"]), []).append(row)
    return cases


# --timeout of the hanging cases, as test_fault_matrix's hang sample: a spawn Manager case
# reaches the hang (message 1) in about 0.4 s with both CPUs busy, well within it.
HANG_TIMEOUT_S = 1.5


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
@pytest.mark.parametrize("transport", ["pipe", "queue", "manager_queue"])
def test_hanging_child_times_out(
    tmp_path: Path, own_semaphores: str, transport: str, start_method: str
) -> None:
    started = time.monotonic()
    rows = run_with_fault(
        tmp_path,
        "hang",
        transports=transport,
        patterns="stream",
        sizes="64",
        timeout=HANG_TIMEOUT_S,
        start_methods=start_method,
    )
    assert time.monotonic() - started < HANG_TIMEOUT_S + 8
    assert [r["status"] for r in rows] == ["timeout"]
    assert leftover_processes() == []
    assert shm_entries(own_semaphores) == set()


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
@pytest.mark.parametrize(
    ("transport", "pattern"),
    [
        ("pipe", "pingpong"),
        ("queue", "stream"),
        ("joinablequeue", "pingpong"),
        ("manager_queue", "stream"),
        ("manager_list", "proxy_ops"),
        ("raw_pipe", "pingpong"),
    ],
)
def test_killed_child_is_a_crash(
    tmp_path: Path, own_semaphores: str, transport: str, pattern: str, start_method: str
) -> None:
    rows = run_with_fault(
        tmp_path,
        "kill",
        transports=transport,
        patterns=pattern,
        sizes="64",
        start_methods=start_method,
        timeout=20,
    )
    statuses = {r["status"] for r in rows}
    assert statuses == {"crash"}, rows
    assert all("killed by signal 9" in r["error"] for r in rows)
    assert leftover_processes() == []
    assert shm_entries(own_semaphores) == set()


def test_raising_producer_is_an_error_with_its_text(tmp_path: Path) -> None:
    rows = run_with_fault(tmp_path, "raise", transports="queue", patterns="stream", sizes="64")
    assert rows[-1]["status"] == "error"
    assert "RuntimeError: injected fault at message 1" in rows[-1]["error"]


def test_sweep_goes_on_after_a_failed_case(tmp_path: Path) -> None:
    rows = run_with_fault(tmp_path, "kill", transports="pipe,memcpy", patterns="stream", sizes="64")
    status = {r["transport"]: r["status"] for r in rows}
    assert status == {"pipe": "crash", "memcpy": "ok"}  # in-process floors have no child
