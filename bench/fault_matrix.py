"""Fault matrix: every failure scenario x transport x pattern, with real processes.

Scenarios (each on every case it applies to; a case = transport x pattern x op):

* injected in the children at message 1 (``Settings.faults``): ``kill`` (SIGKILL itself),
  ``consumer_kill`` (fan/taskqueue consumers), ``hang`` (stops reading), ``raise``;
* from outside, mid-case: ``kill_worker`` / ``kill_manager`` (SIGKILL to a worker or to the
  Manager server), ``stop_worker`` / ``stop_manager`` (SIGSTOP: it stops reading);
* to the runner: ``sigint`` and ``sigterm`` during a case, each followed by ``resume``
  (``ipcbench run --resume``) -- these go through the command line.

Every cell checks "nothing lost": the CSV parses, every case run has its rows (the failed one
with the expected status and message, a hung one within --timeout + MARGIN_S), and after a
resume every case is there exactly once under the same run id. And "nothing left running":
no process carrying the cell's marker in its environment, no new /dev/shm entry, no new
pymp-*/ipcbench-* temp folder, no zombie child, no resource-tracker warning and no traceback
on stderr.

    python bench/fault_matrix.py                         # all of it (~25 min on 2 cores)
    python bench/fault_matrix.py --quick                 # fork only, signals on a sample
    python bench/fault_matrix.py --scenarios kill,hang --start-methods spawn

Run it on a machine where nothing else creates /dev/shm entries or temp folders meanwhile:
those would be counted as leaks. Exit code 0 when every cell passed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ipcbench import transports
from ipcbench.params import Case
from ipcbench.results import PARAM_COLUMNS, read_rows
from ipcbench.sweep import expand, validate

MARKER_ENV = "IPCBENCH_MATRIX_MARKER"
MARGIN_S = 5.0  # a hung case must end within --timeout + this (cleanup, loaded machine)
SLOW_TIMEOUT_S = 60.0  # --timeout where no case should hang (a loaded machine starts slowly)
# Known misreports: the status is off, but nothing is lost and nothing is left running.
# * faster_fifo: a worker killed from outside while it holds the queue's process-shared lock
#   leaves the driver blocked in C, where no signal reaches it: timeout instead of crash.
KNOWN_ISSUES = {
    re.compile(r"^no result within --timeout"): "faster_fifo",
}
SIGNAL_EXIT_S = 5.0
SETTLE_S = 0.4  # external kills: the case's processes unchanged this long = running
INJECTED = ("kill", "consumer_kill", "hang", "raise")
EXTERNAL = ("kill_worker", "kill_manager", "stop_worker", "stop_manager")
SIGNALS = ("sigint", "sigterm")
SCENARIOS = (*INJECTED, *EXTERNAL, *SIGNALS, "resume")
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
    """One case per transport x pattern x op (x backpressure maxsize) at 64 B."""
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
    if scenario in ("kill_worker", "stop_worker"):
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
    """OS resources a run could leave behind, taken before it. The run gets its own TMPDIR
    (``tmp``), so every file left there is the run's; /dev/shm is shared with the machine."""

    tmp: Path
    shm: set[str] = field(default_factory=lambda: _shm())

    def env(self, marker: str) -> dict[str, str]:
        self.tmp.mkdir(exist_ok=True)
        return {**os.environ, MARKER_ENV: marker, "TMPDIR": str(self.tmp)}

    def leaks(self, marker: str) -> list[str]:
        found = [f"process {p}" for p in processes_with(marker)]
        for _ in range(20):  # let the last exits settle
            new_shm, left = _shm() - self.shm, sorted(self.tmp.rglob("*"))
            if not (new_shm or left or found):
                return []
            time.sleep(0.1)
        found += [f"/dev/shm/{n}" for n in sorted(new_shm)]
        return found + [f"left in TMPDIR: {p.relative_to(self.tmp)}" for p in left]


def _shm() -> set[str]:
    try:
        return set(os.listdir("/dev/shm"))
    except FileNotFoundError:
        return set()


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
    bad = ("Traceback", "resource_tracker", "leaked")
    return [line.strip()[:120] for line in stderr.splitlines() if any(b in line for b in bad)]


# --- batch scenarios (injected and external faults): one sweep per scenario x start method ---


@dataclass
class Cell:
    scenario: str
    start_method: str
    case: str
    ok: bool
    problem: str = ""
    known: bool = False  # the status is off in a known way; nothing lost, nothing left


def run_batch(scenario: str, start_method: str, timeout_s: float, work: Path) -> list[Cell]:
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
    marker = uuid.uuid4().hex
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
    status, text = EXPECTED[scenario]
    problems = list(shared)
    known = False
    if not mine:
        problems.append("no row for the case (lost)")
    elif mine[-1]["status"] != status or text not in mine[-1]["error"]:
        known = not problems and any(
            pattern.search(mine[-1]["error"]) and transport in case.transport
            for pattern, transport in KNOWN_ISSUES.items()
        )
        problems.append(f"{mine[-1]['status']}: {mine[-1]['error'][:150]}")
    seconds = report.get("seconds", {}).get(case.label())
    if (
        EXPECTED[scenario][0] == "timeout"
        and seconds is not None
        and seconds > timeout_s + MARGIN_S
    ):
        problems.append(f"timeout took {seconds:.1f} s (limit {timeout_s + MARGIN_S:g})")
    problem = "; ".join(problems)
    return Cell(scenario, start_method, label(case), not problems, problem, known)


def child_sweep(spec_path: str) -> int:
    """In the sweep process: run the cases (with the fault), kill from outside if asked."""
    from ipcbench.runner import CaseOutcome, Runner

    spec = json.loads(Path(spec_path).read_text())
    scenario = spec["scenario"]
    fault = scenario if scenario in INJECTED else ""
    settings = validate(
        {
            "start_methods": [spec["start_method"]],
            "timeout_s": spec["timeout_s"],
            "repeats": 3,
            "warmups": 1,
            "target_time_s": 0.6 if scenario in EXTERNAL else 0.02,
            "out_dir": spec["out"],
            "quiet": True,
            "faults": (fault,) if fault else (),
        }
    )
    cases = [Case(**params, fault=fault) for params in spec["cases"]]
    seconds: dict[str, float] = {}

    class TimedRunner(Runner):
        def run_case(self, case: Case, repeat: int = 0) -> CaseOutcome:
            outcome = super().run_case(case, repeat)
            seconds[case.label()] = outcome.seconds
            return outcome

    stop = threading.Event()
    killer = None
    if scenario in EXTERNAL:
        killer = threading.Thread(target=_killer, args=(scenario, stop), daemon=True)
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


def _killer(scenario: str, stop: threading.Event, settle_s: float = SETTLE_S) -> None:
    """SIGKILL (or SIGSTOP: it stops reading) one process of each case once its processes are
    up and running: a worker (the newest) or the Manager server (the oldest: it is started
    before the workers)."""
    me = psutil.Process()
    seen: dict[int, tuple[frozenset[int], float]] = {}
    done: set[int] = set()
    while not stop.is_set():
        for driver in me.children():
            if driver.pid in done:
                continue
            pids = _leaves(driver)
            if pids is None:
                continue
            previous, since = seen.get(driver.pid, (frozenset(), 0.0))
            if pids != previous:
                seen[driver.pid] = (pids, time.monotonic())
            elif pids and time.monotonic() - since >= settle_s:
                victim = min(pids) if scenario.endswith("manager") else max(pids)
                os.kill(victim, signal.SIGKILL if scenario.startswith("kill") else signal.SIGSTOP)
                done.add(driver.pid)
        time.sleep(0.02)


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


def sweep_args(case: Case) -> list[str]:
    cls = transports.get(case.transport)
    args = ["-t", case.transport, "-p", case.pattern]
    multi_op = len(cls.ops.get(case.pattern, ())) > 1
    args += ["-s", "64" if multi_op else "64,1K", "--producers", "2", "--consumers", "2"]
    args += ["--rates", "50%"] if case.pattern == "rate" else []
    args += ["--maxsize", "0"] if cls.uses_maxsize else []
    args += ["--start-methods", case.start_method] if case.start_method else []
    return [*args, "--repeats", "3", "--warmups", "0", "--target-time", "0.2", "--seed", "1"]


def run_signal(scenario: str, case: Case, work: Path) -> list[Cell]:
    """Interrupt a sweep of this transport x pattern mid-case, check, resume it, check."""
    sm = case.start_method or "none"
    name = label(case)
    marker = uuid.uuid4().hex
    before = Snapshot(work / "tmp")
    env = before.env(marker)
    base = [sys.executable, "-m", "ipcbench", "run"]
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
        found = [p for p in out.rglob("*.csv") if not p.name.endswith(".samples.csv.gz")]
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
        [sys.executable, "-m", "ipcbench", "run", "--resume", str(csv_path), "-q"],
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
    from ipcbench.sweep import build_settings

    args = build_parser().parse_args(["run", *sweep_args(case)])
    keys = ("transports", "patterns", "sizes", "producers", "consumers", "rates", "maxsize")
    options = {k: getattr(args, k) for k in (*keys, "start_methods")}
    return {key_of(c.params()) for c in expand(build_settings(options))}


# --- main ----------------------------------------------------------------------------------


def signal_cases(start_methods: Sequence[str], quick: bool) -> list[Case]:
    """Every transport x pattern x op once, start methods taken in turn."""
    seen: dict[tuple[str, str, str], Case] = {}
    for case in all_cases(start_methods[0]):
        seen.setdefault((case.transport, case.pattern, case.op), case)
    picked = []
    for i, case in enumerate(seen.values()):
        if quick and i % 4:
            continue
        method = start_methods[i % len(start_methods)] if case.start_method else ""
        picked.append(Case(**{**case.params(), "start_method": method}))
    return picked


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--start-methods", default="fork,spawn,forkserver")
    parser.add_argument("--timeout", type=float, default=2.0, help="--timeout of hung cases")
    parser.add_argument("--quick", action="store_true", help="fork only, a sample of signals")
    parser.add_argument("--json", type=Path, help="write every cell here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_sweep(args.child)
    scenarios = args.scenarios.split(",")
    methods = ["fork"] if args.quick else args.start_methods.split(",")
    cells: list[Cell] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fault-matrix-") as tmp:
        work = Path(tmp)
        for i, (scenario, method) in enumerate(
            (s, m) for s in scenarios if s in (*INJECTED, *EXTERNAL) for m in methods
        ):
            batch = run_batch(scenario, method, args.timeout, _fresh(work, f"b{i}"))
            _print(batch)
            cells += batch
        for scenario in (s for s in scenarios if s in SIGNALS):
            for j, case in enumerate(signal_cases(methods, args.quick)):
                part = run_signal(scenario, case, _fresh(work, f"{scenario}{j}"))
                _print(part)
                cells += [c for c in part if c.scenario in scenarios]
    _summary(cells, time.monotonic() - started)
    if args.json:
        args.json.write_text(json.dumps([c.__dict__ for c in cells], indent=1))
    return 0 if all(c.ok or c.known for c in cells) else 1


def _fresh(work: Path, name: str) -> Path:
    path = work / name
    path.mkdir()
    return path


def _print(cells: Iterable[Cell]) -> None:
    for c in cells:
        mark = "ok  " if c.ok else "KNOWN" if c.known else "FAIL"
        extra = f"  {c.problem}" if c.problem else ""
        print(f"{mark} {c.scenario:<13} {c.start_method:<10} {c.case}{extra}", flush=True)


def _summary(cells: list[Cell], seconds: float) -> None:
    """Counts per scenario, then the matrix size and the verdict."""
    cases = {re.sub(r" (fork|spawn|forkserver)\b", "", c.case) for c in cells}
    pairs = {tuple(c.split()[:2]) for c in cases}
    failed = [c for c in cells if not c.ok and not c.known]
    known = [c for c in cells if c.known]
    print()
    for scenario in SCENARIOS:
        mine = [c for c in cells if c.scenario == scenario]
        if mine:
            bad = sum(not c.ok and not c.known for c in mine)
            print(
                f"  {scenario:<13} {len(mine):>4} cells  {sum(c.ok for c in mine):>4} ok  "
                f"{sum(c.known for c in mine)} known  {bad} failed"
            )
    methods = ",".join(sorted({c.start_method for c in cells} - {"none"}))
    print(
        f"{len(cells)} cells = {len({c.scenario for c in cells})} scenarios x "
        f"{len(cases)} cases ({len(pairs)} transport x pattern pairs of "
        f"{len({p[0] for p in pairs})} transports; ops and maxsizes apart) x start methods "
        f"{methods}, where each applies; {len(cells) - len(failed) - len(known)} ok, "
        f"{len(known)} known, {len(failed)} failed; {seconds / 60:.1f} min"
    )
    if not failed:
        print(
            "every cell: nothing lost (CSV valid, every case present once) and nothing left "
            "running (no process or zombie, /dev/shm entry, TMPDIR file, resource-tracker "
            "warning, traceback); statuses as expected"
            + (f" except {len(known)} known misreports (error for crash)" if known else "")
        )


if __name__ == "__main__":
    sys.exit(main())
