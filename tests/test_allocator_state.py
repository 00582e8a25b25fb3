"""The malloc state every case runs in (``ipcbench.harness.allocator``): glibc's thresholds
fixed in each driver, so a large message's figure does not depend on the runner's history.

The page-fault counts run in fresh interpreters: this test process's own malloc history would
hide the difference. Counts, not times: they do not depend on how busy the machine is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ipcbench.harness import allocator

pytestmark = pytest.mark.skipif(allocator.description() != allocator.FIXED, reason="not glibc")

FAULTS = """
import multiprocessing as mp, resource, sys
from ipcbench.harness import allocator
if sys.argv[1] == "fixed":
    assert allocator.fix()
from ipcbench.harness.driver import placement_cpus
from ipcbench.measure.patterns import open_session
from ipcbench.params import Case

case = Case("pipe", "pingpong", 1 << 20, placement="same")  # unpinned: 6-271, heap growth
session = open_session(case, placement_cpus("same"), mp.get_context("fork"))
try:
    session.run(8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    session.run(40)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
finally:
    session.close()
"""


def _faults(state: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", FAULTS, state], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_fixed_thresholds_keep_large_buffers_from_being_faulted_in_anew() -> None:
    fixed, fresh = _faults("fixed"), _faults("fresh")
    # measured in 40 round trips of 1 MiB on one CPU: fixed 5, a fresh interpreter ~800
    assert fixed < 40, f"{fixed} page faults with the thresholds fixed"
    assert fresh > 4 * fixed, (fresh, fixed)  # the premise: without the fix, many more


def test_fix_reaches_exec_children_through_glibc_tunables() -> None:
    script = (
        "import os, subprocess, sys\n"
        "os.environ['GLIBC_TUNABLES'] = 'glibc.malloc.arena_max=2'\n"
        "from ipcbench.harness import allocator\n"
        "assert allocator.fix() and allocator.fix()\n"
        "child = [sys.executable, '-c', 'import os; print(os.environ[\"GLIBC_TUNABLES\"])']\n"
        "print(subprocess.run(child, capture_output=True, text=True).stdout.strip())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"glibc.malloc.arena_max=2:{allocator.TUNABLES}"  # kept, once


def test_every_driver_fixes_the_thresholds_and_the_run_records_it(
    run_sweep: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marks = tmp_path / "fixed"
    real_fix = allocator.fix

    def marked_fix() -> bool:  # inherited by the forked drivers
        with open(marks, "a") as fh:
            fh.write("x")
        return real_fix()

    monkeypatch.setattr(allocator, "fix", marked_fix)
    rows = run_sweep(transports="pipe", patterns="pingpong", sizes="64", repeats=2)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert marks.read_text() == "xx"
    (meta,) = (tmp_path / "results").rglob("*.meta.json")
    assert allocator.FIXED in meta.read_text()
