"""The runner (supervisor): schedules cases, watches each under a deadline, writes results.

Each case runs in a forked driver process that leads its own process group, so everything
the case started (workers, Manager server, forkserver) can be ended together with one
``killpg`` -- after a timeout, a crash, or Ctrl-C -- and reaped. Rows are written and
fsynced after every case, so an interrupted sweep keeps everything it finished.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import multiprocessing
import os
import random
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from ipcbench import metadata
from ipcbench.driver import drive
from ipcbench.errors import IpcbenchError
from ipcbench.params import Case
from ipcbench.progress import Progress
from ipcbench.results import SCHEMA_VERSION, ResultWriter, RunPaths
from ipcbench.sweep import Settings, expand

GRACE_S = 3.0  # after SIGTERM, time for a driver to clean up before SIGKILL
MIN_FREE_BYTES = 50 * 1024**2
PR_SET_CHILD_SUBREAPER = 36


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
    paths: RunPaths
    rows: list[dict[str, Any]]
    interrupted: bool = False


def prepare_out_dir(out_dir: str, machine_id: str) -> Path:
    """Create results/<machine-id>/ and check it is writable with room to spare, up front."""
    folder = Path(out_dir) / machine_id
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as exc:
        raise IpcbenchError(
            f"cannot write results to {folder}: {exc.strerror or exc}; pass a writable --out DIR"
        ) from None
    if shutil.disk_usage(folder).free < MIN_FREE_BYTES:
        raise IpcbenchError(f"less than 50 MiB free in {folder}; free space or pass --out DIR")
    return folder


def new_run_paths(folder: Path) -> RunPaths:
    stamp = metadata.utc_stamp()
    paths = RunPaths.for_csv(folder / f"{stamp}.csv")
    suffix = 1
    while paths.csv.exists():  # never overwrite: two runs in one second get -1, -2, ...
        paths = RunPaths.for_csv(folder / f"{stamp}-{suffix}.csv")
        suffix += 1
    return paths


def _become_subreaper() -> None:
    """Orphaned grandchildren of a killed driver are reparented to us, so we can reap them."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(signal.Signals(signum).name)


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    old_int = signal.signal(signal.SIGINT, _raise_interrupted)
    old_term = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


class Runner:
    """Runs a sweep; ``run()`` returns the rows written and the paths of the files."""

    def __init__(self, settings: Settings, cases: list[Case] | None = None) -> None:
        self.settings = settings
        self.cases = cases if cases is not None else expand(settings)
        self.seed = settings.seed if settings.seed is not None else random.randrange(2**31)
        self.run_id = uuid.uuid4().hex[:12]
        self.meta = metadata.collect()
        self.machine_id = self.meta["machine_id"]
        self.logical_cpus = self.meta["logical_cpus"]
        self._row_counter = 0
        self._fork = multiprocessing.get_context("fork")

    def run(self) -> RunResult:
        if not self.cases:
            raise IpcbenchError(
                "no case applies to the chosen transports and patterns; "
                "see 'ipcbench list' for what each transport supports"
            )
        folder = prepare_out_dir(self.settings.out_dir, self.machine_id)
        paths = new_run_paths(folder)
        self._write_meta(paths, finished=False)
        order = list(self.cases)
        random.Random(self.seed).shuffle(order)
        _become_subreaper()
        _start_resource_tracker()
        rows: list[dict[str, Any]] = []
        progress = Progress(len(order), quiet=self.settings.quiet)
        interrupted = False
        with ResultWriter(paths) as writer, _interruptible():
            try:
                for case in order:
                    progress.start(case.label())
                    outcome = self.run_case(case)
                    writer.write_case(outcome.rows, _decode_samples(outcome.samples))
                    rows.extend(outcome.rows)
                    progress.done(outcome.status, outcome.seconds)
            except Interrupted:
                interrupted = True
        progress.close()
        self.meta["warnings"] = _stability_warnings(rows)
        self._write_meta(paths, finished=not interrupted)
        return RunResult(paths=paths, rows=rows, interrupted=interrupted)

    def _write_meta(self, paths: RunPaths, finished: bool) -> None:
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
        tmp = paths.meta.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, paths.meta)

    def run_case(self, case: Case) -> CaseOutcome:
        """Run one case in a driver process under the watchdog; always reaps its group."""
        started = time.monotonic()
        report_r, report_w = self._fork.Pipe(duplex=False)
        driver = self._fork.Process(
            target=drive, args=(case, self.settings, report_w), name="ipcbench-driver"
        )
        driver.start()
        report_w.close()
        with contextlib.suppress(OSError):
            os.setpgid(
                driver.pid or 0, driver.pid or 0
            )  # also done by the driver; whoever is first
        outcome = CaseOutcome(case=case, rows=[])
        try:
            self._collect(driver, report_r, outcome, started + self.settings.timeout_s)
        finally:
            _end_group(driver)
            report_r.close()
        outcome.seconds = time.monotonic() - started
        if outcome.status != "ok":
            outcome.rows.append(
                self._row(case, {"repeat": len(outcome.rows)}, outcome.status, outcome.error)
            )
        return outcome

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

    def _handle(self, msg: tuple[Any, ...], outcome: CaseOutcome) -> bool:
        """Record one driver message; True when the case has ended."""
        if msg[0] == "row":
            _, fields, samples = msg
            row = self._row(outcome.case, fields, "ok", "")
            outcome.rows.append(row)
            if samples:
                outcome.samples[row["row_id"]] = samples
            return False
        _, status, error = msg
        if outcome.status == "ok":  # a watchdog timeout stays a timeout
            outcome.status, outcome.error = status, error
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
        }
        row.update(fields)
        return row


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _end_group(driver: Any) -> None:
    """Kill whatever is left in the driver's process group and reap it all."""
    driver.join(0.5 if driver.exitcode is None else 0)
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


def _start_resource_tracker() -> None:
    """Drivers inherit one resource tracker, so semaphores of a killed case are still freed."""
    with contextlib.suppress(Exception):
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()


def _decode_samples(samples: dict[str, bytes]) -> dict[str, Any]:
    from array import array

    decoded = {}
    for row_id, raw in samples.items():
        values = array("q")
        values.frombytes(raw)
        decoded[row_id] = values
    return decoded


def _stability_warnings(rows: list[dict[str, Any]]) -> list[str]:
    try:
        from ipcbench.stats import stability_warnings
    except ImportError:
        return []
    return list(stability_warnings(rows))
