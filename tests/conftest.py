"""Shared fixtures: a fast sweep configuration and a check that nothing is left running."""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from ipcbench.harness.runner import Runner
from ipcbench.harness.settings import build_settings

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


def shm_entries(marker: str = "") -> set[str]:
    """/dev/shm entries (with ``marker`` in their name, if given)."""
    try:
        return {name for name in os.listdir("/dev/shm") if marker in name}
    except FileNotFoundError:
        return set()


@pytest.fixture
def own_semaphores(monkeypatch: pytest.MonkeyPatch) -> str:
    """A marker in the name of every named semaphore this test creates (drivers inherit it),
    so a leak check counts this test's entries only: other programs on a shared machine (other
    test runs) create and remove /dev/shm entries meanwhile, and a diff of the whole folder
    would count theirs."""
    marker = uuid.uuid4().hex[:10]
    config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    monkeypatch.setitem(config, "semprefix", f"/mpt{marker}")
    return marker


@pytest.fixture
def run_sweep(tmp_path: Path, own_semaphores: str) -> Iterator[Any]:
    """run_sweep(**options) -> rows; asserts afterwards that no process or semaphore leaked."""

    def _run(**options: Any) -> list[dict[str, Any]]:
        settings = build_settings({**FAST, "out": str(tmp_path / "results"), **options})
        return Runner(settings).run().rows

    yield _run
    assert leftover_processes() == []
    assert shm_entries(own_semaphores) == set()


def run_with_fault(tmp_path: Path, fault: str, **options: Any) -> list[dict[str, Any]]:
    from ipcbench.harness.settings import validate

    base = build_settings({**FAST, "out": str(tmp_path / "results"), **options})
    settings = validate({**base.__dict__, "faults": (fault,), "sizes": base.sizes})
    return Runner(settings).run().rows
