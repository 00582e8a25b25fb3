"""The pattern catalogue: one entry per pattern is all the harness needs to know of it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from ipcbench.harness.settings import build_settings
from ipcbench.harness.sweep import expand
from ipcbench.measure import catalogue, patterns
from ipcbench.measure.catalogue import PatternInfo
from ipcbench.measure.patterns.base import Session
from ipcbench.params import QUICK_SIZES

TRIVIAL = PatternInfo(
    "trivial",
    "trivial_pattern:Sink",  # tests/trivial_pattern.py
    "test only: the driver sends, a child counts",
    transports=("pipe",),
)


def test_every_entry_names_its_session_class() -> None:
    for name, entry in catalogue.CATALOGUE.items():
        assert entry.name == name
        cls = patterns.get(name)
        assert issubclass(cls, Session), name
        assert entry.session.split(":")[1] == cls.__name__


def test_catalogue_and_analysis_load_no_pattern_code() -> None:
    """Analysis reads the catalogue (pure data), never a pattern, worker or transport."""
    code = (
        "import sys; import ipcbench.analysis.stats, ipcbench.measure.catalogue; "
        "bad = [m for m in sys.modules if m.startswith(('ipcbench.measure.patterns', "
        "'ipcbench.transports')) or m == 'ipcbench.measure.workers']; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_latency_patterns_come_from_the_catalogue() -> None:
    from ipcbench.analysis import stats

    assert {"pingpong", "proxy_ops", "rate", "lifecycle", "startup"} == stats.LATENCY_PATTERNS


def test_importing_the_registry_loads_no_pattern() -> None:
    code = (
        "import sys; import ipcbench.measure.patterns; "
        "bad = [m for m in sys.modules if m.startswith('ipcbench.measure.patterns.')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture
def trivial(monkeypatch: pytest.MonkeyPatch) -> PatternInfo:
    """The catalogue with one more entry (drivers are forked: they see it too)."""
    monkeypatch.setitem(catalogue.CATALOGUE, TRIVIAL.name, TRIVIAL)
    return TRIVIAL


def test_a_new_pattern_expands_from_its_entry_alone(trivial: PatternInfo) -> None:
    s = build_settings({"patterns": "trivial", "transports": "pipe,queue", "quick": True})
    cases = expand(s)
    assert cases and {c.transport for c in cases} == {"pipe"}  # the transport its entry takes
    assert {c.pattern for c in cases} == {"trivial"}
    assert {c.payload_bytes for c in cases} == set(QUICK_SIZES)  # the global quick grid


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_a_new_pattern_runs_through_the_real_runner(
    trivial: PatternInfo, run_sweep: Any, start_method: str
) -> None:
    """Registered at test time, with nothing else told its name: sweep, runner, driver and
    its workers (spawn: the role imported by module path) run it end to end."""
    rows = run_sweep(
        patterns="trivial",
        transports="pipe",
        sizes="64",
        payload_kinds="bytes,object",
        start_methods=start_method,
    )
    assert len(rows) == 4  # 2 kinds x 2 repeats
    for row in rows:
        assert row["status"] == "ok", row["error"]
        assert row["pattern"] == "trivial" and row["start_method"] == start_method
        assert row["n_messages"] > 0 and row["msgs_per_s"] > 0


def test_the_runner_imports_the_sessions_its_drivers_will_inherit() -> None:
    """Forked drivers inherit the pattern code the runner imported (no import per case run)."""
    code = (
        "import sys\n"
        "from ipcbench.harness.runner import _import_sessions\n"
        "from ipcbench.harness.settings import build_settings\n"
        "from ipcbench.harness.sweep import expand\n"
        "cases = expand(build_settings({'transports': 'pipe', 'patterns': 'pingpong,fan'}))\n"
        "before = 'ipcbench.measure.patterns.pingpong' in sys.modules\n"
        "_import_sessions(cases)\n"
        "loaded = {m for m in sys.modules if m.startswith('ipcbench.measure.patterns.')}\n"
        "print(before, 'ipcbench.measure.patterns.pingpong' in loaded,"
        " 'ipcbench.measure.patterns.fan' in loaded,"
        " 'ipcbench.measure.patterns.rate' in loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "True", "False"]


def test_the_runner_imports_the_libraries_of_the_transports_in_the_sweep() -> None:
    """pyzmq (~23 ms) is imported once in the runner, not in every zmq_ipc case run."""
    pytest.importorskip("zmq")
    code = (
        "import sys\n"
        "from ipcbench.harness.runner import _import_sessions\n"
        "from ipcbench.harness.settings import build_settings\n"
        "from ipcbench.harness.sweep import expand\n"
        "def cases(t): return expand(build_settings({'transports': t, 'patterns': 'stream'}))\n"
        "_import_sessions(cases('pipe'))\n"
        "before = 'zmq' in sys.modules\n"
        "_import_sessions(cases('zmq_ipc'))\n"
        "print(before, 'zmq' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_list_shows_a_new_pattern_under_the_transport_its_entry_names(
    trivial: PatternInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    from ipcbench import cli

    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    pipe = lines[lines.index(next(x for x in lines if x.split()[:1] == ["pipe"])) + 1]
    queue = lines[lines.index(next(x for x in lines if x.split()[:1] == ["queue"])) + 1]
    assert "trivial" in pipe and "trivial" not in queue
