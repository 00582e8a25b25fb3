"""The runner (supervisor): schedules cases, watches each under a deadline, writes results.

Each case runs in a forked driver process that leads its own process group, so everything
the case started (workers, Manager server, forkserver) can be ended together with one
``killpg`` -- after a timeout, a crash, or Ctrl-C -- and reaped. Rows are written and
fsynced after every case, so an interrupted sweep keeps everything it finished.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from ipcbench.errors import IpcbenchError
from ipcbench.harness import adaptive, allocator, pythons
from ipcbench.harness.driver import drive
from ipcbench.harness.progress import Progress
from ipcbench.harness.resume import ResumeState
from ipcbench.harness.settings import Settings
from ipcbench.harness.sweep import expand
from ipcbench.measure.memory import peak_rss_mib
from ipcbench.params import Case
from ipcbench.results import interpreter, metadata
from ipcbench.results.schema import SCHEMA_VERSION, EndMessage, RowMessage, TrackerMessage
from ipcbench.results.store import ResultWriter, RunStore

GRACE_S = 3.0  # after SIGTERM, time for a driver to clean up before SIGKILL
STOP_GRACE_S = 2.0  # Ctrl-C/SIGTERM: time for the running case to clean up (exit within 5 s)
MIN_FREE_BYTES = 50 * 1024**2
PR_SET_CHILD_SUBREAPER = 36
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes; keep a margin
SOCKET_PATH_ROOM = len("/ipcbench-12345678/pymp-12345678/listener-12345678")


class Interrupted(Exception):
    """Ctrl-C or SIGTERM reached the runner."""


@dataclass
class CaseOutcome:
    case: Case
    rows: list[dict[str, Any]]
    samples: dict[str, bytes] = field(default_factory=dict)
    status: str = "ok"
    error: str = ""
    seconds: float = 0.0


@dataclass
class RunResult:
    paths: RunStore
    rows: list[dict[str, Any]]
    interrupted: bool = False


def time_use(rows: list[dict[str, Any]], wall_s: float) -> dict[str, float | None]:
    """Where this invocation's wall time went: ``timed_s`` is the sum of the measured batches
    (the rows' ``elapsed_s``), the rest is process start, calibration, warm-up, cleanup and
    bookkeeping; and the runner's own peak RSS."""
    timed_s = sum(float(r["elapsed_s"]) for r in rows if r.get("elapsed_s"))
    return {
        "wall_s": round(wall_s, 3),
        "timed_s": round(timed_s, 3),
        "timed_share": round(timed_s / wall_s, 4) if wall_s > 0 else None,
        "runner_peak_rss_mib": peak_rss_mib(),
    }


def prepare_out_dir(out_dir: str, machine_id: str) -> Path:
    """Create results/<machine-id>/ and check it is writable with room to spare, up front."""
    folder = Path(out_dir) / machine_id
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IpcbenchError(
            f"cannot write results to {folder}: {exc.strerror or exc}; pass a writable --out DIR"
        ) from None
    check_folder(folder)
    return folder


def check_folder(
    folder: Path,
    fix: str = "pass a writable --out DIR",
    fix_space: str = "free space or pass --out DIR",
) -> None:
    """Refuse, before any case runs, a results folder we cannot write or that is nearly full."""
    try:
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as exc:
        raise IpcbenchError(
            f"cannot write results to {folder}: {exc.strerror or exc}; {fix}"
        ) from None
    if shutil.disk_usage(folder).free < MIN_FREE_BYTES:
        raise IpcbenchError(f"less than 50 MiB free in {folder}; {fix_space}")


def create_run_files(folder: Path, attempts: int = 1000) -> RunStore:
    """Claim a new run's CSV name exclusively (``RunStore.claim_new``)."""
    return RunStore.claim_new(folder, metadata.utc_stamp, attempts)


def _become_subreaper() -> None:
    """Orphaned grandchildren of a killed driver are reparented to us, so we can reap them."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


class _Signals:
    """SIGINT/SIGTERM -> ``Interrupted`` in the runner, once, and never inside a critical section.

    A signal arriving while a driver is being started or reaped, or while a finished case is
    being written, is held and raised when that section ends, so a started driver is always
    reaped and a finished case is always written whole. After the first signal, further ones
    are ignored: the cleanup that follows must not be cut short (it is bounded: exit < 5 s).
    """

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None
        self.fired = False

    def handler(self, signum: int, frame: Any) -> None:
        if self.fired:
            return
        if self.depth:
            self.pending = signum
            return
        self.fire(signum)

    def fire(self, signum: int) -> None:
        self.fired = True
        raise Interrupted(signal.Signals(signum).name)

    @contextlib.contextmanager
    def deferred(self, hold: bool = False) -> Iterator[None]:
        """Hold signals in the body; raise one that came at the end (unless ``hold``)."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not hold and not self.depth and self.pending is not None and not self.fired:
            self.fire(self.pending)


_signals = _Signals()


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    global _signals
    _signals = _Signals()
    old_int = signal.signal(signal.SIGINT, _signals.handler)
    old_term = signal.signal(signal.SIGTERM, _signals.handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def interrupted_by_signal() -> bool:
    """Whether the current (or last) run was ended by SIGINT/SIGTERM."""
    return _signals.fired


def _deferred_signals(hold: bool = False) -> contextlib.AbstractContextManager[None]:
    return _signals.deferred(hold)


@contextlib.contextmanager
def _private_tmpdir() -> Iterator[None]:
    """TMPDIR for the sweep: drivers, Manager servers and forkservers put their sockets and
    ``pymp-*`` folders here, and it is removed at the end, so a case killed with SIGKILL (which
    cannot clean up) leaves no files behind either."""
    base = tempfile.gettempdir()
    if len(base) + SOCKET_PATH_ROOM > MAX_SOCKET_PATH:
        base = "/tmp"  # a Unix socket path holds 107 bytes: stay short
    if len(base) + SOCKET_PATH_ROOM > MAX_SOCKET_PATH or not os.access(base, os.W_OK):
        yield  # leave TMPDIR alone
        return
    folder = tempfile.mkdtemp(prefix="ipcbench-", dir=base)
    old_env, old_cached = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = folder
    mp_config = getattr(multiprocessing.current_process(), "_config", {})
    old_mp_dir = mp_config.pop("tempdir", None)  # drivers would inherit this one, not ours
    try:
        yield
    finally:
        if old_mp_dir is not None:
            mp_config["tempdir"] = old_mp_dir
        tempfile.tempdir = old_cached
        if old_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old_env
        shutil.rmtree(folder, ignore_errors=True)


class Runner:
    """Runs a sweep; ``run()`` returns the rows written and the paths of the files."""

    def __init__(
        self,
        settings: Settings,
        cases: list[Case] | None = None,
        resume: ResumeState | None = None,
    ) -> None:
        self.settings = settings
        self.interpreters = pythons.find_all(settings.pythons)  # refusals before anything runs
        self.cases = cases if cases is not None else expand_pythons(expand(settings), self)
        self.resume = resume
        if resume is None:
            self.seed = settings.seed if settings.seed is not None else random.randrange(2**31)
            self.run_id = uuid.uuid4().hex[:12]
            self.meta = {**metadata.collect(), "allocator": allocator.description()}
        else:  # the run's identity and machine facts come from the interrupted run
            resume.check_settings(settings)
            _check_same_interpreters(resume, self.interpreters)
            self.seed, self.run_id, self.meta = resume.seed, resume.run_id, resume.run_meta()
        self.machine_id = self.meta["machine_id"]
        self.logical_cpus = self.meta["logical_cpus"]
        self._row_counter = resume.last_row_number if resume is not None else 0
        self._fork = multiprocessing.get_context("fork")
        self._n_messages: dict[Case, int] = {}  # calibrated in a case's first ok run
        self._offered_per_s: dict[Case, float] = {}  # rate: a relative load, in msgs/s
        self._ended: set[Case] = set()  # cases not run again: failed or skipped
        self._envs: dict[str, pythons.Environment] = {}  # python tag -> where its cases run
        self._trackers: set[int] = set()  # resource trackers of exec'd drivers, to reap
        self._adaptive_lines: list[str] = []  # --repeats auto: what the run reached
        self._started = time.monotonic()

    def run(self) -> RunResult:
        if not self.cases:
            raise IpcbenchError(
                "no case applies to the chosen transports and patterns; "
                "see 'ipcbench list' for what each transport supports"
            )
        self._started = time.monotonic()  # --budget counts from here
        self._prepare_environments()  # before any file is claimed: a refusal leaves nothing
        paths, schedule = self._open_run()  # refusals first: before any warning or note
        new_run = self.resume is None
        try:
            _become_subreaper()
            _start_resource_tracker()
            _import_sessions(self.cases)
            writer = paths.writer(resume=not new_run, claimed=new_run)
        except BaseException:  # Ctrl-C before the first byte: leave no empty run behind
            if new_run:
                paths.remove_if_unstarted()
            raise
        rows: list[dict[str, Any]] = []
        progress = Progress(len(schedule), quiet=self.settings.quiet)
        interrupted = False
        try:
            with _private_tmpdir(), _interruptible():
                try:
                    for case, repeat in schedule:
                        if case in self._ended:  # failed or skipped in an earlier round
                            progress.drop()
                            continue
                        self._run_one(case, repeat, writer, paths, progress, rows)
                    if self.settings.adaptive:
                        self._adaptive_rounds(writer, paths, progress, rows)
                except Interrupted:
                    interrupted = True
        finally:
            with contextlib.suppress(OSError):  # a full disk: the error above says so
                writer.close()
            progress.close()
            self._reap_trackers(wait_s=2.0)
        previous = self.resume.rows if self.resume is not None else []
        noisy = [self.meta["noise_warning"]] if self.meta.get("noise_warning") else []
        stability = _stability_warnings([*previous, *rows])
        self.meta["warnings"] = noisy + self._adaptive_lines + stability
        self.meta["time_use"] = time_use(rows, time.monotonic() - self._started)
        self._write_meta(paths, finished=not interrupted)
        return RunResult(paths=paths, rows=rows, interrupted=interrupted)

    def _run_one(
        self,
        case: Case,
        repeat: int,
        writer: ResultWriter,
        paths: RunStore,
        progress: Progress,
        rows: list[dict[str, Any]],
    ) -> None:
        progress.start(self._label(case, repeat))
        outcome = self.run_case(case, repeat)
        with _deferred_signals():  # a finished case run is written whole
            _write_case(writer, paths, outcome)
            rows.extend(outcome.rows)
            self._note_outcome(outcome)
            progress.done(outcome.status, outcome.seconds)

    def _adaptive_rounds(
        self, writer: ResultWriter, paths: RunStore, progress: Progress, rows: list[dict[str, Any]]
    ) -> None:
        """--repeats auto: after the first rounds, one more round at a time for the cases not
        settled yet (``adaptive.judge``), in a new seeded shuffle each, until every case is
        settled or at the cap, or the budget (counted from the start of the run; the first
        rounds always run) is spent; the outcome goes in the metadata."""
        s = self.settings
        started = self._started
        previous = self.resume.rows if self.resume is not None else []
        repeats = _repeat_counts(self.cases, [*previous, *rows])
        round_no = s.first_rounds
        verdicts = adaptive.judge(self._live_cases(), [*previous, *rows], s.precision)
        while True:
            pending = [
                v.case for v in verdicts if not v.settled and repeats.get(v.case, 0) < s.max_repeats
            ]
            if not pending or self._over_budget(started):
                break
            random.Random(f"{self.seed}-{round_no}").shuffle(pending)
            progress.add(len(pending))
            for case in pending:
                if case in self._ended or self._over_budget(started):
                    progress.drop()
                    continue
                repeat = repeats.get(case, 0)
                self._run_one(case, repeat, writer, paths, progress, rows)
                repeats[case] = repeat + 1
            round_no += 1
            verdicts = adaptive.judge(self._live_cases(), [*previous, *rows], s.precision)
        self.meta["adaptive"] = {
            "precision": s.precision,
            "max_repeats": s.max_repeats,
            "budget_s": s.budget_s,
            "cases": len(verdicts),
            "settled": sum(v.settled for v in verdicts),
            "rounds": round_no,
        }
        self._adaptive_lines = adaptive.summary_lines(verdicts, s.max_repeats, s.precision)

    def _live_cases(self) -> list[Case]:
        return [c for c in self.cases if c not in self._ended]

    def _over_budget(self, started: float) -> bool:
        budget = self.settings.budget_s
        return budget is not None and time.monotonic() - started >= budget

    def _prepare_environments(self) -> None:
        """An environment per interpreter of --pythons (built or reused from the cache)."""
        cases = self.cases
        needed = pythons.requirements(
            {c.transport for c in cases}, {c.payload_kind for c in cases}, {c.op for c in cases}
        )
        for interp in self.interpreters:
            env = pythons.prepare(interp, needed, quiet=self.settings.quiet)
            self._envs[interp.tag] = env
            for note in env.notes:
                if not self.settings.quiet:
                    print(f"note: {note}", file=sys.stderr, flush=True)
        if self.interpreters:
            self.meta["pythons"] = {
                i.tag: {**i.facts, "spec": i.spec, "environment": self._envs[i.tag].python}
                for i in self.interpreters
            }

    def _reap_trackers(self, wait_s: float = 0.0) -> None:
        """Reap the resource trackers of exec'd drivers that have ended (each ends once the
        last process of its case has gone); wait up to ``wait_s`` for the rest."""
        deadline = time.monotonic() + wait_s
        while self._trackers:
            for pid in list(self._trackers):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:  # not (or no longer) ours
                    done = pid
                if done:
                    self._trackers.discard(pid)
            if not self._trackers or time.monotonic() >= deadline:
                return
            time.sleep(0.02)

    def _warn_if_noisy(self) -> None:
        """One line (and a note in the metadata) when other programs keep the CPUs busy; not
        checked with --quiet (it watches the CPUs for a quarter of a second)."""
        if self.settings.quiet:
            return
        warning = metadata.noise_warning()
        self.meta["noise_warning"] = warning
        if warning and not self.settings.quiet:
            print(f"warning: {warning}", file=sys.stderr, flush=True)

    def _label(self, case: Case, repeat: int) -> str:
        if self.settings.adaptive:
            return f"{case.label()} [repeat {repeat + 1}, auto]"
        if self.settings.repeats == 1:
            return case.label()
        return f"{case.label()} [repeat {repeat + 1}/{self.settings.repeats}]"

    def _note_outcome(self, outcome: CaseOutcome) -> None:
        """Keep the calibrated message count (and a relative rate load's msgs/s) for the case's
        later rounds; a case that did not end ok is not run again (its row says why)."""
        if outcome.status != "ok":
            self._ended.add(outcome.case)
            return
        for row in outcome.rows:
            self._n_messages.setdefault(outcome.case, int(row["n_messages"]))
            if row.get("offered_per_s"):  # rate (used where the load is relative)
                self._offered_per_s.setdefault(outcome.case, float(row["offered_per_s"]))

    def _open_run(self) -> tuple[RunStore, list[tuple[Case, int]]]:
        """The run's files (checked writable up front) and its schedule; when resuming, the
        existing files and only the case runs missing from them."""
        order = schedule(self.cases, self.settings.first_rounds, self.seed)
        if self.resume is None:
            folder = prepare_out_dir(self.settings.out_dir, self.machine_id)  # refusals first
            self._warn_if_noisy()
            paths = create_run_files(folder)  # claimed after the 0.25 s look at the CPUs
        else:
            paths, folder = self.resume.paths, self.resume.paths.csv.parent
            check_folder(folder, f"make {folder} writable", "free space there, then resume")
            self._warn_if_noisy()
            total = len(order)
            order = self.resume.remaining(order)
            self._ended.update(self.resume.ended(self.cases))
            self._n_messages.update(self.resume.n_messages(self.cases))
            self._offered_per_s.update(self.resume.offered_rates(self.cases))
            notes = self.resume.repair()
            notes.append(
                f"resuming run {self.run_id}: {total - len(order)} of {total} case runs "
                f"(cases x repeats) are in {paths.csv.name} already"
            )
            for note in notes:
                if not self.settings.quiet:
                    print(f"note: {note}", file=sys.stderr)
        self._write_meta(paths, finished=False)
        return paths, order

    def _write_meta(self, paths: RunStore, finished: bool) -> None:
        meta = dict(self.meta)
        meta.update(
            schema_version=SCHEMA_VERSION,
            run_id=self.run_id,
            seed=self.seed,
            config=self.settings.config(),
            start_methods_used=sorted({c.start_method for c in self.cases if c.start_method}),
            n_cases=len(self.cases),
            finished=finished,
        )
        paths.write_meta(meta)

    def run_case(self, case: Case, repeat: int = 0) -> CaseOutcome:
        """Run one repeat of a case in a driver process under the watchdog; always reaps its
        group. The first ok run of a case calibrates the message count (and measures the
        maximum a relative rate load is a share of); later ones reuse it."""
        started = time.monotonic()
        report_r, report_w = self._fork.Pipe(duplex=False)
        driver = self._driver(case, repeat, report_w)
        outcome = CaseOutcome(case=case, rows=[])
        try:
            with _deferred_signals():  # Ctrl-C cannot fall between fork and the finally below
                _start_driver(driver, report_w)
            self._collect(driver, report_r, outcome, started + self.settings.timeout_s)
        finally:
            with _deferred_signals(hold=True):  # reap in full; a signal now stops after writing
                _end_group(driver, asked=outcome.status == "timeout")
                report_r.close()
        self._reap_trackers()
        outcome.seconds = time.monotonic() - started
        if outcome.status != "ok":  # a failed run has one row, saying why (no figure)
            outcome.rows = [self._row(case, {"repeat": repeat}, outcome.status, outcome.error)]
            outcome.samples.clear()
        return outcome

    def _driver(self, case: Case, repeat: int, report_w: Any) -> Any:
        """A forked driver, or under --pythons one exec'd by that interpreter's python."""
        n_messages, offered_per_s = self._n_messages.get(case), self._offered_per_s.get(case)
        if case.python:
            exec_args = (case, self.settings, repeat, n_messages, offered_per_s)
            return ExecDriver(self._envs[case.python].python, exec_args, report_w)
        args = (case, self.settings, report_w, repeat, n_messages, offered_per_s)
        return self._fork.Process(target=drive, args=args, name="ipcbench-driver")

    def _collect(self, driver: Any, report: Any, outcome: CaseOutcome, deadline: float) -> None:
        """Read the driver's messages until it ends the case, dies, or misses the deadline."""
        watched = [report, driver.sentinel]
        terminated = False
        while True:
            ready = wait(watched, timeout=max(0.0, deadline - time.monotonic()))
            if report in ready:
                try:
                    if self._handle(report.recv(), outcome):
                        return
                    continue
                except EOFError:
                    watched = [driver.sentinel]  # nothing more will come; wait for the exit
                    continue
            if ready:  # the driver exited without ending the case
                if outcome.status == "ok":
                    code = driver.exitcode
                    outcome.status = "crash"
                    outcome.error = f"case driver died (exit code {code})"
                return
            if terminated:
                return
            outcome.status = "timeout"
            outcome.error = f"no result within --timeout {self.settings.timeout_s:g} s"
            _signal(driver.pid, signal.SIGTERM)  # the driver cleans up, then we kill the group
            terminated, deadline = True, time.monotonic() + GRACE_S

    def _handle(self, msg: RowMessage | EndMessage, outcome: CaseOutcome) -> bool:
        """Record one driver message; True when the case has ended."""
        if isinstance(msg, TrackerMessage):
            self._trackers.add(msg.pid)
            return False
        if isinstance(msg, RowMessage):
            row = self._row(outcome.case, msg.fields, "ok", "")
            outcome.rows.append(row)
            if msg.samples:
                outcome.samples[row["row_id"]] = msg.samples
            return False
        if outcome.status == "ok":  # a watchdog timeout stays a timeout
            outcome.status, outcome.error = msg.status, msg.error
        return True

    def _row(self, case: Case, fields: dict[str, Any], status: str, error: str) -> dict[str, Any]:
        self._row_counter += 1
        row: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "row_id": f"{self.run_id}-{self._row_counter}",
            "machine_id": self.machine_id,
            "logical_cpus": self.logical_cpus,
            **case.params(),
            "status": status,
            "error": " ".join(error.split())[:500],
            **self._interpreter_facts(case),
        }
        row.update(fields)
        return row

    def _interpreter_facts(self, case: Case) -> dict[str, Any]:
        """The facts of the case's interpreter, as found before the sweep (a row the driver
        measured carries the driver's own, which override these)."""
        for interp in self.interpreters:
            if interp.tag == case.python:
                return {col: interp.facts.get(col) for col in interpreter.facts()}
        return interpreter.facts()


def _check_same_interpreters(resume: ResumeState, found: list[pythons.Interpreter]) -> None:
    """Refuse to resume a --pythons run when a version now names another interpreter."""
    measured = resume.meta.get("pythons") or {}
    for interp in found:
        before = (measured.get(interp.tag) or {}).get("python_version")
        if before and before != interp.version:
            raise IpcbenchError(
                f"cannot resume {resume.paths.csv}: Python {interp.tag} is now "
                f"{interp.version} ({interp.executable}), the run measured {before}; "
                "start a new run"
            )


def expand_pythons(cases: list[Case], runner: Runner) -> list[Case]:
    """Every case once per interpreter of --pythons (the case's ``python``: its tag)."""
    if not runner.interpreters:
        return cases
    return [dc_replace(case, python=i.tag) for i in runner.interpreters for case in cases]


class ExecDriver:
    """A case driver exec'd by another interpreter (``ipcbench.harness.exec_driver``), with
    the part of ``multiprocessing.Process``'s interface the runner uses: start, pid,
    sentinel, exitcode, join."""

    def __init__(self, python: str, args: tuple[Any, ...], report_w: Any) -> None:
        self.python, self.args, self.report_w = python, args, report_w
        self.popen: subprocess.Popen[bytes] | None = None
        self.sentinel = -1

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    @property
    def exitcode(self) -> int | None:
        return self.popen.poll() if self.popen is not None else None

    def start(self) -> None:
        fd = self.report_w.fileno()
        command = [self.python, "-I", "-m", "ipcbench.harness.exec_driver", str(fd)]
        self.popen = subprocess.Popen(command, stdin=subprocess.PIPE, pass_fds=(fd,))
        self.sentinel = os.pidfd_open(self.popen.pid)
        assert self.popen.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # died at once: its exit code says why
            self.popen.stdin.write(pickle.dumps(self.args, protocol=4))
        with contextlib.suppress(BrokenPipeError):
            self.popen.stdin.close()

    def join(self, timeout: float | None = None) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)
        if self.popen.returncode is not None and self.sentinel >= 0:
            os.close(self.sentinel)
            self.sentinel = -1


def _repeat_counts(cases: list[Case], rows: list[dict[str, Any]]) -> dict[Case, int]:
    """Per case, the number of its next repeat: one more than its highest so far."""
    from ipcbench.results.schema import case_key

    highest: dict[tuple[str, ...], int] = {}
    for row in rows:
        key = case_key(row)
        highest[key] = max(highest.get(key, -1), int(float(row.get("repeat") or 0)))
    keys = {case: case_key(case.params()) for case in cases}
    return {case: highest[key] + 1 for case, key in keys.items() if key in highest}


def schedule(cases: list[Case], repeats: int, seed: int) -> list[tuple[Case, int]]:
    """Round-major order: every case once per round, in a fresh seeded shuffle each round,
    so slow drifts of the machine spread over all cases instead of landing on a few."""
    rng = random.Random(seed)
    runs: list[tuple[Case, int]] = []
    for repeat in range(repeats):
        order = list(cases)
        rng.shuffle(order)
        runs.extend((case, repeat) for case in order)
    return runs


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _start_driver(driver: Any, report_w: Any) -> None:
    try:
        driver.start()
    finally:
        report_w.close()
    with contextlib.suppress(OSError):  # also done by the driver; whoever is first
        os.setpgid(driver.pid or 0, driver.pid or 0)


def _end_group(driver: Any, asked: bool = False) -> None:
    """Kill whatever is left in the driver's process group and reap it all.

    A driver still running (Ctrl-C, SIGTERM) is first asked to clean up with SIGTERM -- shut its
    Manager down, unlink its semaphores -- for STOP_GRACE_S, unless it was ``asked`` already
    (the watchdog's timeout)."""
    if driver.pid is None:
        return  # never started
    driver.join(0.5 if driver.exitcode is None else 0)
    if driver.exitcode is None and not asked:
        _signal(driver.pid, signal.SIGTERM)
        driver.join(STOP_GRACE_S)
    pgid = driver.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    driver.join(5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return  # nothing of that group is (any longer) our child
        if pid == 0:
            time.sleep(0.01)


def _write_case(writer: ResultWriter, paths: RunStore, outcome: CaseOutcome) -> None:
    """Append a finished case; a full disk or I/O error stops the sweep with one line."""
    try:
        writer.write_case(outcome.rows, outcome.samples)
    except OSError as exc:
        raise IpcbenchError(
            f"cannot write results to {paths.csv}: {exc.strerror or exc}; every case before "
            f"this one is saved: free space, then 'ipcbench run --resume {paths.csv}'"
        ) from None


def _import_sessions(cases: list[Case]) -> None:
    """Import each pattern's code once here, so forked drivers inherit it: imported lazily
    in every driver it cost 5-11 ms per case run (wall time, outside the clock). So do the
    transports' libraries (``unavailable_reason`` imports them): pyzmq took ~23 ms and
    faster-fifo ~7 ms per case run of theirs. Nothing is started by an import."""
    from ipcbench import transports
    from ipcbench.measure import patterns

    for name in sorted({case.pattern for case in cases}):
        patterns.get(name)
    for name in sorted({case.transport for case in cases}):
        with contextlib.suppress(Exception):  # the driver reports it as the case's outcome
            transports.get(name).unavailable_reason()


def _start_resource_tracker() -> None:
    """Drivers inherit one resource tracker, so semaphores of a killed case are still freed."""
    with contextlib.suppress(Exception):
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()


def _stability_warnings(rows: list[dict[str, Any]]) -> list[str]:
    try:
        from ipcbench.analysis.stats import stability_warnings
    except ImportError:
        return []
    return list(stability_warnings(rows))
