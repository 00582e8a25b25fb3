"""Interpreters for ``--pythons``: finding each one, and an environment to run cases under it.

A spec is a version (``3.12``, ``3.12.1``, ``3.13t``), a name on PATH (``python3.12``) or a
path. A version is looked for on PATH (``python3.12``) and in pyenv's versions folder
(``$PYENV_ROOT/versions/3.12.*``, newest patch first), after the interpreter running
ipcbench; each candidate is asked for its facts
(``ipcbench.results.interpreter``) and the first whose version matches is taken. Nothing found,
or an interpreter older than 3.10: one line naming what was found, before the sweep starts.

The interpreter the user launched runs its cases from its own environment. Any other gets a
virtual environment in the cache (``$IPCBENCH_ENV_DIR``, else ``~/.cache/ipcbench/envs``), one
per interpreter and set of packages, holding a copy of this ipcbench (re-copied when the source
changes) and only what the measuring side needs for the chosen transports and payloads (NumPy
for ndarray payloads, the peers' packages). The analysis side (pandas, matplotlib) stays on the
launched interpreter. A peer whose wheel is missing for a version is left out with a note; its
cases are then skipped under that version, saying why.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipcbench.errors import IpcbenchError

PROBE_TIMEOUT_S = 30.0
INSTALL_TIMEOUT_S = 900.0
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(t?)$")
STAMP = "ipcbench-env.json"
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the ipcbench package itself

# What the measuring side imports beyond the standard library, by what needs it.
NUMPY_REQUIREMENT = "numpy>=1.24"
PEER_REQUIREMENTS: dict[str, str] = {"faster_fifo": "faster-fifo>=1.4", "zmq_ipc": "pyzmq>=25"}


@dataclass(frozen=True)
class Interpreter:
    """One interpreter found for a spec, with the facts it reported about itself."""

    spec: str
    executable: str
    tag: str  # the case parameter: '3.12', '3.13t'
    version: str
    facts: dict[str, Any] = field(compare=False, hash=False)

    @property
    def is_current(self) -> bool:
        """The interpreter running ipcbench now (its environment is ours)."""
        return _same_file(self.executable, sys.executable)


def check_spec(key: str, value: Any) -> str:
    """An options-table parser: a non-empty spec, as text (found later, by ``find``)."""
    text = str(value).strip()
    if not text:
        raise IpcbenchError("--pythons: empty interpreter; give versions (3.12), names or paths")
    return text


def find_all(specs: Sequence[str]) -> list[Interpreter]:
    """Each spec's interpreter, in order; refuses a missing or unsuitable one, or two specs
    that name the same interpreter version."""
    found = [find(spec) for spec in specs]
    tags: dict[str, str] = {}
    for interp in found:
        if interp.tag in tags:
            raise IpcbenchError(
                f"--pythons: {tags[interp.tag]!r} and {interp.spec!r} are both Python "
                f"{interp.tag}; give each version once"
            )
        tags[interp.tag] = interp.spec
    return found


def find(spec: str) -> Interpreter:
    """The interpreter for one spec (see the module docstring), or IpcbenchError."""
    version = _VERSION_RE.match(spec)
    if "/" in spec:
        candidates = [spec]
    elif version:
        candidates = _version_candidates(version)
    else:
        on_path = shutil.which(spec)
        candidates = [on_path] if on_path else []
    for path in candidates:
        facts = probe(path)
        if facts is None or (version and not _matches(facts, version)):
            continue
        if not facts.get("supported"):
            raise IpcbenchError(
                f"--pythons: {spec!r} is Python {facts['python_version']} ({path}); the "
                "measuring side needs 3.10 or newer"
            )
        return Interpreter(spec, str(path), facts["tag"], facts["python_version"], facts)
    raise IpcbenchError(f"--pythons: no interpreter found for {spec!r}; {_found_text()}")


def _matches(facts: dict[str, Any], version: re.Match[str]) -> bool:
    major, minor, patch, free = version.groups()
    got = facts.get("version_info", [])[:3]
    wanted = [int(major), int(minor)] + ([int(patch)] if patch else [])
    free_threaded = "free-threaded" in str(facts.get("python_build", ""))
    return got[: len(wanted)] == wanted and free_threaded == bool(free)


def _version_candidates(version: re.Match[str]) -> list[str]:
    major, minor, patch, free = version.groups()
    out = [sys.executable]  # the launched one first: its own environment has everything
    out += [p for p in (shutil.which(f"python{major}.{minor}{free}"),) if p]
    prefix = f"{major}.{minor}." + (f"{patch}" if patch else "")
    for folder in _pyenv_versions():
        if folder.name.startswith(prefix) and (not patch or folder.name == prefix):
            out.append(str(folder / "bin" / f"python{major}.{minor}{free}"))
    return out


def _pyenv_versions() -> list[Path]:
    """pyenv's installed versions, newest first (3.12.10 before 3.12.9)."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    try:
        folders = [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return []

    def order(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.name)[:3])

    return sorted(folders, key=order, reverse=True)


def _found_text() -> str:
    """What is installed, for a refusal: 'found: 3.10.13, 3.11.7 (pyenv), python3.12 (PATH)'."""
    pyenv = [p.name for p in _pyenv_versions() if (p / "bin").is_dir()]
    on_path = sorted(
        {f"python3.{n}" for n in range(6, 20) if shutil.which(f"python3.{n}")},
        key=lambda name: int(name.split(".")[1]),
    )
    parts = []
    if pyenv:
        parts.append(f"{', '.join(pyenv)} (pyenv)")
    if on_path:
        parts.append(f"{', '.join(on_path)} (PATH)")
    where = "; ".join(parts) or "nothing on PATH or in ~/.pyenv/versions"
    return f"found: {where}; give a version that is installed or a path to its python"


def probe(executable: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The interpreter's own facts (``ipcbench.results.interpreter.probe``), or None when it
    does not run or is not Python 3."""
    script = PACKAGE_DIR / "results" / "interpreter.py"
    try:
        done = subprocess.run(
            [os.fspath(executable), "-I", os.fspath(script)],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
        facts = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return facts if isinstance(facts, dict) and "tag" in facts else None


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# --- environments ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    """Where the cases of one interpreter run: its python, and what was left out (and why)."""

    interpreter: Interpreter
    python: str
    notes: tuple[str, ...] = ()


def requirements(
    transports: Iterable[str], payload_kinds: Iterable[str], ops: Iterable[str] = ()
) -> list[str]:
    """What the measuring side needs beyond the standard library for these cases: NumPy for
    ndarray payloads and for the startup pattern's child that imports it (op process_numpy)."""
    numpy = "ndarray" in set(payload_kinds) or "process_numpy" in set(ops)
    needed = [NUMPY_REQUIREMENT] if numpy else []
    needed += [PEER_REQUIREMENTS[t] for t in sorted(set(transports)) if t in PEER_REQUIREMENTS]
    return needed


def env_root() -> Path:
    configured = os.environ.get("IPCBENCH_ENV_DIR")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "ipcbench" / "envs"


def source_hash(package_dir: Path = PACKAGE_DIR) -> str:
    """A digest of the ipcbench source (every .py file's path and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def prepare(
    interp: Interpreter, needed: Sequence[str], root: Path | None = None, quiet: bool = False
) -> Environment:
    """The environment to run ``interp``'s cases in; built or brought up to date in the cache.

    The launched interpreter uses its own. Others get ``<root>/<tag>-<digest>/`` (the digest
    of the interpreter's path and the packages), made once and reused; the ipcbench copy in it
    is replaced when the source changes. A failed install of a package is a note, not an
    error: the transports that need it are then skipped under this interpreter."""
    if interp.is_current:
        return Environment(interp, sys.executable)
    folder = env_folder(interp, needed, root or env_root())
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with _locked(folder.parent / f".{folder.name}.lock"):
            notes = _build(folder, interp, needed, quiet)
    except OSError as exc:
        raise IpcbenchError(
            f"--pythons: cannot prepare an environment for Python {interp.tag} in {folder}: "
            f"{exc.strerror or exc}; set IPCBENCH_ENV_DIR to a writable folder"
        ) from None
    return Environment(interp, str(folder / "bin" / "python"), tuple(notes))


def env_folder(interp: Interpreter, needed: Sequence[str], root: Path) -> Path:
    """``<root>/<tag>-<digest of the interpreter's path and the packages>``."""
    key = hashlib.sha256(json.dumps([interp.executable, sorted(needed)]).encode()).hexdigest()
    return root / f"{interp.tag}-{key[:12]}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One run at a time builds a given environment."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build(folder: Path, interp: Interpreter, needed: Sequence[str], quiet: bool) -> list[str]:
    stamp_path = folder / STAMP
    stamp = _read_stamp(stamp_path)
    if stamp is None:  # new, or a build that did not finish: start over
        shutil.rmtree(folder, ignore_errors=True)
        _say(quiet, f"preparing an environment for Python {interp.version} in {folder}")
        _make_venv(interp, folder, with_pip=bool(needed))
        stamp = {"packages": _install(folder, needed, quiet), "source": ""}
    source = source_hash()
    if stamp.get("source") != source:
        _copy_source(folder)
        stamp["source"] = source
    stamp_path.write_text(json.dumps(stamp), encoding="utf-8")
    missing = [req for req, ok in stamp["packages"].items() if not ok]
    return [
        f"Python {interp.tag}: no installable wheel of {req}; its cases are skipped there"
        for req in missing
    ]


def _read_stamp(path: Path) -> dict[str, Any] | None:
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) and isinstance(stamp.get("packages"), dict) else None


def _make_venv(interp: Interpreter, folder: Path, with_pip: bool) -> None:
    command = [interp.executable, "-m", "venv", os.fspath(folder)]
    if not with_pip:
        command.insert(3, "--without-pip")  # nothing to install: a venv in ~0.1 s, not ~3 s
    done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise IpcbenchError(
            f"--pythons: cannot make a virtual environment with {interp.executable}: {last}"
        )


def _install(folder: Path, needed: Sequence[str], quiet: bool) -> dict[str, bool]:
    """Install each requirement from wheels only; which ones succeeded."""
    python = os.fspath(folder / "bin" / "python")
    installed = {}
    for req in needed:
        _say(quiet, f"  installing {req}")
        done = subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--only-binary=:all:", req],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
        installed[req] = done.returncode == 0
    return installed


def _copy_source(folder: Path) -> None:
    """This ipcbench, copied into the environment's site-packages (replacing an older copy)."""
    site = next((folder / "lib").glob("python*/site-packages"))
    target = site / "ipcbench"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(PACKAGE_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(f"note: {text}", file=sys.stderr, flush=True)
