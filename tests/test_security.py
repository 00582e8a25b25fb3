"""Security: results and configs are data (never unpickled or evaluated), Manager servers
listen on a private Unix socket with a fresh random key, files follow the user's umask, and
paths from a config are used as paths, never run."""

from __future__ import annotations

import ast
import multiprocessing
import os
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

import ipcbench

PACKAGE = Path(ipcbench.__file__).resolve().parent
# Modules that read files a user passes (results, metadata, samples, configs).
# Whole layers: everything that reads result files, configs or resume state.
READERS = ("results", "harness", "analysis", "views", "cli", "options.py", "params.py")
UNPICKLERS = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "yaml"}
# The in-process pickle floor unpickles the payload it pickled itself a moment before.
# pickles this process or its own worker just made (the pickle floor; pipe_oob's messages
# from its own child, as Connection.recv unpickles them)
OWN_DATA_UNPICKLING = {
    "transports/inprocess.py",
    "transports/pipe_oob.py",
    "harness/exec_driver.py",
}
# --pythons: the runner pickles a case for the driver it execs; the driver unpickles it from its
# own stdin (a pipe from its parent), never from a file
OWN_PIPE_PICKLING = {"harness/runner.py", "harness/exec_driver.py"}


def _modules(names: tuple[str, ...] | None = None) -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    if names is None:
        return files
    return [f for f in files if f.relative_to(PACKAGE).parts[0] in names]


def test_the_readers_checked_are_the_reading_layers() -> None:
    """The layer move once left this list naming files that no longer existed (checking none)."""
    checked = {f.relative_to(PACKAGE).as_posix() for f in _modules(READERS)}
    for reader in ("results/loader.py", "harness/resume.py", "harness/settings.py",
                   "analysis/compare.py", "views/plots.py", "cli/summarize.py"):  # fmt: skip
        assert reader in checked


def _calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                found.append((func.id, node))
            elif isinstance(func, ast.Attribute):
                base = func.value.id if isinstance(func.value, ast.Name) else "?"
                found.append((f"{base}.{func.attr}", node))
    return found


def test_file_readers_never_unpickle_or_evaluate() -> None:
    offenders = []
    for path in _modules(READERS):
        if path.relative_to(PACKAGE).as_posix() in OWN_PIPE_PICKLING:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                bad = {n.split(".")[0] for n in names} & UNPICKLERS
                if bad:
                    offenders.append(f"{path.name}:{node.lineno} imports {sorted(bad)}")
        for name, call in _calls(tree):
            if name.split(".")[-1] in {"loads", "load", "Unpickler"} and name.startswith(
                tuple(UNPICKLERS)
            ):
                offenders.append(f"{path.name}:{call.lineno} {name}")
    assert offenders == []


def test_nothing_evaluates_code_or_runs_a_shell() -> None:
    offenders = []
    for path in _modules():
        rel = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(), str(path))
        for name, call in _calls(tree):
            shell = any(
                k.arg == "shell" and not (isinstance(k.value, ast.Constant) and not k.value.value)
                for k in call.keywords
            )
            if name in {"eval", "exec", "os.system", "os.popen", "compile"} or shell:
                offenders.append(f"{rel}:{call.lineno} {name}")
            if name in {"pickle.loads", "pickle.load"} and rel not in OWN_DATA_UNPICKLING:
                offenders.append(f"{rel}:{call.lineno} {name}")
    assert offenders == []


def test_a_pickle_in_a_results_file_is_just_text(tmp_path: Path) -> None:
    """A cell, a metadata value and a samples line holding a pickle that would create a file
    if it were ever unpickled: every reader treats them as text."""
    import pickle

    from conftest import FAST

    from ipcbench.harness.runner import Runner
    from ipcbench.harness.settings import build_settings

    marker = tmp_path / "UNPICKLED"
    payload = pickle.dumps(_Trap(str(marker)), protocol=0).decode("latin-1")
    paths = (
        Runner(build_settings({**FAST, "transports": "memcpy", "sizes": "8", "out": str(tmp_path)}))
        .run()
        .paths
    )
    text = paths.csv.read_text().replace("unpinned", payload.replace("\n", " "))
    paths.csv.write_text(text)
    for command in (["summarize", str(paths.csv)], ["run", "--resume", str(paths.csv)]):
        out = subprocess.run(
            [sys.executable, "-m", "ipcbench", *command],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert "Traceback" not in out.stderr
    assert not marker.exists()


class _Trap:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def test_manager_server_listens_on_a_private_unix_socket_only() -> None:
    from ipcbench.transports.manager import start_manager

    manager = start_manager(multiprocessing.get_context("spawn"))
    try:
        address = manager.address
        assert isinstance(address, str) and address.startswith("/")  # AF_UNIX, not (host, port)
        folder_mode = stat.S_IMODE(os.stat(os.path.dirname(address)).st_mode)
        assert folder_mode == 0o700
        server = psutil.Process(manager._process.pid)
        assert server.net_connections(kind="inet") == []  # nothing on TCP/UDP
        assert [c.laddr for c in server.net_connections(kind="unix")] == [address]
    finally:
        manager.shutdown()


def test_each_manager_server_gets_a_fresh_random_authkey() -> None:
    from ipcbench.transports.manager import start_manager

    ctx = multiprocessing.get_context("fork")
    first, second = start_manager(ctx), start_manager(ctx)
    try:
        keys = {bytes(first._authkey), bytes(second._authkey)}
        assert len(keys) == 2 and all(len(k) >= 32 for k in keys)
        assert bytes(multiprocessing.current_process().authkey) not in keys
    finally:
        first.shutdown()
        second.shutdown()


@pytest.mark.parametrize(
    ("umask", "file_mode", "dir_mode"), [(0o077, 0o600, 0o700), (0o022, 0o644, 0o755)]
)
def test_files_follow_the_umask(tmp_path: Path, umask: int, file_mode: int, dir_mode: int) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ipcbench", "run", "-t", "memcpy", "-p", "pingpong", "-s", "8",
         "--repeats", "1", "--warmups", "0", "--target-time", "0.001", "-q", "-o",
         str(tmp_path / "res")],
        capture_output=True, text=True, timeout=60, umask=umask,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    files = [p for p in (tmp_path / "res").rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".csv", ".json", ".gz"}
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {file_mode}
    folders = [p for p in (tmp_path / "res").rglob("*") if p.is_dir()]
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {dir_mode}


@pytest.mark.parametrize(
    "trick", ["$(touch PWNED)", "`touch PWNED`", "x; touch PWNED", "|touch PWNED"]
)
def test_paths_from_a_config_are_never_run(tmp_path: Path, trick: str) -> None:
    config = tmp_path / "sweep.toml"
    escaped = trick.replace("\\", "\\\\").replace('"', '\\"')
    config.write_text(
        f'[run]\ntransports = "memcpy"\npatterns = "stream"\nsizes = "8"\nrepeats = 1\n'
        f'warmups = 0\ntarget-time = 0.001\nquiet = true\nout = "{escaped}"\n'
    )
    out = subprocess.run(
        [sys.executable, "-m", "ipcbench", "run", "--config", str(config)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (tmp_path / trick).is_dir()  # the path, literally
    assert not list(tmp_path.rglob("PWNED"))
    resumed = subprocess.run(
        [sys.executable, "-m", "ipcbench", "run", "--resume", f"{trick}.csv"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert resumed.returncode == 2 and not list(tmp_path.rglob("PWNED"))
