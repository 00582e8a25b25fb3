"""The benchmark suites under bench/ run (untimed or briefly), so they cannot rot unnoticed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ipcbench import cli, transports
from ipcbench.params import default_start_method

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# Tests per file that do not depend on the transport registry (update when adding some).
STATIC_TESTS = {
    "test_micro_pipe.py": 4,  # 2 APIs x 2 sizes
    "test_micro_pickle.py": 16,  # dumps/loads x 2 kinds x 4 sizes
    "test_micro_manager.py": 4,
    "test_micro_queues.py": 7 + 3 + 7,  # Queue, SimpleQueue, faster-fifo calls
    "test_micro_roundtrip.py": 4,  # the 64 KiB round trips
}
FASTER_FIFO_TESTS = 7 + 1  # queue calls + 64 B round trip


def _pytest(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    # not an xdist worker (make test runs the suite in 2): pytest-benchmark would take the
    # inherited PYTEST_XDIST_WORKER for its own and turn autosave off
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _count(summary: str, word: str) -> int:
    match = re.search(rf"(\d+) {word}", summary)
    return int(match.group(1)) if match else 0


def _expected_skips() -> int:
    skipped = 0
    if transports.get("faster_fifo").unavailable_reason():
        skipped += FASTER_FIFO_TESTS
    if transports.get("zmq_ipc").unavailable_reason():
        skipped += 1
    return skipped


def test_microbenchmarks_run_once_each() -> None:
    pingpong = [cls for cls in transports.all_transports() if "pingpong" in cls.patterns]
    expected = sum(STATIC_TESTS.values()) + len(pingpong)
    done = _pytest(str(BENCH), "--benchmark-disable", "-q")
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    skipped = _expected_skips()
    assert (_count(summary, "passed"), _count(summary, "skipped")) == (
        expected - skipped,
        skipped,
    ), summary


def test_saved_runs_compare(tmp_path: Path) -> None:
    """Two autosaved runs (timed briefly) and ``pytest-benchmark compare`` on them."""
    storage = tmp_path / "pytest-benchmark"
    for _ in range(2):
        done = _pytest(
            str(BENCH / "test_micro_pipe.py"),
            "-q",
            "--benchmark-enable",
            "--benchmark-autosave",
            f"--benchmark-storage={storage}",
            "--benchmark-max-time=0.01",
            "--benchmark-min-rounds=3",
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    saved = sorted(storage.rglob("*.json"))
    assert [p.name[:4] for p in saved] == ["0001", "0002"]
    assert len(json.loads(saved[0].read_text())["benchmarks"]) == STATIC_TESTS["test_micro_pipe.py"]
    script = Path(sys.executable).with_name("pytest-benchmark")
    if not script.exists():
        pytest.skip(f"{script} not installed")
    compared = subprocess.run(
        [str(script), "--storage", str(storage), "compare", "0001", "0002"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert compared.returncode == 0, compared.stderr
    assert "test_send_recv[64] (0001" in compared.stdout
    assert "test_send_recv[64] (0002" in compared.stdout


PYPERF_TRANSPORTS = ("pipe", "raw_pipe")


def _pyperf_args(out: Path, transports: tuple[str, ...] = PYPERF_TRANSPORTS) -> list[str]:
    # Tiny: 2 worker processes x 2 values, no calibration search beyond what pyperf needs.
    cases = f"--transport {','.join(transports)} --pattern pingpong,stream --size 64"
    tiny = "-p 2 -n 2 -w 0 --min-time 0.005 -q"
    return [*cases.split(), *tiny.split(), "-o", str(out)]


def _check_pyperf_json(out: Path, transports: tuple[str, ...] = PYPERF_TRANSPORTS) -> None:
    import pyperf

    suite = pyperf.BenchmarkSuite.load(str(out))
    method = default_start_method()
    assert sorted(suite.get_benchmark_names()) == [
        f"{t} {p} 64 B bytes {method} unpinned" for t in transports for p in ("pingpong", "stream")
    ]
    for bench in suite.get_benchmarks():
        assert bench.get_nvalue() == 4 and bench.get_unit() == "second"  # 2 workers x 2
        assert 0 < bench.mean() < 0.01  # seconds per message
        assert bench.get_metadata()["payload_bytes"] == 64


def test_pyperf_suite_script(tmp_path: Path) -> None:
    """The script is ``ipcbench pyperf`` (run_suite, tested over the whole grid below) started
    as a file that pyperf re-runs in every worker: one transport shows that."""
    out = tmp_path / "suite.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / "pyperf_suite.py"), *_pyperf_args(out, ("pipe",))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    _check_pyperf_json(out, ("pipe",))


def test_pyperf_suite_bad_option_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "pyperf_suite.py"), "--transport", "nope", "-o", "x.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "unknown transport 'nope'" in lines[0]


def test_pyperf_subcommand(tmp_path: Path) -> None:
    if "ipcbench.cli.pyperf_cmd" not in cli.COMMAND_MODULES:
        pytest.skip("ipcbench pyperf is not registered in cli.COMMAND_MODULES yet")
    out = tmp_path / "cmd.json"
    done = subprocess.run(
        [sys.executable, "-m", "ipcbench", "pyperf", *_pyperf_args(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    _check_pyperf_json(out)


def test_case_options_reach_the_workers() -> None:
    """pyperf builds each worker's command line; add_cmdline_args must carry our options."""
    import argparse

    from ipcbench.cli.pyperf_cmd import add_cmdline_args, add_options

    parser = argparse.ArgumentParser()
    add_options(parser)
    given = ["--transport", "queue", "--pattern", "stream", "--size", "4K"]
    given += ["--payload-kind", "object", "--start-method", "spawn", "--placement", "same"]
    cmd: list[str] = ["python", "suite.py", "--worker"]
    add_cmdline_args(cmd, parser.parse_args(given))
    assert cmd[3:] == given
