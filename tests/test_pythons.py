"""--pythons: discovery of interpreters, their cached environments, refusals, and real sweeps
under the CPython versions installed here (skipped, saying why, when only one is found)."""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST, leftover_processes

from ipcbench import cli
from ipcbench.errors import IpcbenchError
from ipcbench.harness import pythons
from ipcbench.harness.runner import Runner, schedule
from ipcbench.harness.settings import build_settings
from ipcbench.results import interpreter
from ipcbench.results.schema import INTERPRETER_COLUMNS


def _installed() -> dict[str, pythons.Interpreter]:
    """Every supported CPython minor version that can be found here, by tag."""
    found = {}
    for minor in range(10, 20):
        try:
            interp = pythons.find(f"3.{minor}")
        except IpcbenchError:
            continue
        found[interp.tag] = interp
    return found


INSTALLED = _installed()
OTHERS = [tag for tag in INSTALLED if tag != interpreter.tag()]
needs_two = pytest.mark.skipif(
    not OTHERS,
    reason=f"only one interpreter found ({', '.join(INSTALLED) or 'none'}): --pythons needs "
    "another CPython 3.10+ on PATH or in ~/.pyenv/versions/",
)


@pytest.fixture
def env_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "envs"
    monkeypatch.setenv("IPCBENCH_ENV_DIR", str(root))
    return root


def test_the_running_interpreter_is_found_by_its_version_and_runs_in_its_own_environment(
    env_root: Path,
) -> None:
    interp = pythons.find(interpreter.tag())
    assert interp.is_current and interp.version == interpreter.facts()["python_version"]
    env = pythons.prepare(interp, ["numpy>=1.24"], quiet=True)
    assert env.python == sys.executable and not env_root.exists()  # nothing built


def test_an_interpreter_is_found_by_path_and_by_name_on_path(tmp_path: Path) -> None:
    by_path = pythons.find(sys.executable)
    assert by_path.is_current and by_path.tag == interpreter.tag()
    link = tmp_path / "bin" / "mypython"
    link.parent.mkdir()
    link.symlink_to(sys.executable)
    old_path = os.environ["PATH"]
    os.environ["PATH"] = f"{link.parent}{os.pathsep}{old_path}"
    try:
        assert pythons.find("mypython").tag == interpreter.tag()
    finally:
        os.environ["PATH"] = old_path


@pytest.mark.parametrize(
    "spec, message",
    [
        ("3.99", "no interpreter found for '3.99'"),
        ("/no/such/python", "no interpreter found for '/no/such/python'"),
        ("python-no-such-name", "no interpreter found for 'python-no-such-name'"),
    ],
)
def test_a_missing_interpreter_is_refused_naming_what_was_found(spec: str, message: str) -> None:
    with pytest.raises(IpcbenchError) as err:
        pythons.find(spec)
    text = str(err.value)
    assert message in text and "found:" in text and "\n" not in text
    for interp in INSTALLED.values():  # what is installed is named
        if not interp.is_current:
            assert interp.version in text


def test_an_interpreter_older_than_3_10_is_refused(tmp_path: Path) -> None:
    old = next(
        (p / "bin" / "python" for p in pythons._pyenv_versions() if p.name.startswith("3.9.")),
        None,
    )
    if old is None or not old.exists():
        pytest.skip("no CPython 3.9 in ~/.pyenv/versions/ to refuse")
    with pytest.raises(IpcbenchError, match=r"is Python 3\.9\.\d+ .*needs 3\.10 or newer"):
        pythons.find(str(old))


def test_two_specs_of_one_version_are_refused() -> None:
    with pytest.raises(IpcbenchError, match="both Python"):
        pythons.find_all([interpreter.tag(), sys.executable])


def test_a_refusal_is_one_line_exit_2_before_any_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    code = cli.main(
        ["run", "--pythons", "3.99", "-t", "raw_pipe", "-p", "pingpong", "-o", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "3.99" in err
    assert not out.exists() or not list(out.rglob("*.csv"))


@needs_two
def test_an_environment_is_built_once_reused_and_refreshed_when_the_source_changes(
    env_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    interp = INSTALLED[OTHERS[0]]
    env = pythons.prepare(interp, [], quiet=True)
    folder = Path(env.python).parent.parent
    assert folder.parent == env_root and folder.name.startswith(interp.tag + "-")
    copied = next(folder.glob("lib/python*/site-packages/ipcbench/wire.py"))
    stamp = json.loads((folder / pythons.STAMP).read_text())
    assert stamp["source"] == pythons.source_hash() and stamp["packages"] == {}
    copied.write_text("# changed in the environment only\n")  # a stale copy: not refreshed,
    again = pythons.prepare(interp, [], quiet=True)  # since the source did not change
    assert again.python == env.python and copied.read_text().startswith("# changed")
    monkeypatch.setattr(pythons, "source_hash", lambda package_dir=None: "another-source")
    pythons.prepare(interp, [], quiet=True)
    assert "def frame_bytes" in copied.read_text()  # the source changed: copied anew
    assert pythons.env_folder(interp, [], env_root) == folder
    assert pythons.env_folder(interp, ["numpy>=1.24"], env_root) != folder  # other packages


@needs_two
def test_a_package_without_a_wheel_is_a_note_and_its_cases_are_skipped(
    env_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    interp = INSTALLED[OTHERS[0]]
    monkeypatch.setattr(pythons, "_make_venv", _venv_without_pip)
    monkeypatch.setattr(
        pythons, "_install", lambda folder, needed, quiet: dict.fromkeys(needed, False)
    )
    env = pythons.prepare(interp, ["pyzmq>=25"], quiet=True)
    assert env.notes == (f"Python {interp.tag}: no installable wheel of pyzmq>=25; its cases are "
                         "skipped there",)  # fmt: skip
    settings = build_settings(
        {**FAST, "repeats": 1, "transports": "zmq_ipc", "patterns": "pingpong", "sizes": "64",
         "pythons": interp.tag, "out": str(env_root.parent / "results")}
    )  # fmt: skip
    rows = Runner(settings).run().rows
    assert [(r["python"], r["status"]) for r in rows] == [(interp.tag, "skipped")]
    assert "zmq" in rows[0]["error"]


def _venv_without_pip(interp: pythons.Interpreter, folder: Path, with_pip: bool) -> None:
    import subprocess

    subprocess.run([interp.executable, "-m", "venv", "--without-pip", str(folder)], check=True)


@needs_two
def test_a_sweep_under_every_installed_version_records_each_interpreter(
    env_root: Path, tmp_path: Path, own_semaphores: str
) -> None:
    tags = sorted(INSTALLED, key=lambda t: [int(n) for n in t.split(".")])
    settings = build_settings(
        {**FAST, "repeats": 1, "transports": "pipe,queue", "patterns": "stream", "sizes": "64",
         "start_methods": "fork,spawn", "pythons": ",".join(tags), "seed": 3,
         "out": str(tmp_path / "results")}
    )  # fmt: skip
    runner = Runner(settings)
    result = runner.run()
    rows = result.rows
    assert {r["status"] for r in rows} == {"ok"}, [r["error"] for r in rows if r["error"]]
    per_python: dict[str, set[Any]] = {}
    for row in rows:
        per_python.setdefault(row["python"], set()).add(row["python_version"])
        assert row["python_version"] == INSTALLED[row["python"]].version  # from the driver
        assert row["python_build"] == "release" and row["python_implementation"] == "CPython"
        assert all(row[c] not in (None, "") for c in INTERPRETER_COLUMNS)
    assert set(per_python) == set(tags)
    n_cases = len(runner.cases) // len(tags)
    assert len(rows) == n_cases * len(tags) and n_cases == 4  # fork and spawn each
    first_round = schedule(runner.cases, 1, runner.seed)
    order = [case.python for case, _ in first_round]  # interleaved, not one version after another
    assert sum(a != b for a, b in itertools.pairwise(order)) > len(tags)
    meta = json.loads(result.paths.meta.read_text())
    assert set(meta["pythons"]) == set(tags) and meta["config"]["pythons"] == tags
    assert leftover_processes() == []


@needs_two
def test_pythons_from_toml_and_resume_keeps_them(
    env_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ipcbench.harness.resume import load_resume

    config = tmp_path / "run.toml"
    config.write_text(
        f'pythons = ["{OTHERS[0]}"]\ntransports = ["raw_pipe"]\npatterns = ["pingpong"]\n'
        'sizes = ["64"]\nrepeats = 1\ntarget-time = 0.005\nwarmups = 0\n'
    )
    out = tmp_path / "results"
    assert cli.main(["run", "-c", str(config), "-o", str(out), "-q"]) == 0
    csv_path = next(out.rglob("*.csv"))
    state = load_resume(str(csv_path))
    assert state.config["pythons"] == [OTHERS[0]]
    code = cli.main(["run", "--resume", str(csv_path), "--pythons", interpreter.tag()])
    err = capsys.readouterr().err
    assert code == 2 and "--pythons" in err and len(err.strip().splitlines()) == 1


# --- the analysis side, with crafted rows -------------------------------------------------------


def _version_run(folder: Path, versions: dict[str, dict[str, float]], pattern: str = "pingpong"):
    """One run: per interpreter tag, per transport, 7 repeats around the given figure."""
    from fixtures_analysis import case_rows, default_meta, params, write_run

    cases, row_no = [], 0
    for tag, figures in versions.items():
        for transport, figure in figures.items():
            rows = case_rows(params(transport, pattern, 64, python=tag), figure, first_row=row_no)
            for row in rows:
                row.update(python_version=f"{tag}.1", python_implementation="CPython",
                           python_build="release", gil_enabled=True,
                           start_method_default="fork")  # fmt: skip
            row_no += len(rows)
            cases.append(rows)
    return write_run(folder, "20261203T100000", cases, default_meta("m1", "run1"))


def _section(csv_path: Path) -> list[Any]:
    from ipcbench.results.loader import load
    from ipcbench.views.report.analysis import analyse
    from ipcbench.views.report.pythons import python_blocks

    df = load(csv_path)
    return python_blocks(df, analyse(df))


def test_the_versions_section_names_significant_differences_and_counts_ties(
    tmp_path: Path,
) -> None:
    from ipcbench.views.report.blocks import Bullets, Heading, Table

    csv_path = _version_run(
        tmp_path / "m1",
        {"3.10": {"pipe": 20.0, "queue": 50.0}, "3.13": {"pipe": 10.0, "queue": 50.0}},
    )
    blocks = _section(csv_path)
    assert isinstance(blocks[0], Heading) and blocks[0].text == "CPython versions"
    bullets = next(b for b in blocks if isinstance(b, Bullets)).items
    assert bullets[0] == (
        "Python 3.13 against 3.10: of 2 channel figures, faster in 1 (2.0\u00d7: pipe); "
        "not significantly different in 1."
    )
    assert (
        bullets[1] == "Python 3.10, Queue against Pipe: Queue slower by 2.5\u00d7 at 64 B pingpong."
    )
    assert (
        bullets[2] == "Python 3.13, Queue against Pipe: Queue slower by 5.0\u00d7 at 64 B pingpong."
    )
    versions, seed = [b for b in blocks if isinstance(b, Table)]
    pipe = [r for r in versions.rows if r[0] == "pipe"]
    assert [r[3] for r in pipe] == ["3.10", "3.13"] and pipe[0][5] == "reference"
    assert pipe[0][4] == "20.0 \u00b5s" and pipe[1][4] == "10.0 \u00b5s" and pipe[1][7] == "faster"
    queue = [r for r in versions.rows if r[0] == "queue"]
    assert queue[1][5].startswith("1.00 [") and queue[1][7] == "tie"
    assert [r[2] for r in seed.rows] == ["3.10", "3.13"]


def test_no_versions_section_with_one_interpreter(tmp_path: Path) -> None:
    csv_path = _version_run(tmp_path / "m1", {"3.13": {"pipe": 10.0, "queue": 50.0}})
    assert _section(csv_path) == []


def test_runs_of_different_interpreters_are_never_merged(tmp_path: Path) -> None:
    from fixtures_analysis import write_machine

    from ipcbench.results.loader import load

    write_machine(tmp_path, "m1", "20261203T100000", python_version="3.11.7")
    assert set(load(tmp_path)["python"].fillna("")) == {""}  # one interpreter: as it was
    write_machine(tmp_path, "m1", "20261203T110000", python_version="3.12.1")
    assert set(load(tmp_path)["python"]) == {"3.11", "3.12"}  # two: a dimension


def test_a_schema_3_file_gets_its_interpreter_from_the_metadata(tmp_path: Path) -> None:
    import csv

    from fixtures_analysis import write_machine

    from ipcbench.results.loader import load

    csv_path = write_machine(tmp_path, "m1", python_version="3.10.13")
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    dropped = {"python", *INTERPRETER_COLUMNS}
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, [c for c in rows[0] if c not in dropped])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("3" if k == "schema_version" else v)
                             for k, v in row.items() if k not in dropped})  # fmt: skip
    frame = load(csv_path)
    assert set(frame["python_version"]) == {"3.10.13"} and set(frame["schema_version"]) == {4}
    assert set(frame["python"].fillna("")) == {""}
