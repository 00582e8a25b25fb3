"""The command line as a user meets it: help, list, bad input (one line, exit 2), Ctrl-C."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest

from ipcbench.results.schema import COLUMNS
from ipcbench.results.store import read_rows


def ipcbench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ipcbench", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_help_and_list() -> None:
    out = ipcbench("--help")
    assert out.returncode == 0 and "run" in out.stdout and "list" in out.stdout
    run_help = ipcbench("run", "--help").stdout
    for flag in (
        "--transports",
        "--sizes",
        "--payload-kinds",
        "--start-methods",
        "--maxsize",
        "--repeats",
        "--target-time",
        "--timeout",
        "--quick",
        "--out",
        "--quiet",
        "--config",
        "--placements",
    ):
        assert flag in run_help
    listing = ipcbench("list").stdout
    for name in (
        "pipe",
        "pipe_bytes",
        "pipe_oneway",
        "queue",
        "simplequeue",
        "joinablequeue",
        "manager_queue",
        "manager_dict",
        "manager_list",
        "raw_pipe",
        "raw_socketpair",
        "memcpy",
        "pickle",
        "pingpong",
        "stream",
        "proxy_ops",
    ):
        assert f"  {name} " in listing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "-t", "carrier_pigeon"], "unknown transport 'carrier_pigeon'; valid: pipe"),
        (["run", "--sizes=-4K"], "cannot parse size"),
        (["run", "-s", "lots"], "cannot parse size 'lots'"),
        (["run", "-t", "pipe", "--maxsize", "8"], "--maxsize applies only to"),
        (["run", "--config", "/nonexistent/sweep.toml"], "config file /nonexistent/sweep.toml"),
        (["run", "--repeats", "many"], "--repeats: expected a whole number"),
        (["run", "--bogus"], "unrecognized arguments: --bogus"),
        (["nosuchcommand"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    out = ipcbench(*args, "-o", str(tmp_path)) if args[0] == "run" else ipcbench(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr and message in lines[0]
    assert not list(tmp_path.rglob("*.csv"))


def test_bad_config_keys(tmp_path: Path) -> None:
    config = tmp_path / "sweep.toml"
    config.write_text('transports = ["pipe"]\nspeed = "fast"\n')
    out = ipcbench("run", "--config", str(config))
    assert out.returncode == 2 and "unknown key 'speed'" in out.stderr
    config.write_text("transports = [pipe\n")
    out = ipcbench("run", "--config", str(config))
    assert out.returncode == 2 and "cannot read config" in out.stderr


def test_unwritable_out_dir_fails_before_the_sweep(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = ipcbench("run", "-t", "pipe", "-o", str(blocker / "sub"))
    assert out.returncode == 2 and "pass a writable --out DIR" in out.stderr


def test_config_run_writes_csv_and_meta(tmp_path: Path) -> None:
    config = tmp_path / "sweep.toml"
    config.write_text(
        '[run]\ntransports = ["pipe", "memcpy"]\npatterns = "pingpong"\n'
        'sizes = ["64", "1K"]\nrepeats = 2\ntarget-time = 0.005\nwarmups = 0\n'
    )
    out = ipcbench("run", "--config", str(config), "-o", str(tmp_path / "res"), "--quiet")
    assert out.returncode == 0, out.stderr
    csv_path = Path(out.stdout.strip().splitlines()[-1].removeprefix("results: "))
    rows = read_rows(csv_path)
    assert len(rows) == 2 * 2 * 2 and {r["status"] for r in rows} == {"ok"}
    import json

    meta = json.loads(csv_path.with_name(csv_path.stem + ".meta.json").read_text())
    for key in (
        "cpu_model",
        "logical_cpus",
        "physical_cores",
        "python_version",
        "kernel",
        "machine_id",
        "versions",
        "seed",
        "config",
        "loadavg",
        "start_method_default",
    ):
        assert key in meta
    assert meta["machine_id"] == csv_path.parent.name
    assert os.uname().nodename not in csv_path.read_text()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_keeps_finished_cases_and_leaves_nothing(tmp_path: Path, signum: int) -> None:
    marker = uuid.uuid4().hex
    env = {**os.environ, "IPCBENCH_TEST_MARKER": marker}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ipcbench",
            "run",
            "-t",
            "pipe,queue,manager_queue",
            "-s",
            "64,1K,4K,16K",
            "--repeats",
            "5",
            "--target-time",
            "0.1",
            "-o",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    csvs: list[Path] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _finished_rows(csvs):
        time.sleep(0.2)
        csvs = list(tmp_path.rglob("*.csv"))
    proc.send_signal(signum)
    started = time.monotonic()
    _, stderr = proc.communicate(timeout=15)
    assert time.monotonic() - started < 5
    assert proc.returncode != 0 and "Traceback" not in stderr
    rows = read_rows(csvs[0])
    assert rows and all(set(COLUMNS) == set(r) for r in rows)
    with open(csvs[0], newline="") as fh:
        assert len(list(csv.reader(fh))) == len(rows) + 1
    time.sleep(0.5)
    assert _processes_with(marker) == []


def _finished_rows(csvs: list[Path]) -> bool:
    return bool(csvs) and len(csvs[0].read_text().splitlines()) > 2


def _processes_with(marker: str) -> list[int]:
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("IPCBENCH_TEST_MARKER") == marker and p.status() != "zombie":
                found.append(p.pid)
        except (psutil.Error, OSError):
            continue
    return found


# --- a refusal comes before any warning, and is the only line --------------------------------

NOISY = "this machine looks noisy (made so by the test)"
TINY_RUN = ["-t", "memcpy", "-p", "stream", "-s", "8", "--repeats", "1", "--warmups", "0"]


@pytest.fixture
def noisy_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The noise check says 'busy' whatever this machine is doing."""
    from ipcbench.results import metadata

    monkeypatch.setattr(metadata, "noise_warning", lambda: NOISY)


def _main_stderr(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    from ipcbench import cli

    code = cli.main(list(args))
    return code, capsys.readouterr().err.strip().splitlines()


def test_noisy_stand_in_does_warn(
    noisy_machine: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without this the refusal tests below would prove nothing."""
    code, err = _main_stderr(
        capsys, "run", *TINY_RUN, "--target-time", "0.001", "-o", str(tmp_path)
    )
    assert code == 0 and f"warning: {NOISY}" in err


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from ipcbench.harness import runner

    usage = shutil.disk_usage("/")
    monkeypatch.setattr(runner.shutil, "disk_usage", lambda _: usage._replace(free=1024))


@pytest.mark.parametrize("fault", ["missing", "full"])
def test_refusal_is_the_only_line_on_a_noisy_machine(
    noisy_machine: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    out = tmp_path / "results"
    if fault == "missing":  # the folder cannot be created: a file is in the way
        (tmp_path / "blocker").write_text("")
        out = tmp_path / "blocker" / "results"
    else:
        _full_disk(monkeypatch)
    code, err = _main_stderr(capsys, "run", *TINY_RUN, "-o", str(out))
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("ipcbench: error: ")
    assert not list(tmp_path.rglob("*.csv")) and not list(tmp_path.rglob("*.json"))


def test_resume_refusal_is_the_only_line_on_a_noisy_machine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _ = _main_stderr(
        capsys, "run", *TINY_RUN, "--target-time", "0.001", "-q", "-o", str(tmp_path)
    )
    assert code == 0
    csv_path = next(tmp_path.rglob("*.csv"))
    before = csv_path.read_bytes()
    from ipcbench.results import metadata

    monkeypatch.setattr(metadata, "noise_warning", lambda: NOISY)
    _full_disk(monkeypatch)
    code, err = _main_stderr(capsys, "run", "--resume", str(csv_path))
    assert code == 2 and len(err) == 1 and "less than 50 MiB free" in err[0], err
    assert csv_path.read_bytes() == before


# --- two runs at once, same results folder ----------------------------------------------------

# Both programs get the same timestamp (the worst case: started in the same second), at the
# same instant: the run's file name is chosen right after it.
SAME_SECOND_CLI = textwrap.dedent(
    """
    import sys, time
    from ipcbench import cli
    from ipcbench.results import metadata
    start_at = float(sys.argv.pop(1))

    def same_stamp(now=None):
        time.sleep(max(0.0, start_at - time.time()))
        return "20260101T000000Z"

    metadata.utc_stamp = same_stamp
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def test_runs_started_at_once_write_separate_files(tmp_path: Path) -> None:
    """Three runs (two terminals and a bit), same results/, same second: separate files."""
    start_at = str(time.time() + 3.0)  # both interpreters are up by then, even on a busy machine
    args = [*TINY_RUN[:6], "--repeats", "2", "--warmups", "0", "--target-time", "0.005", "-q"]
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", SAME_SECOND_CLI, start_at, "run", *args, "-o", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    csvs = [Path(out.strip().splitlines()[-1].removeprefix("results: ")) for out, _ in outputs]
    assert len(set(csvs)) == 3 and sorted(tmp_path.rglob("*.csv")) == sorted(csvs)
    run_ids = set()
    for csv_path in csvs:
        rows = read_rows(csv_path)
        assert len(rows) == 2 and {r["status"] for r in rows} == {"ok"}
        assert len({r["run_id"] for r in rows}) == 1
        assert len(csv_path.read_text().splitlines()) == 1 + len(rows)  # one header
        import json

        meta = json.loads(csv_path.with_name(csv_path.stem + ".meta.json").read_text())
        assert meta["run_id"] == rows[0]["run_id"] and meta["finished"] is True
        run_ids.add(meta["run_id"])
    assert len(run_ids) == 3


# --- make bench stops on a failed run ----------------------------------------------------------

FAKE_IPCBENCH = """#!/bin/sh
if [ "$1" = run ]; then echo "results: $RUN_CSV"; exit "$RUN_EXIT"; fi
echo "$@" >> "$REPORTED"
"""


def make_bench(tmp_path: Path, run_exit: int) -> subprocess.CompletedProcess[str]:
    """The Makefile's bench recipe with a stand-in ipcbench (set-up stamp satisfied)."""
    fake = tmp_path / "fake-ipcbench"
    fake.write_text(FAKE_IPCBENCH)
    fake.chmod(0o755)
    (tmp_path / "pyproject.toml").write_text("")
    stamp = tmp_path / "stamp"
    stamp.write_text("")
    os.utime(tmp_path / "pyproject.toml", (1, 1))  # older than the stamp: no set-up
    makefile = Path(__file__).resolve().parent.parent / "Makefile"
    env = {
        **os.environ,
        "RUN_CSV": "results/m/run.csv",
        "RUN_EXIT": str(run_exit),
        "REPORTED": str(tmp_path / "reported"),
    }
    return subprocess.run(
        ["make", "-s", "-f", str(makefile), "bench", f"STAMP={stamp}", f"IPCBENCH={fake}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("run_exit", [1, 2, 130])
def test_make_bench_stops_on_a_failed_run(tmp_path: Path, run_exit: int) -> None:
    out = make_bench(tmp_path, run_exit)
    assert out.returncode != 0, out.stderr
    assert not (tmp_path / "reported").exists()  # nothing drawn
    assert f"exit status {run_exit}" in out.stderr
    assert "--resume results/m/run.csv" in out.stderr


def test_make_bench_reports_a_finished_run(tmp_path: Path) -> None:
    out = make_bench(tmp_path, 0)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "reported").read_text() == "report results/m/run.csv\n"


# --- one command-line grammar -----------------------------------------------------------------

WRITERS = ("run", "plot", "report", "export", "summarize", "compare")  # subcommands that write


def _subcommand_parsers() -> dict[str, Any]:
    """Every subcommand's parser except pyperf's (whose options belong to pyperf's parser)."""
    from ipcbench import cli

    parsers = cli._subcommands(cli.build_parser())
    assert set(WRITERS) | {"list", "pyperf"} <= set(parsers)
    return {name: p for name, p in parsers.items() if name != "pyperf"}


def _visible_options(parser: Any) -> list[Any]:
    import argparse

    return [
        a
        for a in parser._actions
        if a.option_strings and a.help != argparse.SUPPRESS and a.dest != "help"
    ]


def test_shared_options_are_spelled_and_mean_the_same_everywhere() -> None:
    from collections import defaultdict

    uses: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for name, parser in _subcommand_parsers().items():
        for action in _visible_options(parser):
            for flag in action.option_strings:
                uses[flag].append((name, action))
    for flag, found in uses.items():
        shapes = {
            (name, tuple(a.option_strings), type(a).__name__, str(a.nargs)) for name, a in found
        }
        assert len({shape[1:] for shape in shapes}) == 1, f"{flag}: {sorted(shapes)}"


def test_every_subcommand_that_writes_takes_o_out() -> None:
    parsers = _subcommand_parsers()
    for name in WRITERS:
        flags = {f for a in _visible_options(parsers[name]) for f in a.option_strings}
        assert {"-o", "--out"} <= flags, f"ipcbench {name}: {sorted(flags)}"


@pytest.mark.parametrize("command", ["run", "plot", "report", "export", "summarize", "compare"])
def test_a_usage_error_points_to_the_subcommands_help(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ipcbench import cli

    for argv in ([command, "--no-such-flag"], [command, str(tmp_path / "x.csv"), "-x", "1"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"(see 'ipcbench {command} --help')" in err[0], err


def test_report_takes_o(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """'ipcbench report RUN.csv -o DIR' is parsed (here: refused for the missing file only)."""
    from ipcbench import cli

    assert cli.main(["report", str(tmp_path / "none.csv"), "-o", str(tmp_path / "r")]) == 2
    assert "unrecognized" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("module", "source", "cause"),
    [
        ("ipcbench.cli.no_such_module", None, "ModuleNotFoundError"),
        ("broken_subcommand_raises", "raise RuntimeError('boom')\n", "RuntimeError: boom"),
        ("broken_subcommand_syntax", "def register(:\n", "SyntaxError"),
        ("broken_subcommand_no_register", "X = 1\n", "AttributeError"),
    ],
)
def test_a_subcommand_that_fails_to_import_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    module: str,
    source: str | None,
    cause: str,
) -> None:
    """Missing, raising on import, not Python, or without register(): one line naming the
    module and the cause, exit 2, for every command (never a command quietly left out)."""
    from ipcbench import cli

    if source is not None:
        (tmp_path / f"{module}.py").write_text(source)
        monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, module))
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and module in err[0] and cause in err[0], err


PYPERF_PARSE = textwrap.dedent(
    """
    import sys, pyperf
    from ipcbench.cli.pyperf_cmd import add_options
    runner = pyperf.Runner()
    add_options(runner.argparser)
    args = runner.argparser.parse_args(sys.argv[1:])
    print(args.transport, args.pattern, args.size, args.payload_kind, args.start_method,
          args.placement, args.output)
    """
)


@pytest.mark.parametrize("plural", ["s", ""])
def test_pyperf_takes_the_case_options_as_run_spells_them(plural: str) -> None:
    """'ipcbench pyperf' takes --transports ... --placements like 'ipcbench run' (and the old
    singular forms), and -o/--out (pyperf's --output) like every command that writes."""
    flags = [
        "--transport",
        "--pattern",
        "--size",
        "--payload-kind",
        "--start-method",
        "--placement",
    ]
    values = ["pipe,queue", "stream", "64,4K", "object", "spawn", "same"]
    argv = [
        arg for flag, value in zip(flags, values, strict=True) for arg in (flag + plural, value)
    ]
    out = subprocess.run(
        [sys.executable, "-c", PYPERF_PARSE, *argv, "--out", "x.json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [*values, "x.json"]


def test_a_run_stopped_before_its_first_row_leaves_no_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C between claiming the run's files and writing the CSV header: no empty CSV or
    lone metadata is left in results/ (report and resume would trip over them)."""
    from ipcbench.harness import runner

    def interrupt() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_start_resource_tracker", interrupt)
    code, err = _main_stderr(capsys, "run", *TINY_RUN, "-q", "-o", str(tmp_path))
    assert code == 130 and err == ["ipcbench: interrupted"]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_every_sweep_option_is_declared_once_in_the_options_table(tmp_path: Path) -> None:
    """run's flags, the TOML keys, the Settings fields and resume's flag names all come from
    ipcbench/options.py; the --quick defaults too."""
    import dataclasses

    from ipcbench import cli
    from ipcbench.harness.resume import flag_of
    from ipcbench.harness.settings import Settings, build_settings, load_config
    from ipcbench.options import NOT_SET, OPTIONS

    fields = {f.name for f in dataclasses.fields(Settings)} - {"faults"}
    assert {o.field for o in OPTIONS} == fields and len(OPTIONS) == len(fields)
    run = cli._subcommands(cli.build_parser())["run"]
    flags = {f for a in run._actions for f in a.option_strings} - {"-h", "--help", "--output"}
    expected = {f for o in OPTIONS if o.help for f in (o.short, o.flag) if f}
    assert flags == expected | {"-c", "--config", "--resume"}
    config = tmp_path / "all.toml"
    config.write_text("".join(f"{o.key.replace('_', '-')} = 1\n" for o in OPTIONS))
    assert set(load_config(str(config))) == {o.key for o in OPTIONS}  # every key is accepted
    for option in OPTIONS:
        assert flag_of(option.field) == option.flag
    quick, plain = build_settings({"quick": True}), build_settings({})
    for option in OPTIONS:
        if option.quick is not NOT_SET:
            assert getattr(quick, option.field) == option.read(option.quick), option.key
    assert quick.quick and (quick.target_time_s, plain.target_time_s) == (0.02, 0.15)
