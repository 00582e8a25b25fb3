"""Fault matrix: every failure scenario x transport x pattern, with real processes.

Scenarios (each on every case it applies to; a case = transport x pattern x op x call):

* injected in the children at message 1 (``Settings.faults``): ``kill`` (SIGKILL itself),
  ``consumer_kill`` (fan/taskqueue consumers), ``hang`` (stops reading), ``raise``;
* from outside, mid-case: ``kill_worker`` / ``kill_manager`` (SIGKILL to a worker or to the
  Manager server), ``stop_worker`` / ``stop_manager`` (SIGSTOP: it stops reading);
* to the runner: ``sigint`` and ``sigterm`` during a case, each followed by ``resume``
  (``ipcbench run --resume``) -- these go through the command line.

Every cell checks "nothing lost": the CSV parses, every case run has its rows (the failed one
with the expected status and message, a hung one within --timeout + MARGIN_S), and after a
resume every case is there exactly once under the same run id. And "nothing left running":
no process carrying the job's marker in its environment, no /dev/shm entry named with the
job's marker (its semaphores), no file left in the job's TMPDIR, no zombie child, no
resource-tracker warning and no traceback on stderr; at the end, no /dev/shm entry without a
marker that appeared during the run (multiprocessing's heap files).

The cells run as jobs (one sweep of up to CHUNK_CASES cases, or one interrupted command
line and its resume), several at a time: each job has its own marker, TMPDIR and semaphore
names, so parallel jobs never see each other's processes or files. At most --cpu-jobs jobs
that keep CPUs busy run at once; jobs that mostly wait for a watchdog (hang, stop_*) fill the
other --jobs slots.

    python bench/fault_matrix.py                    # the whole matrix: 1151 planned cells
                                                    # (+140 resume cells), about 15 min on 2
                                                    # cores (a pessimistic estimate: 20);
                                                    # --cpu-jobs 3 is faster still; --jobs 1
                                                    # is the old one-at-a-time run (32 min)
    python bench/fault_matrix.py --sample 150       # CI: a seeded sample (~2 min), a new
                                                    # seed each run, printed; --seed S repeats
    python bench/fault_matrix.py --list             # the cells, without running them
    python bench/fault_matrix.py --scenarios kill,hang --start-methods spawn -t queue -p fan

It prints one line per cell as jobs finish, then a summary: cells, scenarios, cases, ok and
failed counts, the failed cells again, and the time. Exit code 0 when every cell passed.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from ipcbench import transports
from ipcbench.harness.settings import validate
from ipcbench.harness.sweep import expand
from ipcbench.params import Case
from ipcbench.results.schema import PARAM_COLUMNS
from ipcbench.results.store import SAMPLES_SUFFIXES, read_rows

MARKER_ENV = "IPCBENCH_MATRIX_MARKER"
SEM_PREFIX = "/mpfm"  # + the job's marker: its named semaphores, told apart in /dev/shm
MARGIN_S = 5.0  # a hung case must end within --timeout + this (cleanup, loaded machine)
SLOW_TIMEOUT_S = 60.0  # --timeout where no case should hang (a loaded machine starts slowly)
# --timeout where cases hang: long enough for the setup to end first, also with parallel jobs
# on 2 CPUs (at 2 s, a forkserver Manager still starting met the watchdog, and the dying
# server's BrokenPipeError traceback failed the cell)
HANG_TIMEOUT_S = 4.0
CHUNK_CASES = 8  # cases per batch job: small enough to spread over parallel slots
SIGNAL_EXIT_S = 5.0
SETTLE_S = 0.4  # external kills: the case's processes unchanged this long = running
EXTERNAL_TARGET_S = 1.5  # --target-time of cases faulted from outside (see child_sweep)
INJECTED = ("kill", "consumer_kill", "hang", "raise")
EXTERNAL = ("kill_worker", "kill_manager", "stop_worker", "stop_manager")
SIGNALS = ("sigint", "sigterm")
SCENARIOS = (*INJECTED, *EXTERNAL, *SIGNALS, "resume")
WAITING = ("hang", "stop_worker", "stop_manager")  # their cases mostly wait for the watchdog
START_METHODS = ("fork", "spawn", "forkserver")
EXPECTED: dict[str, tuple[str, str]] = {  # scenario -> (status, text in the error)
    "kill": ("crash", "killed by signal 9"),
    "consumer_kill": ("crash", "killed by signal 9"),
    "hang": ("timeout", "--timeout"),
    "raise": ("error", "RuntimeError: injected fault at message 1"),
    "kill_worker": ("crash", "killed by signal 9"),
    "kill_manager": ("crash", "Manager"),
    "stop_worker": ("timeout", "--timeout"),
    "stop_manager": ("timeout", "--timeout"),
}


# --- which cases ----------------------------------------------------------------------------


def all_cases(start_method: str) -> list[Case]:
    """One case per transport x pattern x op x calling style (x backpressure maxsize), 64 B."""
    settings = validate(
        {
            "sizes": [64],
            "producers": [2],
            "consumers": [2],
            "rates": ["50%"],
            "quick": True,
            "start_methods": [start_method],
        }
    )
    return expand(settings)


def applies(scenario: str, case: Case) -> bool:
    cls = transports.get(case.transport)
    if scenario in (*SIGNALS, "resume"):
        return True
    if cls.in_process:
        return False
    if scenario in ("kill", "hang", "raise"):
        return case.pattern != "lifecycle"  # close_join's child and qsize/... take no faults
    if scenario == "consumer_kill":
        return case.pattern in ("fan", "taskqueue")
    if scenario in ("kill_worker", "stop_worker"):  # a worker thread has no pid of its own
        if cls.in_threads or case.pattern == "startup":  # startup's children live for ms
            return False
        return case.pattern != "lifecycle" or case.op == "close_join"
    if scenario in ("kill_manager", "stop_manager"):
        return case.transport.startswith("manager_")
    raise ValueError(scenario)


def key_of(params: dict[str, Any]) -> tuple[str, ...]:
    return tuple("" if params.get(c) is None else str(params.get(c)) for c in PARAM_COLUMNS)


def label(case: Case) -> str:
    return case.label().replace(" 64 B bytes", "").replace(" unpinned", "")


# --- leak checks ----------------------------------------------------------------------------


@dataclass
class Snapshot:
    """Where a job's leftovers would be: its own TMPDIR (``tmp``: every file left there is
    the job's), processes and /dev/shm semaphores carrying its marker."""

    tmp: Path

    def env(self, marker: str) -> dict[str, str]:
        self.tmp.mkdir(exist_ok=True)
        return {**os.environ, MARKER_ENV: marker, "TMPDIR": str(self.tmp)}

    def leaks(self, marker: str, settle_s: float = 2.0) -> list[str]:
        for _ in range(max(1, round(settle_s / 0.1))):  # let the last exits settle
            found = [f"process {p}" for p in processes_with(marker)]
            shm = sorted(n for n in _shm() if marker in n)
            left = sorted(self.tmp.rglob("*"))
            if not (shm or left or found):
                return []
            time.sleep(0.1)
        found += [f"/dev/shm/{n}" for n in shm]
        return found + [f"left in TMPDIR: {p.relative_to(self.tmp)}" for p in left]


def _shm() -> set[str]:
    try:
        return set(os.listdir("/dev/shm"))
    except FileNotFoundError:
        return set()


def unmarked_shm(before: set[str], settle_s: float = 2.0) -> list[str]:
    """/dev/shm entries that appeared since ``before`` and carry no job's marker (a job's own
    are checked with the job), once they have had ``settle_s`` to go away. A heap file of a
    live process that is not ours (``pym-PID-*``: another program's multiprocessing) is not
    counted; a dead one's is."""
    deadline = time.monotonic() + settle_s
    while True:
        new = sorted(n for n in _shm() - before if SEM_PREFIX[1:] not in n and not _foreign(n))
        if not new or time.monotonic() >= deadline:
            return new
        time.sleep(0.1)


def _foreign(name: str) -> bool:
    """Whether a ``pym-PID-*`` entry belongs to a running process outside the matrix."""
    match = re.match(r"pym-(\d+)-", name)
    if not match:
        return False
    try:
        return MARKER_ENV not in psutil.Process(int(match.group(1))).environ()
    except (psutil.Error, OSError):
        return False


def adopt_marker() -> None:
    """In a job's sweep process: name our semaphores after the job's marker (drivers are
    forked from here and inherit it), so /dev/shm can be checked job by job."""
    marker = os.environ.get(MARKER_ENV)
    if marker:
        config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
        config["semprefix"] = f"{SEM_PREFIX}{marker}"


def processes_with(marker: str) -> list[str]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARKER_ENV) == marker:
                found.append(f"{proc.pid} {proc.status()} {' '.join(proc.cmdline())[:60]}")
        except (psutil.Error, OSError):
            continue
    return found


def stderr_problems(stderr: str) -> list[str]:
    """Lines that say something went wrong; a traceback as its first line and what it raised
    (its last line), so the cell names the error."""
    bad = ("Traceback", "resource_tracker", "leaked")
    lines = stderr.splitlines()
    found = []
    for i, line in enumerate(lines):
        if not any(b in line for b in bad):
            continue
        text = line.strip()[:120]
        if line.startswith("Traceback"):
            end = next((j for j in range(i + 1, len(lines)) if not lines[j].startswith(" ")), i)
            text += f" ... {lines[end].strip()[:200]}" if end > i else ""
        found.append(text)
    return found


# --- batch scenarios (injected and external faults): one sweep per scenario x start method ---


@dataclass
class Cell:
    scenario: str
    start_method: str
    case: str
    ok: bool
    problem: str = ""
    job_s: float = 0.0  # how long the job that ran this cell took (it may run several)


def run_batch(
    scenario: str,
    start_method: str,
    timeout_s: float,
    work: Path,
    cases: Sequence[Case] | None = None,
) -> list[Cell]:
    """One sweep of ``cases`` (default: every case the scenario applies to) with the fault."""
    if cases is None:
        cases = [c for c in all_cases(start_method) if applies(scenario, c)]
    if not cases:
        return []
    if EXPECTED[scenario][0] != "timeout":
        timeout_s = SLOW_TIMEOUT_S  # only hung cases should meet the watchdog
    spec: dict[str, Any] = {
        "scenario": scenario,
        "start_method": start_method,
        "timeout_s": timeout_s,
        "out": str(work / "results"),
        "report": str(work / "report.json"),
        "cases": [c.params() for c in cases],
    }
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec))
    marker = new_marker()
    before = Snapshot(work / "tmp")
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(spec_path)],
        capture_output=True,
        text=True,
        env=before.env(marker),
        timeout=len(cases) * (timeout_s + 30) + 60,
    )
    shared = stderr_problems(proc.stderr) + before.leaks(marker)
    if proc.returncode != 0:
        shared.append(f"sweep exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    report = json.loads(Path(spec["report"]).read_text()) if proc.returncode == 0 else {}
    shared += [f"left running at the end: {p}" for p in report.get("children", [])]
    rows = read_rows(Path(report["csv"])) if report else []
    return [_check_case(scenario, start_method, c, rows, report, timeout_s, shared) for c in cases]


def _check_case(
    scenario: str,
    start_method: str,
    case: Case,
    rows: list[dict[str, str]],
    report: dict[str, Any],
    timeout_s: float,
    shared: list[str],
) -> Cell:
    mine = [r for r in rows if key_of(r) == key_of(case.params())]
    status, text = expected(scenario, case)
    problems = list(shared)
    if not mine:
        problems.append("no row for the case (lost)")
    elif mine[-1]["status"] != status or text not in mine[-1]["error"]:
        problems.append(f"{mine[-1]['status']}: {mine[-1]['error'][:150]}")
    seconds = report.get("seconds", {}).get(case.label())
    if (
        EXPECTED[scenario][0] == "timeout"
        and seconds is not None
        and seconds > timeout_s + MARGIN_S
    ):
        problems.append(f"timeout took {seconds:.1f} s (limit {timeout_s + MARGIN_S:g})")
    problem = "; ".join(problems)
    return Cell(scenario, start_method, label(case), not problems, problem)


def expected(scenario: str, case: Case) -> tuple[str, str]:
    """(status, text in the error) a cell must end with: a kill fault in a worker thread
    kills its process, the case driver."""
    if scenario in ("kill", "consumer_kill") and transports.get(case.transport).in_threads:
        return ("crash", "case driver died")
    return EXPECTED[scenario]


def child_sweep(spec_path: str) -> int:
    """In the sweep process: run the cases (with the fault), kill from outside if asked."""
    from ipcbench.harness.runner import CaseOutcome, Runner

    adopt_marker()
    spec = json.loads(Path(spec_path).read_text())
    scenario = spec["scenario"]
    fault = scenario if scenario in INJECTED else ""
    settings = validate(
        {
            # "none": cases without a start method (thread baselines); the sweep needs one
            "start_methods": [] if spec["start_method"] == "none" else [spec["start_method"]],
            "timeout_s": spec["timeout_s"],
            "repeats": 3,
            "warmups": 1,
            # external faults land SETTLE_S after the processes are up: the batches must still
            # be running then (a stop after the last batch is done would leave the case ok;
            # seen with 0.6 s on a simplequeue fan); the case ends at the fault, not later
            "target_time_s": EXTERNAL_TARGET_S if scenario in EXTERNAL else 0.02,
            "out_dir": spec["out"],
            "quiet": True,
            "faults": (fault,) if fault else (),
        }
    )
    cases = [Case(**params, fault=fault) for params in spec["cases"]]
    seconds: dict[str, float] = {}

    running: list[Case] = []  # the case whose driver runs now, for the killer

    class TimedRunner(Runner):
        def run_case(self, case: Case, repeat: int = 0) -> CaseOutcome:
            running[:] = [case]
            outcome = super().run_case(case, repeat)
            seconds[case.label()] = outcome.seconds
            return outcome

    stop = threading.Event()
    killer = None
    if scenario in EXTERNAL:
        uses_manager = lambda: bool(running) and running[0].transport.startswith("manager_")  # noqa: E731
        killer = threading.Thread(
            target=_killer, args=(scenario, stop, SETTLE_S, uses_manager), daemon=True
        )
        killer.start()
    result = TimedRunner(settings, cases=cases).run()
    stop.set()
    children = [
        f"{p.pid} {p.status()} {' '.join(p.cmdline())[:60]}"
        for p in psutil.Process().children(recursive=True)
        if "resource_tracker" not in " ".join(p.cmdline())
    ]
    report = {"csv": str(result.paths.csv), "seconds": seconds, "children": children}
    Path(spec["report"]).write_text(json.dumps(report))
    return 0


def _killer(
    scenario: str,
    stop: threading.Event,
    settle_s: float = SETTLE_S,
    uses_manager: Callable[[], bool] | None = None,
) -> None:
    """SIGKILL (or SIGSTOP: it stops reading) one process of each case once its processes are
    up and running: a worker (the newest) or the Manager server (the oldest: it is started
    before the workers). Not during the case's setup, which would make an error of the setup
    instead of a crash of the running case (seen on a busy machine, where a spawned Manager
    server takes longer than ``settle_s`` to start and was the only process yet): with a
    Manager, a worker only once one has started besides it, the Manager only once a client is
    connected to it for good. ``uses_manager``: whether the running case has a Manager
    (default: the *_manager scenarios' cases do). Oldest and newest by start time, not pid
    (pids wrap around)."""
    me = psutil.Process()
    seen: dict[int, tuple[tuple[frozenset[int], bool], float]] = {}
    done: set[int] = set()
    manager = scenario.endswith("manager")
    with_manager = uses_manager or (lambda: manager)
    while not stop.is_set():
        for driver in me.children():
            if driver.pid in done:
                continue
            pids = _leaves(driver)
            if pids is None:
                continue
            by_age = _by_start_time(pids)
            state = (pids, manager and bool(by_age) and _in_use(by_age[0]))
            previous, since = seen.get(driver.pid, ((frozenset(), False), 0.0))
            if state != previous:
                seen[driver.pid] = (state, time.monotonic())
                continue
            ready = state[1] if manager else len(by_age) >= (2 if with_manager() else 1)
            if ready and time.monotonic() - since >= settle_s:
                victim = by_age[0] if manager else by_age[-1]
                os.kill(victim, signal.SIGKILL if scenario.startswith("kill") else signal.SIGSTOP)
                done.add(driver.pid)
        time.sleep(0.02)


def _by_start_time(pids: Iterable[int]) -> list[int]:
    """The processes oldest first (gone ones left out)."""
    started = []
    for pid in pids:
        try:
            started.append((psutil.Process(pid).create_time(), pid))
        except (psutil.Error, OSError):
            continue
    return [pid for _, pid in sorted(started)]


def _in_use(pid: int) -> bool:
    """Whether a Manager server has a client connected: its listener and one more socket."""
    try:
        proc = psutil.Process(pid)
        sockets = getattr(proc, "net_connections", None) or proc.connections
        return len(sockets(kind="unix")) >= 2
    except (psutil.Error, OSError):
        return False


def _leaves(driver: psutil.Process) -> frozenset[int] | None:
    """The case's worker and Manager processes (leaves of the driver's tree, no forkserver)."""
    try:
        if os.getpgid(driver.pid) != driver.pid:
            return None  # not a case driver (the resource tracker)
        found = set()
        for proc in driver.children(recursive=True):
            cmd = " ".join(proc.cmdline())
            if "forkserver" in cmd and proc.ppid() == driver.pid:
                continue
            if "resource_tracker" in cmd or proc.children():
                continue
            found.add(proc.pid)
        return frozenset(found)
    except (psutil.Error, OSError):
        return None


# --- signal scenarios: the command line, interrupted, then resumed ---------------------------


# ``ipcbench`` as the command line runs it, with the job's semaphore names (see cli_child).
CLI = [sys.executable, __file__, "--cli"]


def cli_child(argv: Sequence[str]) -> int:
    """``python -m ipcbench ARGS`` with the job's marker in its semaphore names."""
    from ipcbench.cli import main

    adopt_marker()
    return main(list(argv))


def new_marker() -> str:
    return uuid.uuid4().hex[:12]


def sweep_args(case: Case) -> list[str]:
    cls = transports.get(case.transport)
    args = ["-t", case.transport, "-p", case.pattern]
    multi_op = len(cls.ops.get(case.pattern, ())) > 1
    args += ["-s", "64" if multi_op else "64,1K", "--producers", "2", "--consumers", "2"]
    args += ["--rates", "50%"] if case.pattern == "rate" else []
    args += ["--maxsize", "0"] if cls.uses_maxsize else []
    args += ["--calls", case.call] if case.call else []
    args += ["--start-methods", case.start_method] if case.start_method else []
    return [*args, "--repeats", "3", "--warmups", "0", "--target-time", "0.2", "--seed", "1"]


def run_signal(scenario: str, case: Case, work: Path) -> list[Cell]:
    """Interrupt a sweep of this transport x pattern mid-case, check, resume it, check."""
    sm = case.start_method or "none"
    name = label(case)
    marker = new_marker()
    before = Snapshot(work / "tmp")
    env = before.env(marker)
    base = [*CLI, "run"]
    out = work / "results"
    cmd = [*base, *sweep_args(case), "-o", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    csv_path = _wait_for_a_finished_case(out, proc)
    time.sleep(0.4)  # into the next case
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT if scenario == "sigint" else signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
    took = time.monotonic() - sent
    problems = stderr_problems(stderr) + before.leaks(marker)
    if took > SIGNAL_EXIT_S:
        problems.append(f"exited after {took:.1f} s")
    if proc.returncode == 0:
        problems.append("exit status 0")
    rows = _valid_rows(csv_path, problems)
    if rows is not None and not rows:
        problems.append("no finished case in the CSV")
    cells = [Cell(scenario, sm, name, not problems, "; ".join(problems))]
    if csv_path is not None:
        cells.append(run_resume(case, csv_path, rows or [], env, marker))
    return cells


def _wait_for_a_finished_case(out: Path, proc: subprocess.Popen[str]) -> Path | None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        found = [p for p in out.rglob("*.csv") if not p.name.endswith(SAMPLES_SUFFIXES)]
        if found and len(found[0].read_bytes().splitlines()) > 1:
            return found[0]
        time.sleep(0.05)
    found = list(out.rglob("*.csv"))
    return found[0] if found else None


def _valid_rows(csv_path: Path | None, problems: list[str]) -> list[dict[str, str]] | None:
    if csv_path is None:
        problems.append("no CSV written")
        return None
    try:
        rows = read_rows(csv_path)
        with open(csv_path, newline="") as fh:
            if len(list(csv.reader(fh))) != len(rows) + 1:
                problems.append("CSV has stray lines")
        return rows
    except Exception as exc:  # an invalid CSV is the failure being looked for
        problems.append(f"CSV invalid: {exc}")
        return None


def run_resume(
    case: Case, csv_path: Path, before_rows: list[dict[str, str]], env: dict[str, str], marker: str
) -> Cell:
    before = Snapshot(Path(env["TMPDIR"]))
    proc = subprocess.run(
        [*CLI, "run", "--resume", str(csv_path), "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    problems = stderr_problems(proc.stderr) + before.leaks(marker)
    if proc.returncode != 0:
        problems.append(f"resume exited {proc.returncode}: {proc.stderr.strip()[-200:]}")
    rows = _valid_rows(csv_path, problems) or []
    expected = _expected_keys(case)
    repeats = Counter((key_of(r), r["repeat"]) for r in rows)
    found = {k for k, _ in repeats}
    if found != expected:
        problems.append(f"cases in the CSV: {len(found)}, expected {len(expected)}")
    if any(n > 1 for n in repeats.values()):
        problems.append("a case ran twice")
    if rows[: len(before_rows)] != before_rows:
        problems.append("rows written before the interruption changed")
    if len({r["run_id"] for r in rows}) != 1:
        problems.append("more than one run id")
    return Cell(
        "resume", case.start_method or "none", label(case), not problems, "; ".join(problems)
    )


def _expected_keys(case: Case) -> set[tuple[str, ...]]:
    from ipcbench.cli import build_parser
    from ipcbench.harness.settings import build_settings

    args = build_parser().parse_args(["run", *sweep_args(case)])
    keys = ("transports", "patterns", "sizes", "producers", "consumers", "rates", "maxsize")
    options = {k: getattr(args, k) for k in (*keys, "start_methods")}
    return {key_of(c.params()) for c in expand(build_settings(options))}


# --- which cells: the plan, a seeded sample of it ------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One cell to run: a scenario on a case (a signal cell brings its resume cell along)."""

    scenario: str
    case: Case

    @property
    def start_method(self) -> str:
        return self.case.start_method or "none"


def signal_cases(start_methods: Sequence[str], quick: bool) -> list[Case]:
    """Every transport x pattern x op x calling style once, start methods taken in turn."""
    seen: dict[tuple[str, str, str, str], Case] = {}
    for case in all_cases(start_methods[0]):
        seen.setdefault((case.transport, case.pattern, case.op, case.call), case)
    picked = []
    for i, case in enumerate(seen.values()):
        if quick and i % 4:
            continue
        method = start_methods[i % len(start_methods)] if case.start_method else ""
        picked.append(Case(**{**case.params(), "start_method": method}))
    return picked


def plan(
    scenarios: Sequence[str],
    start_methods: Sequence[str],
    quick: bool = False,
    keep: Callable[[Case], bool] = lambda case: True,
) -> list[Planned]:
    """Every cell of the matrix for these scenarios and start methods, derived from the
    transport and pattern registries (through ``expand``): a new transport or pattern joins
    by being registered. ``keep`` filters cases (--transports, --patterns)."""
    cells = [
        Planned(scenario, case)
        for scenario in scenarios
        if scenario in (*INJECTED, *EXTERNAL)
        for i, method in enumerate(start_methods)
        for case in all_cases(method)
        if applies(scenario, case) and keep(case) and (case.start_method or i == 0)
    ]  # cases without a start method (thread baselines) once, not once per method
    for scenario in (s for s in scenarios if s in SIGNALS):
        cells += [Planned(scenario, c) for c in signal_cases(start_methods, quick) if keep(c)]
    return cells


def sample(cells: Sequence[Planned], n: int, seed: int) -> list[Planned]:
    """``n`` cells picked with ``seed``, in plan order: one of every scenario first, then any.
    The same seed picks the same cells."""
    if n >= len(cells):
        return list(cells)
    rng = random.Random(seed)
    by_scenario: dict[str, list[int]] = {}
    for i, cell in enumerate(cells):
        by_scenario.setdefault(cell.scenario, []).append(i)
    picked = {rng.choice(indices) for indices in by_scenario.values()}
    picked = set(rng.sample(sorted(picked), min(n, len(picked))))
    rest = [i for i in range(len(cells)) if i not in picked]
    picked.update(rng.sample(rest, n - len(picked)))
    return [cells[i] for i in sorted(picked)]


# --- jobs: how cells are run, several at a time ---------------------------------------------


@dataclass
class Job:
    """Cells run by one process tree: a sweep of up to CHUNK_CASES cases of one batch scenario
    and start method, or one signal cell (the command line, interrupted, then resumed)."""

    scenario: str
    start_method: str
    cases: list[Case]

    @property
    def waits(self) -> bool:
        """Its cases mostly wait for the watchdog: it hardly uses a CPU."""
        return self.scenario in WAITING

    def cost_s(self, timeout_s: float) -> float:
        """A rough length, to start the long jobs first."""
        if self.scenario in SIGNALS:
            return 10.0
        per_case_s = timeout_s + 1.5 if self.waits else 1.5
        return per_case_s * len(self.cases)

    def run(self, work: Path, timeout_s: float, scenarios: Sequence[str]) -> list[Cell]:
        started = time.monotonic()
        try:
            if self.scenario in SIGNALS:
                cells = run_signal(self.scenario, self.cases[0], work)
                cells = [c for c in cells if c.scenario in scenarios]
            else:
                cells = run_batch(self.scenario, self.start_method, timeout_s, work, self.cases)
        except Exception as exc:  # a bug or a hung sweep: every cell of the job failed
            why = f"job failed: {type(exc).__name__}: {str(exc)[:200]}"
            sm = self.start_method
            cells = [Cell(self.scenario, sm, label(c), False, why) for c in self.cases]
        for cell in cells:
            cell.job_s = round(time.monotonic() - started, 2)
        return cells


def jobs_for(cells: Sequence[Planned]) -> list[Job]:
    groups: dict[tuple[str, str], list[Case]] = {}
    jobs = []
    for cell in cells:
        if cell.scenario in SIGNALS:
            jobs.append(Job(cell.scenario, cell.start_method, [cell.case]))
        else:
            groups.setdefault((cell.scenario, cell.start_method), []).append(cell.case)
    for (scenario, method), cases in groups.items():
        for i in range(0, len(cases), CHUNK_CASES):
            jobs.append(Job(scenario, method, cases[i : i + CHUNK_CASES]))
    return jobs


def run_jobs(
    jobs: list[Job],
    run: Callable[[int, Job], list[Cell]],
    max_jobs: int,
    cpu_jobs: int,
    done: Callable[[list[Cell]], None],
    cost: Callable[[Job], float],
) -> None:
    """Run ``run(i, job)`` for every job, longest first: up to ``max_jobs`` at once, of which
    at most ``cpu_jobs`` are ones that keep CPUs busy (the others wait for watchdogs)."""
    pending = sorted(enumerate(jobs), key=lambda item: -cost(item[1]))
    running: dict[Future[list[Cell]], Job] = {}
    cpu_jobs = max(1, cpu_jobs)  # 0 would never start a CPU-bound job
    with ThreadPoolExecutor(max_workers=max(1, max_jobs)) as pool:
        while pending or running:
            while len(running) < max(1, max_jobs):
                busy = sum(not j.waits for j in running.values())
                fits = [k for k, (_, j) in enumerate(pending) if j.waits or busy < cpu_jobs]
                if not fits:
                    break
                i, job = pending.pop(fits[0])
                running[pool.submit(run, i, job)] = job
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                running.pop(future)
                done(future.result())


# --- main ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated (default: all)"
    )
    parser.add_argument("--start-methods", default=",".join(START_METHODS), help="(default: all)")
    parser.add_argument("-t", "--transports", help="only these transports (comma-separated)")
    parser.add_argument("-p", "--patterns", help="only these patterns (comma-separated)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=HANG_TIMEOUT_S,
        help=f"--timeout of hung cases (default {HANG_TIMEOUT_S:g} s)",
    )
    parser.add_argument("--quick", action="store_true", help="fork only, a sample of signals")
    parser.add_argument(
        "--sample", type=int, metavar="N", help="run N cells picked at random (every scenario)"
    )
    parser.add_argument("--seed", type=int, help="seed of --sample (default: a new one)")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    parser.add_argument(
        "--jobs",
        type=int,
        default=3 * cpus,
        help="jobs at once (default: 3 x CPUs); 1 runs them one after another",
    )
    parser.add_argument(
        "--cpu-jobs",
        type=int,
        default=cpus,
        help="of which jobs that keep CPUs busy (default: the CPUs); the rest wait on timeouts",
    )
    parser.add_argument("--list", action="store_true", help="print the cells and stop")
    parser.add_argument("--json", type=Path, help="write every cell here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--cli"]:
        return cli_child(argv[1:])
    args = build_parser().parse_args(argv)
    if args.child:
        return child_sweep(args.child)
    scenarios = args.scenarios.split(",")
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        build_parser().error(f"unknown scenarios {unknown}; valid: {','.join(SCENARIOS)}")
    methods = ["fork"] if args.quick else args.start_methods.split(",")
    cells = plan(scenarios, methods, args.quick, _case_filter(args.transports, args.patterns))
    total = len(cells)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    if args.sample is not None:
        cells = sample(cells, args.sample, seed)
    print(_plan_line(cells, total, args, seed), flush=True)
    if args.list:
        for c in cells:
            print(f"{c.scenario:<13} {c.start_method:<10} {label(c.case)}")
        return 0
    results = run_matrix(cells, scenarios, args.timeout, args.jobs, args.cpu_jobs)
    _summary(results.cells, results.seconds, total, args.sample is not None, seed)
    if args.json:
        args.json.write_text(json.dumps([c.__dict__ for c in results.cells], indent=1))
    return 0 if all(c.ok for c in results.cells) else 1


@dataclass
class MatrixResult:
    cells: list[Cell]
    seconds: float


def run_matrix(
    planned: Sequence[Planned],
    scenarios: Sequence[str],
    timeout_s: float,
    max_jobs: int,
    cpu_jobs: int,
    echo: bool = True,
) -> MatrixResult:
    """Run the cells, printing each as its job ends; then look for unmarked /dev/shm entries."""
    cells: list[Cell] = []
    lock = threading.Lock()
    started = time.monotonic()
    shm_before = _shm()
    jobs = jobs_for(planned)

    def done(part: list[Cell]) -> None:
        with lock:
            cells.extend(part)
            if echo:
                _print(part)

    with tempfile.TemporaryDirectory(prefix="fault-matrix-") as tmp:
        work = Path(tmp)
        run_jobs(
            jobs,
            lambda i, job: job.run(_fresh(work, f"j{i}"), timeout_s, scenarios),
            max_jobs,
            cpu_jobs,
            done,
            lambda job: job.cost_s(timeout_s),
        )
    for name in unmarked_shm(shm_before):
        why = f"/dev/shm/{name} appeared during the run and stayed (no job's marker)"
        done([Cell("leftover", "none", "(whole run)", False, why)])
    return MatrixResult(cells, time.monotonic() - started)


def _case_filter(transports_csv: str | None, patterns_csv: str | None) -> Callable[[Case], bool]:
    wanted_t = set(transports_csv.split(",")) if transports_csv else None
    wanted_p = set(patterns_csv.split(",")) if patterns_csv else None

    def keep(case: Case) -> bool:
        return (wanted_t is None or case.transport in wanted_t) and (
            wanted_p is None or case.pattern in wanted_p
        )

    return keep


def _plan_line(cells: list[Planned], total: int, args: argparse.Namespace, seed: int) -> str:
    what = f"{len(cells)} of {total} cells" if len(cells) < total else f"all {total} cells"
    if args.sample is not None:
        what += f" (sample, seed {seed}: --sample {args.sample} --seed {seed} repeats it)"
    return f"fault matrix: {what}; {args.jobs} jobs at once, {args.cpu_jobs} CPU-bound"


def _fresh(work: Path, name: str) -> Path:
    path = work / name
    path.mkdir()
    return path


def _print(cells: Iterable[Cell]) -> None:
    for c in cells:
        mark = "ok  " if c.ok else "FAIL"
        extra = f"  {c.problem}" if c.problem else ""
        print(f"{mark} {c.scenario:<13} {c.start_method:<10} {c.case}{extra}", flush=True)


def _summary(cells: list[Cell], seconds: float, total: int, sampled: bool, seed: int) -> None:
    """Counts per scenario, then the matrix size, the failed cells again, and the verdict."""
    cases = {re.sub(r" (fork|spawn|forkserver)\b", "", c.case) for c in cells}
    pairs = {tuple(c.split()[:2]) for c in cases if not c.startswith("(")}
    failed = [c for c in cells if not c.ok]
    print()
    for scenario in (*SCENARIOS, "leftover"):
        mine = [c for c in cells if c.scenario == scenario]
        if mine:
            bad = sum(not c.ok for c in mine)
            print(f"  {scenario:<13} {len(mine):>4} cells  {len(mine) - bad:>4} ok  {bad} failed")
    methods = ",".join(sorted({c.start_method for c in cells} - {"none"}))
    scope = f"a sample (seed {seed}) of {total}" if sampled else f"all {total}"
    print(
        f"{len(cells)} cells ({scope} planned cells, each signal cell with its resume cell) = "
        f"{len({c.scenario for c in cells})} scenarios x {len(cases)} cases ({len(pairs)} "
        f"transport x pattern pairs of {len({p[0] for p in pairs})} transports; ops and "
        f"maxsizes apart) x start methods {methods}, where each applies; "
        f"{len(cells) - len(failed)} ok, {len(failed)} failed; {seconds / 60:.1f} min"
    )
    if failed:
        print(f"failed cells ({len(failed)}):")
        _print(failed)
    else:
        print(
            "every cell: nothing lost (CSV valid, every case present once) and nothing left "
            "running (no process or zombie, /dev/shm entry, TMPDIR file, resource-tracker "
            "warning, traceback); statuses as expected"
        )


if __name__ == "__main__":
    sys.exit(main())
