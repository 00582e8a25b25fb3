"""``ipcbench export --format pyperf``: crafted result CSVs -> pyperf JSON -> pyperf's own tools."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ipcbench import cli
from ipcbench.analysis.export import case_of, pyperf_suite
from ipcbench.results.schema import SCHEMA_VERSION
from ipcbench.results.store import ResultWriter, RunStore

PIPE = {"transport": "pipe", "pattern": "pingpong", "payload_bytes": 64, "start_method": "fork"}
QUEUE = {
    "transport": "queue",
    "pattern": "stream",
    "payload_bytes": 4096,
    "start_method": "fork",
    "maxsize": 0,
}
PIPE_NAME = "pipe pingpong 64 B bytes fork unpinned"
QUEUE_NAME = "queue stream 4 KiB bytes fork unpinned maxsize=0"
JITTER = (1.0, 1.01, 0.99, 1.005, 0.995)  # five repeats around the nominal time


@pytest.fixture(autouse=True)
def export_command(monkeypatch: Any) -> None:
    """Register the subcommand here too, whether or not cli.py lists it yet."""
    if "ipcbench.cli.export" not in cli.COMMAND_MODULES:
        modules = (*cli.COMMAND_MODULES, "ipcbench.cli.export")
        monkeypatch.setattr(cli, "COMMAND_MODULES", modules)


def _row(run_id: str, i: int, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "row_id": f"{run_id}-{i}",
        "machine_id": fields.pop("machine_id", "test-cpu-2cpu-abcdef12"),
        "logical_cpus": 2,
        "payload_kind": "bytes",
        "producers": 1,
        "consumers": 1,
        "placement": "unpinned",
        "op": "",
        "offered_load": "",
        "status": "ok",
        "error": "",
        **params,
        **fields,
    }


def write_run(folder: Path, run_id: str, pipe_us: float, queue_us: float, **extra: Any) -> Path:
    """A result CSV: pipe pingpong at pipe_us per message, queue stream at queue_us, five
    repeats each, plus one failed case that must not be exported."""
    rows: list[dict[str, Any]] = []
    n = 1000
    for params, per_msg_us in ((PIPE, pipe_us), (QUEUE, queue_us)):
        for repeat, factor in enumerate(JITTER):
            rows.append(
                _row(
                    run_id,
                    len(rows),
                    params,
                    repeat=repeat,
                    n_messages=n,
                    elapsed_s=per_msg_us * factor * n / 1e6,
                    **extra,
                )
            )
    rows.append(
        _row(
            run_id,
            len(rows),
            {**PIPE, "transport": "manager_queue"},
            repeat=0,
            **{"status": "error", "error": "delivery check failed", **extra},
        )
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = RunStore.for_csv(folder / f"{run_id}.csv")
    with ResultWriter(paths) as writer:
        writer.write_case(rows, {})
    return paths.csv


def export(*argv: str | Path) -> int:
    return cli.main(["export", "--format", "pyperf", *map(str, argv)])


def pyperf_tool(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyperf", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_pyperf_compare_to_on_two_exports(tmp_path: Path) -> None:
    a_csv = write_run(tmp_path / "a", "runa", pipe_us=10.0, queue_us=50.0)
    b_csv = write_run(tmp_path / "b", "runb", pipe_us=20.0, queue_us=50.0)
    assert export(a_csv, "-o", tmp_path / "a.json") == 0
    assert export(b_csv, "-o", tmp_path / "b.json") == 0
    compared = pyperf_tool("compare_to", tmp_path / "a.json", tmp_path / "b.json")
    assert compared.returncode == 0, compared.stderr
    assert f"{PIPE_NAME}: Mean +- std dev: [a] 10.0 us" in compared.stdout
    assert "-> [b] 20.0 us" in compared.stdout and "2.00x slower" in compared.stdout
    assert QUEUE_NAME in compared.stdout and "not significant" in compared.stdout
    stats = pyperf_tool("stats", tmp_path / "a.json")
    assert stats.returncode == 0, stats.stderr
    assert "Number of benchmarks: 2" in stats.stdout


def test_names_values_and_metadata(tmp_path: Path) -> None:
    import pyperf

    csv = write_run(tmp_path, "runa", pipe_us=10.0, queue_us=50.0)
    write_run(tmp_path, "runc", pipe_us=12.0, queue_us=40.0)  # a second run, same machine
    assert export(tmp_path, "-o", tmp_path / "out.json") == 0
    suite = pyperf.BenchmarkSuite.load(str(tmp_path / "out.json"))
    assert sorted(suite.get_benchmark_names()) == [PIPE_NAME, QUEUE_NAME]  # error row dropped
    pipe = suite.get_benchmark(PIPE_NAME)
    assert pipe.get_unit() == "second" and pipe.get_nrun() == 2
    runs = {r.get_metadata()["ipcbench_run_id"]: r for r in pipe.get_runs()}
    first_run = runs["runa"]
    assert first_run.values == pytest.approx([10e-6 * f for f in JITTER])
    meta = first_run.get_metadata()
    assert meta["transport"] == "pipe" and meta["payload_bytes"] == 64
    assert meta["loops"] == 1000 and meta["cpu_count"] == 2
    assert "maxsize" not in meta  # empty parameters are left out (pyperf refuses them)
    queue_meta = suite.get_benchmark(QUEUE_NAME).get_runs()[0].get_metadata()
    assert queue_meta["maxsize"] == 0
    assert json.loads((tmp_path / "out.json").read_text())["version"]  # plain pyperf JSON
    assert csv.exists()


def test_refuses_to_overwrite_without_force(tmp_path: Path, capsys: Any) -> None:
    csv = write_run(tmp_path, "runa", pipe_us=10.0, queue_us=50.0)
    out = tmp_path / "out.json"
    out.write_text("keep me")
    assert export(csv, "-o", out) == 2
    err = capsys.readouterr().err
    assert "already exists; pass --force" in err and len(err.strip().splitlines()) == 1
    assert out.read_text() == "keep me"
    assert export(csv, "-o", out, "--force") == 0
    assert "wrote 2 benchmark(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not,a,result\n1,2,3\n", "not an ipcbench result file"),
        (b"\x00\x01binary", "binary"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, capsys: Any, content: Any, message: str) -> None:
    bad = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content)
    assert export(bad, "-o", tmp_path / "out.json") == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.json").exists()


def test_refuses_no_ok_rows_and_mixed_machines(tmp_path: Path, capsys: Any) -> None:
    failed = write_run(tmp_path / "f", "runf", 10.0, 50.0, status="error", error="boom")
    assert export(failed, "-o", tmp_path / "f.json") == 2
    assert "no rows with status ok" in capsys.readouterr().err
    write_run(tmp_path / "m", "run1", 10.0, 50.0)
    write_run(tmp_path / "m", "run2", 10.0, 50.0, machine_id="other-cpu-4cpu-12345678")
    assert export(tmp_path / "m", "-o", tmp_path / "m.json") == 2
    assert "2 machines" in capsys.readouterr().err
    assert export(tmp_path / "m", "-o", tmp_path / "missing" / "m.json") == 2
    assert "does not exist" in capsys.readouterr().err


def test_case_of_round_trips_the_label() -> None:
    row = _row("r", 0, QUEUE, repeat=0, n_messages=10, elapsed_s=1.0)
    assert case_of(row).label() == QUEUE_NAME
    suite = pyperf_suite([row])
    assert suite.get_benchmark_names() == [QUEUE_NAME]
