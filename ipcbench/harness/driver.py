"""The case driver: one process per repeat of a case, in its own process group.

The runner starts a fresh driver for every repeat (a "round"), so each repeat gets fresh
processes, CPU placement and caches -- the variation between runs shows up between repeats
instead of hiding behind them. The driver pins itself, opens the channel and starts the
workers (untimed), calibrates the message count to the target time (first round only; later
rounds reuse that count), warms up, measures one batch and sends its row to the runner. Any
failure ends the case with a status; cleanup always runs.

Messages to the runner (over ``report``): a ``RowMessage`` (fields, samples bytes), then an
``EndMessage`` (status, error), both from ``ipcbench.results.schema``.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import signal
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from ipcbench import transports
from ipcbench.errors import DeliveryError
from ipcbench.harness import allocator
from ipcbench.harness.settings import Settings
from ipcbench.measure import catalogue, patterns
from ipcbench.measure.latency import latency_columns
from ipcbench.measure.memory import largest_peak_rss_mib, peak_rss_mib
from ipcbench.measure.patterns.base import ChildFailed, Measurement, Placement, Session
from ipcbench.params import Case
from ipcbench.results import interpreter
from ipcbench.results.schema import EndMessage, RowMessage

HELPER_WAIT_S = 0.5  # after a failure, time for a dead Manager server's exit to show


class CaseTimeout(Exception):
    """The runner's watchdog asked this case to stop (SIGTERM)."""


_driver_pid: list[int] = []  # the driver's own pid, set by drive()


def _on_sigterm(signum: int, frame: Any) -> None:
    if _driver_pid and os.getpid() != _driver_pid[0]:
        # a process forked by the driver that has not yet set its own handler (a Pool worker
        # still in its bootstrap, terminate()d): SIGTERM's default, as if never inherited --
        # raising CaseTimeout there printed a traceback and could leave a Pool lock held
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise CaseTimeout("stopped by the watchdog")


def placement_cpus(placement: str) -> Placement | str:
    """CPUs for each role, or the reason the placement is not possible here."""
    if placement == "unpinned":
        return Placement(None, None)
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return "CPU affinity is not supported on this platform"
    if placement == "same":
        return Placement([allowed[0]], [allowed[0]])
    if len(allowed) < 2:
        return "placement 'split' needs at least 2 usable CPUs"
    return Placement([allowed[0]], [allowed[1]])


CALIBRATION_SHARE = 16  # calibration grows a batch until it lasts 1/16 of the target


def calibrate(run: Callable[[int], Measurement], target_ns: float, min_n: int, max_n: int) -> int:
    """Grow the batch ×4 until it takes ≥ 1/16 of the target, then scale to the target.

    A first one-message batch is run and ignored: fresh processes pay one-time costs (imports,
    page faults, feeder threads) that would make the count far too small. Growth then starts
    at 2 messages, so an injected fault at sequence number 1 is never the last message of
    its batch (a lost last message could only show as a timeout). Growing to 1/8 of the
    target, as before stop 31, cost a case's first run 1/6 to 2/3 of a batch more; how long
    a batch lasts is no figure, and it varies 2-10x between repeats with their placement."""
    run(1)
    n = min(2, max_n)
    while True:
        elapsed_ns = max(run(n).elapsed_ns, 1)
        if elapsed_ns * CALIBRATION_SHARE >= target_ns or n >= max_n:
            break
        n = min(max_n, n * 4)
    return max(min_n, min(max_n, math.ceil(n * target_ns / elapsed_ns)))


def row_fields(case: Case, m: Measurement, payload_bytes: int, wire_bytes: int) -> dict[str, Any]:
    """Measurement -> result columns (throughput in messages/s and MB/s, 1 MB = 10^6 bytes)."""
    elapsed_s = m.elapsed_ns / 1e9
    moved = m.n_messages * payload_bytes * catalogue.info(case.pattern).bytes_per_message
    fields: dict[str, Any] = {
        "n_messages": m.n_messages,
        "wire_bytes": wire_bytes,
        "elapsed_s": elapsed_s,
        "producer_elapsed_s": None
        if m.producer_elapsed_ns is None
        else m.producer_elapsed_ns / 1e9,
        "msgs_per_s": m.n_messages / elapsed_s if elapsed_s > 0 else None,
        "mb_per_s": moved / elapsed_s / 1e6 if elapsed_s > 0 else None,
    }
    if m.samples_ns is not None and len(m.samples_ns):
        fields.update(latency_columns(m.samples_ns))
    fields.update(m.extra)
    return fields


def memory_fields(session: Session) -> dict[str, float | None]:
    """Peak RSS columns, read after the measured batch (outside the clock): the driver's own
    (a fresh process per case run, so its peak is the case's) and the largest among the
    worker and helper processes (a Manager server) still alive; None where workers are
    threads of the driver, there are none, or there is no ``/proc``."""
    children = getattr(session, "children", None)
    procs = [] if children is None or children.in_threads else children.procs
    pids = [p.pid for p in procs if p.pid is not None]
    channel = getattr(session, "channel", None)
    pids += list(channel.helper_pids) if channel is not None else []
    return {
        "driver_peak_rss_mib": peak_rss_mib(),
        "worker_peak_rss_mib": largest_peak_rss_mib(pids),
    }


def max_messages(case: Case, settings: Settings) -> int:
    """The message cap of a case: --max-messages, or fewer where its pattern bounds a batch's
    bytes (a Manager dict/list holds a whole batch)."""
    cap_bytes = catalogue.info(case.pattern).cap_bytes
    if cap_bytes is not None:
        return max(1, min(settings.max_messages, cap_bytes // case.payload_bytes))
    return settings.max_messages


def drive(
    case: Case,
    settings: Settings,
    report: Any,
    repeat: int = 0,
    n_messages: int | None = None,
    offered_per_s: float | None = None,
) -> None:
    """Entry point of the case process: one measured repeat, ``n_messages`` long (calibrated
    here when None); a relative rate load offers ``offered_per_s`` (measured here when None)."""
    os.setpgid(0, 0)
    _driver_pid[:] = [os.getpid()]
    allocator.fix()  # the same malloc thresholds whatever the runner did before (see there)
    # Everything inherited from the runner (what it imported: pandas in a notebook, a whole
    # test suite) goes to the permanent generation: the driver's collections then neither
    # walk nor copy-on-write it, so a figure does not depend on what the runner loaded (a
    # gc.collect() over a test suite's heap cost ~0.3 s per case run).
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner owns Ctrl-C
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGUSR1, _on_child_failed)
    try:
        status, error = _outcome(case, settings, report, Round(repeat, n_messages, offered_per_s))
    except (ChildFailed, CaseTimeout) as late:  # landed while the outcome was being decided
        status, error = getattr(late, "status", "timeout"), str(late)
    _cleanup(graceful=status == "ok")
    report.send(EndMessage(status, error))
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the case is over: a late SIGTERM just ends it


class Round(NamedTuple):
    """What a case's first ok run calibrated and its later runs reuse (None: calibrate)."""

    repeat: int
    n_messages: int | None
    offered_per_s: float | None = None  # rate with a relative load: its rate in msgs/s


def _outcome(case: Case, settings: Settings, report: Any, rnd: Round) -> tuple[str, str]:
    """Run the case; its (status, error).

    The watcher's SIGUSR1 (a child died) and the watchdog's SIGTERM can land anywhere, also
    while another exception is being handled -- e.g. the EOF that the same child's death
    caused: the outer handlers catch those, so the driver always ends the case with a status.
    """
    try:
        try:
            _measure(_open_session(case, rnd.offered_per_s), case, settings, report, rnd)
        except _Skip as skip:
            return "skipped", str(skip)
        except DeliveryError as exc:
            return "error", f"delivery check failed: {exc}"
        except CaseTimeout as exc:
            return "timeout", str(exc)
        except Exception as exc:  # EOF from a dead child, an OS error or a bug: report
            failure = exc if isinstance(exc, ChildFailed) else _child_failure()
            if failure is None:
                return _helper_failure() or ("error", f"{type(exc).__name__}: {exc}")
            return _helper_failure() or (failure.status, str(failure))
    except ChildFailed as exc:
        return _helper_failure() or (exc.status, str(exc))
    except CaseTimeout as exc:
        return "timeout", str(exc)
    return "ok", ""


def _cleanup(graceful: bool) -> None:
    """Stop the children and release the channel; no signal may cut this short."""
    while True:
        try:
            signal.signal(signal.SIGUSR1, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # runs to its end (or SIGKILL)
            break
        except (ChildFailed, CaseTimeout):  # one landed before the handlers were off
            continue
    _close(_current.get("session"), graceful=graceful)


def _kill_children() -> None:
    """SIGKILL this driver's multiprocessing children (workers, a Manager server) of a case
    that already failed; the runner reaps the rest of the process group."""
    import multiprocessing

    for child in multiprocessing.active_children():
        with contextlib.suppress(Exception):
            child.kill()


class _Skip(Exception):
    pass


_current: dict[str, Session] = {}


def _on_child_failed(signum: int, frame: Any) -> None:
    session = _current.get("session")
    failure = session.children.failure if session is not None else None
    if failure is not None:
        raise failure


def _child_failure() -> ChildFailed | None:
    """The failure of a child that died, if one did (its EOF may beat the watcher's signal)."""
    session = _current.get("session")
    if session is None:
        return None
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    return session.children.wait_failure(1.0)


def _helper_failure(wait_s: float = HELPER_WAIT_S) -> tuple[str, str] | None:
    """("crash", why) if a helper process of the channel (the Manager server) died: what its
    clients raise then (EOFError, ConnectionResetError) is a consequence, not the cause."""
    session = _current.get("session")
    channel = session.channel if session is not None else None
    pids = list(channel.helper_pids) if channel is not None else []
    deadline = time.monotonic() + wait_s
    while pids:
        for pid in pids:
            how = _process_end(pid)
            if how is not None:
                why = f"helper process (Manager server, pid {pid}) died during the case ({how})"
                return "crash", why
        if time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    return None


def _process_end(pid: int) -> str | None:
    """How a process ended ("killed by signal 9", "exit code 1", "ended"), None while it runs.
    Our own child is looked at without reaping it (WNOWAIT), so its owner can still join it."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except (ChildProcessError, AttributeError):  # not our child (forkserver), or no waitid
        return _ended(pid)
    if info is None:
        return None
    if info.si_code in (os.CLD_KILLED, os.CLD_DUMPED):
        return f"killed by signal {info.si_status}"
    return f"exit code {info.si_status}"


def _ended(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return "ended" if state in ("Z", "X") else None
    except FileNotFoundError:
        return "ended"
    except (OSError, IndexError):
        return None


def _open_session(case: Case, offered_per_s: float | None = None) -> Session:
    cls = transports.get(case.transport)
    reason = cls.unavailable_reason()
    if reason:
        raise _Skip(reason)
    placement = placement_cpus(case.placement)
    if isinstance(placement, str):
        raise _Skip(placement)
    return patterns.open_session(case, placement, started=_remember, offered_per_s=offered_per_s)


def _remember(session: Session) -> None:
    """Before start(): a half-started session is cleaned up too."""
    _current["session"] = session


WARMUP_MAX_S = 0.002  # a warm-up batch lasts at most about this long


def warmup_messages(n_messages: int, target_time_s: float) -> int:
    """A warm-up batch: a quarter of the measured one, and no more than ``WARMUP_MAX_S`` of
    it (``n_messages`` take about ``target_time_s``). What it is for is the first use of the
    caches, pages, feeder threads and buffers of these processes, not its length: a quarter
    (25 ms at 0.1 s batches) and 10 ms gave the same figures within noise, and so did 10 ms
    and 2 ms (42 of 42 cases tied, pingpong, stream and 2 x 2 fan at 64 B to 8 MiB, 5
    transports; bench/warmup_ab.py --arms 10,2), the 2 ms sweep taking 8% less wall time."""
    by_time = math.ceil(n_messages * WARMUP_MAX_S / target_time_s) if target_time_s > 0 else 1
    return max(1, min(n_messages // 4, by_time))


def _measure(session: Session, case: Case, settings: Settings, report: Any, rnd: Round) -> None:
    n = rnd.n_messages
    warmups = settings.warmups
    if n is None:
        limit = max_messages(case, settings)
        n = calibrate(session.run, settings.target_time_s * 1e9, settings.min_messages, limit)
        warmups = 0  # calibration just ran these processes, its last batch >= 1/16 of the target
    for _ in range(warmups):
        session.run(warmup_messages(n, settings.target_time_s))
    gc.collect()  # untimed: what setup and warm-up left is not collected inside the clock
    m = session.run(n)
    fields = row_fields(case, m, case.payload_bytes, session.wire_bytes)
    fields.update(memory_fields(session))
    fields.update(interpreter.facts())  # the interpreter that measured (under --pythons too)
    fields["repeat"] = rnd.repeat
    samples = m.samples_ns.tobytes() if m.samples_ns is not None else b""
    report.send(RowMessage(fields, samples))


def unlink_semaphores() -> int:
    """Unlink every named semaphore this process created (spawn/forkserver queues and locks)
    now, instead of in multiprocessing's exit-time finalizers: a driver killed later in its
    cleanup then leaves nothing for the resource tracker to find. Processes that have a
    semaphore open keep using it; only its name goes. Returns how many were unlinked."""
    from multiprocessing import synchronize, util

    cleanup = getattr(synchronize.SemLock, "_cleanup", None)  # unlink + unregister
    registry = getattr(util, "_finalizer_registry", {})
    pending = [f for f in list(registry.values()) if getattr(f, "_callback", None) is cleanup]
    if cleanup is None:
        return 0
    for finalizer in pending:
        with contextlib.suppress(OSError):
            finalizer()
    return len(pending)


def _close(session: Session | None, graceful: bool) -> None:
    if not graceful:  # the case failed: a spawned child still starting would find its
        _kill_children()  # semaphores unlinked and print a FileNotFoundError traceback
    unlink_semaphores()  # first, and even without a session: what follows may meet SIGKILL
    if session is None:
        return
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        session.close(graceful=graceful)
    except Exception:  # cleanup must not mask the case's status; the runner reaps the group
        pass
    finally:
        _current.clear()
