"""The startup pattern with real processes: every op under fork and forkserver, the check of
the child's first message, injected faults, and nothing left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST, leftover_processes, shm_entries

from ipcbench.errors import DeliveryError
from ipcbench.harness.runner import Runner
from ipcbench.harness.settings import build_settings, validate
from ipcbench.harness.sweep import expand
from ipcbench.measure import catalogue
from ipcbench.measure.patterns.startup import MAX_STARTS, OPS, check_first

TINY = {
    **FAST,
    "repeats": 1,
    "min_messages": 1,
    "max_messages": 1,
    "patterns": "startup",
    "transports": "pipe",
}


@pytest.fixture
def sweep(tmp_path: Path, own_semaphores: str) -> Iterator[Any]:
    """sweep(ops, start_method, fault="", **options) -> rows of those ops' cases; asserts
    afterwards that no process or semaphore was left behind."""

    def _run(ops: tuple[str, ...], start_method: str, fault: str = "", **options: Any) -> Any:
        given = {**TINY, "out": str(tmp_path / "results"), "start_methods": start_method}
        settings = build_settings({**given, **options})
        if fault:
            settings = validate({**settings.__dict__, "faults": (fault,), "sizes": settings.sizes})
        cases = [case for case in expand(settings) if case.op in ops]
        assert {case.op for case in cases} == set(ops)
        return Runner(settings, cases=cases).run().rows

    yield _run
    assert leftover_processes() == []
    assert shm_entries(own_semaphores) == set()


def assert_ok(rows: list[dict[str, Any]], start_method: str) -> None:
    assert {row["op"] for row in rows} == set(OPS)
    for row in rows:
        assert row["status"] == "ok", (row["op"], row["error"])
        assert row["start_method"] == start_method and row["transport"] == "pipe"
        assert 1 <= row["n_messages"] <= MAX_STARTS
        assert row["lat_min_us"] > 0 and row["lat_p50_us"] >= row["lat_min_us"]


def test_the_entry_is_one_size_on_one_transport() -> None:
    entry = catalogue.info("startup")
    assert entry.is_latency and entry.ops == OPS
    assert entry.cap_bytes is not None and entry.cap_bytes // 64 == MAX_STARTS
    for quick in (False, True):
        cases = expand(build_settings({"patterns": "startup", "quick": quick}))
        assert {c.transport for c in cases} == {"pipe"}  # of every transport: pipe only
        assert {c.payload_bytes for c in cases} == {64}
        assert sorted(c.op for c in cases) == sorted(OPS)  # one case per op (one method)


def test_every_op_under_forkserver(sweep: Any) -> None:
    assert_ok(sweep(OPS, "forkserver"), "forkserver")


FORK_SWEEP = """
import json, sys
sys.path.insert(0, {tests!r})
from conftest import leftover_processes
from ipcbench.harness.runner import Runner
from ipcbench.harness.settings import build_settings
numpy_before = "numpy" in sys.modules
rows = Runner(build_settings({options!r})).run().rows
keep = ("op", "status", "error", "start_method", "transport", "n_messages", "lat_min_us",
        "lat_p50_us")
print(json.dumps({{"numpy_before": numpy_before, "leftover": leftover_processes(),
                  "rows": [{{k: row.get(k) for k in keep}} for row in rows]}}))
"""


def test_every_op_under_fork(tmp_path: Path) -> None:
    """In a fresh interpreter: a forked child inherits the parent's modules, and this test
    process may have NumPy imported already (see the test below)."""
    options = {**TINY, "out": str(tmp_path / "results"), "start_methods": "fork"}
    code = FORK_SWEEP.format(tests=str(Path(__file__).parent), options=options)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["numpy_before"] is False
    assert_ok(result["rows"], "fork")
    assert result["leftover"] == []


def test_numpy_inherited_by_a_forked_child_is_an_error_not_a_number(sweep: Any) -> None:
    import numpy  # noqa: F401  (forked drivers and their children inherit it)

    rows = sweep(("process_numpy",), "fork")
    assert [row["status"] for row in rows] == ["error"]
    assert "numpy was already imported" in rows[0]["error"]


@pytest.mark.parametrize(
    ("op", "fault", "status", "reason"),
    [
        ("process_bare", "corrupt", "error", "corrupted"),
        ("process_bare", "truncate", "error", "truncated"),
        ("process_bare", "drop", "error", "lost"),
        ("process_bare", "duplicate", "error", "duplicated"),
        ("process_bare", "kill", "crash", "killed by signal 9"),
        ("process_bare", "raise", "error", "RuntimeError: injected fault at message 1"),
        ("pool", "corrupt", "error", "corrupted"),
        ("pool", "kill", "crash", "killed by signal 9"),
        ("pool", "raise", "error", "RuntimeError: injected fault at message 1"),
        ("manager", "truncate", "error", "truncated"),
        ("manager", "kill", "crash", "killed by signal 9"),
        ("manager", "raise", "error", "RuntimeError: injected fault at message 1"),
    ],
)
def test_injected_faults_end_the_case(
    sweep: Any, op: str, fault: str, status: str, reason: str
) -> None:
    rows = sweep((op,), "fork", fault)
    assert [row["status"] for row in rows] == [status], rows
    assert reason in rows[0]["error"]
    assert "lat_p50_us" not in rows[0]  # no figure from a start that failed its check


@pytest.mark.parametrize("op", ["process_bare", "pool", "manager"])
def test_a_hanging_start_times_out(sweep: Any, op: str) -> None:
    rows = sweep((op,), "fork", "hang", timeout=1)
    assert [row["status"] for row in rows] == ["timeout"]


def test_consumer_faults_do_not_apply(sweep: Any) -> None:
    rows = sweep(("process_bare",), "fork", "consumer_kill")
    assert [row["status"] for row in rows] == ["ok"]


@pytest.mark.parametrize(
    ("msgs", "reason"),
    [
        ([], "lost"),
        ([(3, b"token")] * 2, "duplicated"),
        ([(3, b"toke")], "truncated"),
        ([(3, b"tokex")], "corrupted"),
        ([(4, b"token")], "corrupted: sequence number"),
        ([("error", "text")], "corrupted"),
        (["token"], "corrupted"),
    ],
)
def test_check_first_refuses_a_wrong_first_message(msgs: list[Any], reason: str) -> None:
    check_first(3, b"token", [(3, b"token")])
    with pytest.raises(DeliveryError, match=f"start 3: {reason}"):
        check_first(3, b"token", msgs)


def test_sizes_and_payload_kinds_do_not_multiply_startup_cases() -> None:
    from ipcbench.harness.settings import build_settings
    from ipcbench.harness.sweep import expand

    s = build_settings(
        {
            "patterns": "startup",
            "transports": "pipe",
            "sizes": "64,1M",
            "payload_kinds": "bytes,object",
        }
    )
    cases = expand(s)
    assert sorted(c.op for c in cases) == ["manager", "pool", "process_bare", "process_numpy"]
    assert {(c.payload_bytes, c.payload_kind) for c in cases} == {(64, "bytes")}


def test_the_report_tables_startup_costs_per_op_and_start_method() -> None:
    import fixtures_analysis as fa
    import pandas as pd

    from ipcbench.views.report.blocks import Table
    from ipcbench.views.report.startup import startup_blocks

    rows = []
    for i, (op, method, ms) in enumerate(
        [("process_bare", "fork", 5.0), ("process_bare", "spawn", 40.0), ("pool", "fork", 18.0)]
    ):
        case = fa.params("pipe", "startup", 64, op=op, start_method=method)
        for row in fa.case_rows(case, ms * 1000, first_row=10 * i):
            rows.append({**row, "lat_p50_us": row["msgs_per_s"]})  # a latency pattern's figure
    blocks = startup_blocks(pd.DataFrame(rows))
    table = next(b for b in blocks if isinstance(b, Table))
    by = {(r[0], r[1]): r[3] for r in table.rows}
    assert by == {
        ("Process, bare child", "fork"): "5 ms",
        ("Process, bare child", "spawn"): "40 ms",
        ("Pool(2), first result", "fork"): "18 ms",
    }
    assert startup_blocks(pd.DataFrame(fa.case_rows(fa.params(), 20.0))) == []
