"""Shared fixtures: a fast sweep configuration and a check that nothing is left running."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from ipcbench.runner import Runner
from ipcbench.sweep import build_settings

FAST = {"repeats": 2, "warmups": 0, "target_time": 0.005, "quiet": True, "timeout": 30}


def leftover_processes() -> list[str]:
    """Descendants of this test process that are not multiprocessing's resource tracker."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(proc.cmdline())
            status = proc.status()
        except psutil.NoSuchProcess:
            continue
        if "resource_tracker" in cmd:
            continue
        found.append(f"{proc.pid} {status} {cmd[:80]}")
    return found


def shm_entries() -> set[str]:
    try:
        return set(os.listdir("/dev/shm"))
    except FileNotFoundError:
        return set()


@pytest.fixture
def run_sweep(tmp_path: Path) -> Iterator[Any]:
    """run_sweep(**options) -> rows; asserts afterwards that no process or /dev/shm entry leaked."""
    shm_before = shm_entries()

    def _run(**options: Any) -> list[dict[str, Any]]:
        settings = build_settings({**FAST, "out": str(tmp_path / "results"), **options})
        return Runner(settings).run().rows

    yield _run
    assert leftover_processes() == []
    assert shm_entries() - shm_before == set()


def run_with_fault(tmp_path: Path, fault: str, **options: Any) -> list[dict[str, Any]]:
    from ipcbench.sweep import validate

    base = build_settings({**FAST, "out": str(tmp_path / "results"), **options})
    settings = validate({**base.__dict__, "faults": (fault,), "sizes": base.sizes})
    return Runner(settings).run().rows
