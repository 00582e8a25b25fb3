"""Fault injection with real processes on a sample of the transport x pattern x start-method
matrix (the whole matrix: ``bench/fault_matrix.py``). Every test ends with the same checks:
the right status for every case, the sweep went on, and nothing is left behind -- no process
(worker, Manager server, forkserver; zombies included), no semaphore of ours in /dev/shm, no
file in TMPDIR, no resource-tracker warning."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import FAST, leftover_processes

from ipcbench.errors import IpcbenchError
from ipcbench.harness.runner import CaseOutcome, Runner
from ipcbench.harness.settings import build_settings
from ipcbench.params import Case
from ipcbench.results.store import read_rows

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import fault_matrix

MARGIN_S = fault_matrix.MARGIN_S
HANG_TIMEOUT_S = 1.5

# (transport, pattern, op, start method): every transport family, every pattern with children,
# every start method, each at least once per scenario.
KILL_SAMPLE = [
    ("pipe", "pingpong", "", "fork"),
    ("pipe_bytes", "stream", "", "spawn"),
    ("queue", "fan", "", "forkserver"),
    ("joinablequeue", "taskqueue", "", "fork"),
    ("simplequeue", "rate", "", "spawn"),
    ("manager_queue", "backpressure", "", "forkserver"),
    ("manager_dict", "shared_state", "dict_contended", "fork"),
    ("manager_list", "proxy_ops", "append", "spawn"),
    ("raw_socketpair", "pingpong", "", "forkserver"),
]
RAISE_SAMPLE = [
    ("pipe_oneway", "stream", "", "fork"),
    ("queue", "nowait", "nowait", "spawn"),
    ("joinablequeue", "backpressure", "", "forkserver"),
    ("manager_queue", "pingpong", "", "fork"),
    ("manager_dict", "proxy_ops", "get", "spawn"),
    ("raw_pipe", "stream", "", "forkserver"),
]
HANG_SAMPLE = [
    ("pipe", "rate", "", "fork"),
    ("simplequeue", "fan", "", "spawn"),
    ("manager_list", "shared_state", "list_append", "forkserver"),
]


@dataclasses.dataclass
class Isolation:
    tmp: Path
    marker: str
    out: Path


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Isolation]:
    """A private TMPDIR and a semaphore-name prefix, so leaks are ours and only ours (other
    test runs on the machine create /dev/shm entries too); checked after the test."""
    marker = uuid.uuid4().hex[:10]
    config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    monkeypatch.setitem(config, "semprefix", f"/mpt{marker}")
    tmp = Path(tempfile.mkdtemp(prefix="ipct-", dir="/tmp"))  # short: socket paths live here
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    yield Isolation(tmp=tmp, marker=marker, out=tmp_path / "results")
    try:
        assert leftover_processes() == []
        assert not [n for n in os.listdir("/dev/shm") if marker in n]
        assert sorted(tmp.rglob("*")) == []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sample_cases(sample: list[tuple[str, str, str, str]], fault: str) -> list[Case]:
    cases = []
    for transport, pattern, op, method in sample:  # op: the case's op or its calling style
        found = [
            c
            for c in fault_matrix.all_cases(method)
            if (c.transport, c.pattern) == (transport, pattern) and op in (c.op, c.call)
        ]
        assert found, (transport, pattern, op)
        cases.append(dataclasses.replace(found[0], fault=fault))
    return cases


class TimedRunner(Runner):
    """Records how long each case took (the watchdog's promise)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seconds: dict[str, float] = {}

    def run_case(self, case: Case, repeat: int = 0) -> CaseOutcome:
        outcome = super().run_case(case, repeat)
        self.seconds[case.label()] = outcome.seconds
        return outcome


def sweep(
    iso: Isolation, cases: list[Case], **options: Any
) -> tuple[dict[str, list[dict[str, str]]], TimedRunner]:
    """Run the cases in one sweep; rows per case label as read back from the CSV."""
    settings = build_settings({**FAST, "out": str(iso.out), **options})
    runner = TimedRunner(settings, cases=cases)
    result = runner.run()
    rows = read_rows(result.paths.csv)
    by_case: dict[str, list[dict[str, str]]] = {}
    for case in cases:
        key = fault_matrix.key_of(case.params())
        by_case[case.label()] = [r for r in rows if fault_matrix.key_of(r) == key]
    return by_case, runner


def assert_every_case(by_case: dict[str, list[dict[str, str]]], status: str, text: str) -> None:
    assert all(by_case.values()), "a case has no row: the sweep stopped or lost it"
    wrong = {k: (r[-1]["status"], r[-1]["error"][:120]) for k, r in by_case.items()}
    wrong = {k: v for k, v in wrong.items() if v[0] != status or text not in v[1]}
    assert wrong == {}


@pytest.mark.parametrize(
    ("fault", "sample"),
    [("kill", KILL_SAMPLE), ("raise", RAISE_SAMPLE)],
)
def test_injected_faults_end_each_case_and_the_sweep_goes_on(
    isolated: Isolation, fault: str, sample: list[tuple[str, str, str, str]]
) -> None:
    by_case, _ = sweep(isolated, sample_cases(sample, fault))
    assert_every_case(by_case, *fault_matrix.EXPECTED[fault])


def test_hung_children_time_out_within_the_timeout(isolated: Isolation) -> None:
    by_case, runner = sweep(isolated, sample_cases(HANG_SAMPLE, "hang"), timeout=HANG_TIMEOUT_S)
    assert_every_case(by_case, "timeout", "--timeout")
    assert max(runner.seconds.values()) < HANG_TIMEOUT_S + MARGIN_S, runner.seconds


def test_killed_consumer_of_a_task_queue_is_a_crash(isolated: Isolation) -> None:
    cases = sample_cases([("joinablequeue", "taskqueue", "", "spawn")], "consumer_kill")
    by_case, _ = sweep(isolated, cases)
    assert_every_case(by_case, "crash", "killed by signal 9")


@pytest.mark.parametrize(
    ("scenario", "sample"),
    [
        (
            "kill_manager",
            [
                ("manager_queue", "stream", "", "spawn"),
                ("manager_dict", "proxy_ops", "set", "forkserver"),
            ],
        ),
        ("kill_worker", [("queue", "lifecycle", "close_join", "fork")]),
        ("stop_worker", [("pipe", "pingpong", "", "spawn")]),
    ],
)
def test_processes_killed_or_stopped_from_outside(
    isolated: Isolation, scenario: str, sample: list[tuple[str, str, str, str]]
) -> None:
    """SIGKILL or SIGSTOP from outside, mid-case, to a worker or the Manager server."""
    stop = threading.Event()
    killer = threading.Thread(target=fault_matrix._killer, args=(scenario, stop, 0.15), daemon=True)
    killer.start()
    try:
        # 1.5 s batches: on a busy machine the killer (a thread polling psutil) missed the
        # 0.3 s ones, and the case ended ok
        by_case, runner = sweep(
            isolated, sample_cases(sample, ""), target_time=1.5, timeout=HANG_TIMEOUT_S + 1
        )
    finally:
        stop.set()
        killer.join()
    assert_every_case(by_case, *fault_matrix.EXPECTED[scenario])
    assert max(runner.seconds.values()) < HANG_TIMEOUT_S + 1 + MARGIN_S


def test_no_resource_tracker_warning_after_kills_and_hangs(tmp_path: Path) -> None:
    """Named semaphores (spawn, forkserver) of killed and timed-out cases are all unlinked by
    the cases themselves: the resource tracker, at exit, finds nothing to warn about."""
    script = textwrap.dedent(
        """
        import dataclasses, sys
        sys.path.insert(0, BENCH)
        import fault_matrix
        from ipcbench.harness.runner import Runner
        from ipcbench.harness.settings import build_settings
        picked = {
            ("kill", "spawn"): [("queue", "stream"), ("manager_queue", "pingpong"),
                                ("joinablequeue", "fan")],
            ("hang", "forkserver"): [("joinablequeue", "stream")],
        }
        cases = []
        for (fault, method), pairs in picked.items():
            for c in fault_matrix.all_cases(method):
                if (c.transport, c.pattern) in pairs:
                    cases.append(dataclasses.replace(c, fault=fault))
        settings = build_settings({"repeats": 2, "warmups": 0, "target_time": 0.005,
            "quiet": True, "timeout": 1.0, "out": OUT})
        rows = Runner(settings, cases=cases).run().rows
        assert sorted({r["status"] for r in rows}) == ["crash", "timeout"], rows
        """
    )
    script = script.replace("BENCH", repr(str(Path(fault_matrix.__file__).parent)))
    script = script.replace("OUT", repr(str(tmp_path)))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert fault_matrix.stderr_problems(out.stderr) == [], out.stderr


def test_the_child_that_failed_first_is_reported_not_its_peer(tmp_path: Path) -> None:
    """Deterministic form of a race seen in pipe fan cases (~1 in 8 under spawn): both children
    are dead before the watcher looks; the killed one must be reported."""
    from ipcbench import transports
    from ipcbench.measure.patterns.base import Children
    from ipcbench.measure.patterns.pingpong import Echo
    from ipcbench.transports.base import ChannelSpec
    from ipcbench.wire import make_payload

    ctx = multiprocessing.get_context("spawn")  # children hold only the ends given to them
    payload, check = make_payload("bytes", 64)
    spec = ChannelSpec(payload_bytes=64, payload=payload)
    children = Children(ctx)
    channels = [transports.get("pipe")().open(ctx, spec, duplex=True) for _ in range(2)]
    old_handler = signal.signal(signal.SIGUSR1, lambda *_: None)  # the watcher's wake-up call
    try:
        control = children.launch(Echo, channels[0].child, check, "object", None, "", 0)
        children.launch(Echo, channels[1].child, check, "object", None, "", 1)
        children.await_ready()
        for ch in channels:
            ch.child.close()
        children.procs[1].kill()  # child 1 is the one that fails ...
        children.procs[1].join(10)
        channels[0].parent.close()  # ... child 0 then reads EOF: a consequence
        control.send(("run", 1, 0))
        children.procs[0].join(10)
        assert children.procs[0].exitcode == 1 and children.procs[1].exitcode == -9
        children.watch()
        failure = children.wait_failure(10)
        assert failure is not None
        assert failure.status == "crash" and "killed by signal 9" in str(failure), failure
    finally:
        children.stop(graceful=False)
        for ch in channels:
            ch.close()
        signal.signal(signal.SIGUSR1, old_handler)


def _watch_in_fresh_process(transport: str, out: Any) -> None:
    """In a forked child of the test (one thread, as a driver): start a pingpong session,
    report its threads, kill its worker during a batch, report what ended the batch."""
    from ipcbench.measure.patterns import open_session
    from ipcbench.measure.patterns.base import ChildFailed, Placement

    def raise_failure(signum: int, frame: Any) -> None:
        if session.children.failure is not None:
            raise session.children.failure

    signal.signal(signal.SIGUSR1, raise_failure)
    case = Case(transport, "pingpong", 64)
    session = open_session(case, Placement(None, None), multiprocessing.get_context("fork"))
    threads = threading.active_count()
    try:
        session.run(10)
        worker = session.children.procs[0]
        # a killer that is a child too (no thread here), whose own exit signals SIGCHLD as well
        killer = subprocess.Popen(["sh", "-c", f"sleep 0.3; kill -9 {worker.pid}"])
        t0 = time.monotonic()
        try:
            session.run(10**6)  # about 10 s of round trips; blocks once the worker is gone
            ended = "batch ended"
        except ChildFailed as failure:
            ended = f"{failure.status}: {failure}"
        except (EOFError, OSError):  # its EOF came first: what the driver does then
            try:
                signal.signal(signal.SIGUSR1, signal.SIG_IGN)
                late = session.children.wait_failure(5.0)
            except ChildFailed as failure:  # SIGCHLD landed before SIG_IGN took: the driver's
                late = failure  # outer handler (driver._outcome) takes it the same way
            ended = f"{late.status}: {late}" if late else "EOF, no failure found"
        out.send((threads, ended, time.monotonic() - t0))
        killer.wait()
    finally:
        session.close(graceful=False)


@pytest.mark.parametrize(("transport", "threads"), [("pipe", 1), ("queue", 2)])
def test_a_worker_death_ends_the_batch_as_a_crash_with_or_without_a_watcher_thread(
    transport: str, threads: int
) -> None:
    """A session whose process has no other thread watches its workers by SIGCHLD (a watcher
    thread made the pipe 64 B round trip 2-3% slower); a Queue's, whose feeder thread could
    take the signal, by a thread. Either way a killed worker ends the batch as a crash,
    killed by signal 9, within seconds -- whether its EOF or the signal comes first. (That
    the signal interrupts a batch no EOF would end, a Manager queue's get, is shown by
    test_faults.py::test_killed_child_is_a_crash.)"""
    here, there = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(
        target=_watch_in_fresh_process, args=(transport, there)
    )
    child.start()
    there.close()  # a child that dies unreported is an EOF here, not a wait
    try:
        assert here.poll(30), "the session did not report"
        seen_threads, ended, waited_s = here.recv()
    finally:
        child.join(10)
    assert seen_threads == threads
    assert ended.startswith("crash:") and "killed by signal 9" in ended, ended
    assert waited_s < 5


# --- checked up front: results folder, disk space, memory --------------------------------


def ipcbench(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ipcbench", *args],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


# ``python -m ipcbench`` on a machine that looks noisy, whatever this one looks like: the
# refusals below must be the only line even then (a busy CI machine printed the warning first).
NOISY_CLI = textwrap.dedent(
    """
    import sys
    from ipcbench import cli
    from ipcbench.results import metadata
    metadata.noise_warning = lambda: "this machine looks noisy (made so by the test)"
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def ipcbench_noisy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", NOISY_CLI, *args], capture_output=True, text=True, timeout=120
    )


def test_noisy_cli_does_warn(tmp_path: Path) -> None:
    """The stand-in above does make a run warn (or the tests using it would prove nothing)."""
    out = ipcbench_noisy(
        "run", "-t", "memcpy", "-p", "stream", "-s", "8", "--repeats", "1", "--warmups", "0",
        "--target-time", "0.001", "-o", str(tmp_path),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "warning: this machine looks noisy (made so by the test)" in out.stderr


def assert_one_line_error(out: subprocess.CompletedProcess[str], text: str) -> None:
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert text in lines[0], lines[0]


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs; needs root), unmounted afterwards."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)])
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_is_refused_before_the_sweep(tiny_fs: Path) -> None:
    started = time.monotonic()
    out = ipcbench_noisy("run", "-t", "pipe", "-p", "pingpong", "-s", "64", "-o", str(tiny_fs))
    assert_one_line_error(out, "less than 50 MiB free")
    assert time.monotonic() - started < 30 and not list(tiny_fs.rglob("*.csv"))


def test_read_only_results_folder_is_refused_before_the_sweep(tiny_fs: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    out = ipcbench_noisy("run", "-t", "pipe", "-p", "pingpong", "-s", "64", "-o", str(tiny_fs))
    assert_one_line_error(out, "Read-only file system; pass a writable --out DIR")


def test_resuming_in_a_full_or_read_only_folder_is_refused(tiny_fs: Path, tmp_path: Path) -> None:
    settings = build_settings({**FAST, "out": str(tmp_path), "transports": "memcpy", "sizes": "8"})
    paths = Runner(settings).run().paths
    for path in (paths.csv, paths.meta, paths.samples):
        shutil.copy(path, tiny_fs / path.name)
    csv_path = tiny_fs / paths.csv.name
    before = csv_path.read_bytes()
    out = ipcbench_noisy("run", "--resume", str(csv_path))
    assert_one_line_error(out, "less than 50 MiB free")
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    out = ipcbench_noisy("run", "--resume", str(csv_path))
    assert_one_line_error(out, f"Read-only file system; make {tiny_fs} writable")
    assert csv_path.read_bytes() == before


def test_missing_results_folder_is_created_or_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = ipcbench_noisy("run", "-t", "memcpy", "-o", str(blocker / "results"))
    assert_one_line_error(out, "pass a writable --out DIR")
    out = ipcbench(
        "run",
        "-t",
        "memcpy",
        "-p",
        "stream",
        "-s",
        "64",
        "--repeats",
        "1",
        "--warmups",
        "0",
        "--target-time",
        "0.001",
        "-q",
        "-o",
        str(tmp_path / "new" / "deep" / "results"),
    )
    assert out.returncode == 0, out.stderr
    assert list((tmp_path / "new").rglob("*.csv"))


def test_disk_full_during_the_sweep_stops_with_one_line_and_keeps_finished_cases(
    isolated: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC on the third case: one line naming --resume; the CSV holds the two before it."""
    import errno

    from ipcbench.results.store import ResultWriter

    real = ResultWriter.write_case
    calls = {"n": 0}

    def write_case(self: ResultWriter, rows: Any, samples: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, rows, samples)

    monkeypatch.setattr(ResultWriter, "write_case", write_case)
    settings = build_settings(
        {**FAST, "out": str(isolated.out), "transports": "memcpy,pickle", "sizes": "8,64"}
    )
    with pytest.raises(IpcbenchError, match=r"No space left on device.*--resume") as info:
        Runner(settings).run()
    assert "\n" not in str(info.value)
    (csv_path,) = isolated.out.rglob("*.csv")
    rows = read_rows(csv_path)
    assert len(rows) == 2
    assert len({(r["payload_bytes"], r["transport"], r["pattern"]) for r in rows}) == 2


def test_payload_over_the_memory_budget_is_refused_up_front(tmp_path: Path) -> None:
    out = ipcbench("run", "-t", "pipe", "-s", "1G", "-o", str(tmp_path))
    assert_one_line_error(out, "over a quarter of RAM")
    assert not list(tmp_path.rglob("*.csv"))


def test_memory_budget_counts_the_processes_involved() -> None:
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    size = ram // 4 // 20  # 16 copies fit in a quarter of RAM; 17 processes x 4 do not
    with pytest.raises(IpcbenchError, match="quarter of RAM"):
        build_settings({"patterns": "fan", "sizes": str(size), "producers": "8", "consumers": "8"})


# --- the matrix itself: every registered pair in it, sampled, run in parallel jobs ---------


def registered_pairs() -> set[tuple[str, str]]:
    """Every transport x pattern the registries offer (nothing listed by hand)."""
    from ipcbench import transports
    from ipcbench.measure import patterns

    return {
        (cls.name, pattern)
        for cls in transports.all_transports()
        for pattern in patterns.names()
        if pattern in cls.patterns
    }


def test_every_registered_transport_and_pattern_is_in_the_matrix() -> None:
    from ipcbench import transports

    cells = fault_matrix.plan(fault_matrix.SCENARIOS, fault_matrix.START_METHODS)
    pairs = registered_pairs()
    for scenario in fault_matrix.SIGNALS:  # these apply to every case
        mine = {(c.case.transport, c.case.pattern) for c in cells if c.scenario == scenario}
        assert pairs - mine == set(), scenario
    for transport, pattern in pairs:  # every op of a pair, too
        ops = set(transports.get(transport).ops.get(pattern, ())) or {""}
        of_pair = [c for c in cells if (c.case.transport, c.case.pattern) == (transport, pattern)]
        assert ops <= {c.case.op for c in of_pair}, (transport, pattern)
    batch = [c for c in cells if c.scenario in (*fault_matrix.INJECTED, *fault_matrix.EXTERNAL)]
    for scenario in (*fault_matrix.INJECTED, *fault_matrix.EXTERNAL):
        assert any(c.scenario == scenario for c in batch), scenario
    in_batch = {(c.case.transport, c.case.pattern) for c in batch if c.case.start_method}
    for method in fault_matrix.START_METHODS:  # the batch scenarios run in every start method
        mine = {(c.case.transport, c.case.pattern) for c in batch if c.start_method == method}
        assert mine == in_batch, method
    threads = [c for c in batch if transports.get(c.case.transport).in_threads]
    assert threads and all(c.start_method == "none" for c in threads)  # once: no start method
    keys = [(c.scenario, c.case) for c in threads]
    assert len(keys) == len(set(keys))


def test_a_newly_registered_transport_joins_the_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    from ipcbench import transports
    from ipcbench.transports.base import Transport

    class NewTransport(Transport):
        name = "new_for_test"
        description = "registered by a test"
        patterns = ("pingpong", "stream")

    transports._load()
    monkeypatch.setitem(transports._REGISTRY, NewTransport.name, NewTransport)
    cells = fault_matrix.plan(fault_matrix.SCENARIOS, ["fork"])
    scenarios = {c.scenario for c in cells if c.case.transport == NewTransport.name}
    assert scenarios == {"kill", "hang", "raise", "kill_worker", "stop_worker", "sigint", "sigterm"}


def test_sample_is_seeded_and_covers_every_scenario() -> None:
    cells = fault_matrix.plan(fault_matrix.SCENARIOS, fault_matrix.START_METHODS)
    picked = fault_matrix.sample(cells, 30, seed=5)
    assert picked == fault_matrix.sample(cells, 30, seed=5)  # --seed repeats a sample
    assert picked != fault_matrix.sample(cells, 30, seed=6)
    assert len(picked) == len(set(picked)) == 30 and set(picked) <= set(cells)
    planned = {c.scenario for c in cells}
    assert {c.scenario for c in picked} == planned
    assert fault_matrix.sample(cells, len(cells) + 1, seed=1) == cells


def test_jobs_run_in_parallel_with_cpu_bound_ones_capped() -> None:
    cells = fault_matrix.plan(["kill", "hang"], ["fork"])
    jobs = fault_matrix.jobs_for(cells)
    assert all(len(j.cases) <= fault_matrix.CHUNK_CASES for j in jobs)
    assert sum(len(j.cases) for j in jobs) == len(cells)
    running: list[fault_matrix.Job] = []
    peak = {"all": 0, "busy": 0}
    lock = threading.Lock()

    def run(i: int, job: fault_matrix.Job) -> list[fault_matrix.Cell]:
        with lock:
            running.append(job)
            peak["all"] = max(peak["all"], len(running))
            peak["busy"] = max(peak["busy"], sum(not j.waits for j in running))
        time.sleep(0.02)
        with lock:
            running.remove(job)
        return [fault_matrix.Cell(job.scenario, "fork", str(i), True)]

    finished: list[fault_matrix.Cell] = []
    fault_matrix.run_jobs(jobs, run, 4, 1, finished.extend, lambda job: job.cost_s(2.0))
    assert sorted(int(c.case) for c in finished) == list(range(len(jobs)))
    assert peak == {"all": 4, "busy": 1}


def test_leak_check_sees_only_its_own_job(tmp_path: Path) -> None:
    """Parallel jobs: a job's check counts its own processes and /dev/shm entries, not those
    of a job running beside it (nor another program's)."""
    mine, theirs = fault_matrix.new_marker(), fault_matrix.new_marker()
    snapshot = fault_matrix.Snapshot(tmp_path / "tmp")
    env = snapshot.env(mine)
    entries = [Path(f"/dev/shm/sem{fault_matrix.SEM_PREFIX[1:]}{m}-test") for m in (mine, theirs)]
    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    procs = [
        subprocess.Popen(sleeper, env=env),
        subprocess.Popen(sleeper, env={**env, fault_matrix.MARKER_ENV: theirs}),
    ]
    try:
        for entry in entries:
            entry.write_bytes(b"")
        leaks = snapshot.leaks(mine, settle_s=0.1)
        assert [x for x in leaks if x.startswith("process")] == [
            x for x in leaks if str(procs[0].pid) in x
        ]
        assert len(leaks) == 2 and f"/dev/shm/{entries[0].name}" in leaks
        assert all(theirs not in x and str(procs[1].pid) not in x for x in leaks)
        procs[0].kill()
        procs[0].wait()
        entries[0].unlink()
        assert snapshot.leaks(mine) == []
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        for entry in entries:
            entry.unlink(missing_ok=True)


def test_matrix_script_runs_parallel_jobs_and_summarizes(tmp_path: Path) -> None:
    """The script end to end on two cells (two jobs at once): each ok, and the summary."""
    report = tmp_path / "cells.json"
    args = ["--scenarios", "raise,kill", "-t", "pipe", "-p", "pingpong", "--jobs", "2"]
    args += ["--start-methods", "fork", "--json", str(report)]
    out = subprocess.run(
        [sys.executable, fault_matrix.__file__, *args],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "fault matrix: all 2 cells" in out.stdout
    assert "2 cells (all 2 planned cells" in out.stdout and "2 ok, 0 failed" in out.stdout
    cells = json.loads(report.read_text())
    assert sorted(c["scenario"] for c in cells) == ["kill", "raise"]
    assert all(c["ok"] for c in cells)


def test_whole_run_check_finds_unmarked_leftovers_of_dead_processes() -> None:
    """What no job's marker names (a heap file of a killed process) is looked for at the end
    of the run; another live program's is not ours."""
    before = fault_matrix._shm()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    names = [f"pym-{dead}-{tag}", f"pym-{os.getpid()}-{tag}", f"sem.mpfm{tag}-1"]
    try:
        for name in names:
            Path("/dev/shm", name).write_bytes(b"")
        found = fault_matrix.unmarked_shm(before, settle_s=0)
        assert [n for n in found if tag in n] == [names[0]]
    finally:
        for name in names:
            Path("/dev/shm", name).unlink(missing_ok=True)


SETUP_THEN_USE = textwrap.dedent(
    """
    import multiprocessing, os, sys, time
    if __name__ == "__main__":
        os.setpgid(0, 0)  # like a case driver
        ctx = multiprocessing.get_context("spawn")
        manager = ctx.Manager()
        q = manager.Queue()  # the channel being set up: no worker, no client for good yet
        print(manager._process.pid, flush=True)
        sys.stdin.readline()
        q.qsize()  # the case runs: the proxy's connection stays, a worker is up
        worker = ctx.Process(target=time.sleep, args=(30,))
        worker.start()
        print(worker.pid, flush=True)
        worker.join()  # reaped once killed, as the driver's watcher does
        time.sleep(30)
    """
)


def test_external_kills_wait_until_the_case_with_a_manager_runs(tmp_path: Path) -> None:
    """kill_worker / kill_manager from outside: not while the driver is still setting the
    channel up (the Manager alone, not serving yet: an error of the setup, not the crash of a
    running case; seen on a busy machine), but once a client is connected and a worker is up:
    then the worker (never the Manager for kill_worker), and the Manager for kill_manager."""
    script = tmp_path / "driver.py"
    script.write_text(SETUP_THEN_USE)
    driver = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    stop = threading.Event()
    killers = [
        threading.Thread(target=fault_matrix._killer, args=(scenario, stop, 0.1, lambda: True))
        for scenario in ("kill_worker", "kill_manager")
    ]
    try:
        assert driver.stdout is not None and driver.stdin is not None
        manager = psutil.Process(int(driver.stdout.readline()))
        killers[0].start()
        time.sleep(0.6)  # stable for 6 x the settle time, but setting up: left alone
        assert _alive(manager)
        driver.stdin.write("go\n")
        driver.stdin.flush()
        worker = psutil.Process(int(driver.stdout.readline()))
        _wait_dead(worker)
        assert _alive(manager)  # kill_worker: the worker, not the Manager
        killers[1].start()
        _wait_dead(manager)  # kill_manager, once it serves a client
    finally:
        stop.set()
        for killer in killers:
            if killer.is_alive():
                killer.join()
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()


def _wait_dead(proc: psutil.Process, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _alive(proc) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(proc), proc


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
