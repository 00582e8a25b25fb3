"""What every pattern shares: the Measurement it returns and the worker processes it starts.

A pattern session is used by the driver in three steps, and only ``run`` is timed:
``start()`` (open the channel, start and pin children, wait until they are ready),
``run(n)`` any number of times, ``close()`` (stop, join, release, shut the Manager down).
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ipcbench.measure.verify import (
    IN_PROCESS_SAMPLE_PERIOD,
    MIN_SAMPLE_PERIOD,
    BatchCheck,
    ContentSample,
)
from ipcbench.measure.workers import Ready, Role, child_main, thread_main
from ipcbench.params import Case
from ipcbench.transports.base import Channel, ChannelSpec, Transport
from ipcbench.wire import PayloadCheck, make_payload, wire_bytes

Clock = Callable[[], int]
READY_TIMEOUT_S = 60.0
JOIN_TIMEOUT_S = 2.0


class ChildFailed(Exception):
    """A worker process died or raised while the case was running."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status  # "crash" or "error"


@dataclass
class Measurement:
    n_messages: int
    elapsed_ns: int
    producer_elapsed_ns: int | None = None
    samples_ns: array | None = None  # per-message latency, when the pattern has one
    extra: dict[str, Any] = field(default_factory=dict)  # pattern-specific result columns


@dataclass(frozen=True)
class Placement:
    """CPUs for the driver, its children and helper processes (None = leave unpinned)."""

    parent: list[int] | None
    children: list[int] | None


# Raised by a child because a peer (or the Manager server) went away: an effect, not a cause.
PEER_GONE_ERRORS = (
    "EOFError",
    "BrokenPipeError",
    "ConnectionResetError",
    "ConnectionRefusedError",
    "ConnectionAbortedError",
)


def _blame_rank(failure: ChildFailed) -> int:
    """How likely a child's death caused the others' (lower = likelier): killed by a signal,
    then exited without a word, then raised, then raised because a peer was gone."""
    reason = str(failure)
    if failure.status == "crash":
        return 0 if "killed by signal" in reason else 1
    return 3 if any(f": {name}:" in reason for name in PEER_GONE_ERRORS) else 2


class WorkerThread:
    """A worker role in a thread of the driver process (``Transport.in_threads``), with what
    ``Children`` uses of a Process: start, is_alive, join, kill, name, pid, exitcode, sentinel.

    Its sentinel is its error Connection (``err_r``): readable once the thread reports an
    exception or ends (``thread_main`` closes the write side on the way out). A thread cannot
    be killed: ``kill`` leaves a hung one (a daemon) to end with the driver process, which the
    runner's watchdog ends with its process group, so nothing outlives the case.
    """

    kind = "thread"

    def __init__(self, args: tuple[Any, ...], name: str, err_r: Any) -> None:
        self._thread = threading.Thread(target=thread_main, args=args, name=name, daemon=True)
        self.name = name
        self.sentinel = err_r
        self.exitcode: int | None = None  # a thread has none: its error text says why it ended
        self._left = False

    @property
    def pid(self) -> int | None:
        """Its native thread id (what it reports in ``Ready``)."""
        return self._thread.native_id

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if not self._left:
            self._thread.join(timeout)

    def kill(self) -> None:
        self._left = True  # no waiting for it any more: it ends with the process


def _own_copy(endpoint: Any) -> Any:
    """A worker thread's own copy of its endpoint(s), as a process gets its unpickled one:
    the channel objects are shared, per-side state (retry counts) is its own."""
    if isinstance(endpoint, list):
        return [copy.copy(ep) for ep in endpoint]
    return copy.copy(endpoint)


class Children:
    """Worker processes of one case, watched for an unexpected death.

    When one dies before ``stop``, the watch records why and hands it to the process's
    SIGUSR1 handler, which raises ChildFailed in the main thread -- so a driver blocked in
    ``Queue.get`` does not hang. Workers that are child processes of this one (fork, spawn)
    are watched by a SIGCHLD handler (``_SigchldWatch``); threads (``in_threads``) and
    forkserver workers, whose deaths send no SIGCHLD here, by a thread that waits on their
    sentinels and interrupts the main thread with SIGUSR1; so are workers of a process that
    has other threads (a Queue's feeder), where the kernel may give SIGCHLD to one of those
    and the main thread's blocking call goes on. Either costs no CPU while the case runs,
    but a thread's mere existence does: with a second thread (even one blocked in a read)
    the pipe 64 B round trip was 2-3% slower and the raw_pipe 64 B stream 3-4%
    (``bench/harness_overhead.py``, with and without it; likely glibc leaving its
    single-thread fast paths, malloc's locks among them).
    With ``in_threads`` the workers are threads of this process (``WorkerThread``), speaking
    the same control protocol over the same Connections, so patterns run on them unchanged.
    """

    def __init__(self, ctx: Any, in_threads: bool = False, threads_here: bool = False) -> None:
        """``threads_here``: the channel starts threads in this process (see ``watch``)."""
        self.ctx = ctx
        self.in_threads = in_threads
        self.threads_here = threads_here
        self.procs: list[Any] = []
        self.controls: list[Any] = []
        self.errors: list[Any] = []
        self.affinities: dict[int, list[int]] = {}
        self.failure: ChildFailed | None = None
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe()
        self._watcher: threading.Thread | None = None
        self._by_sigchld = False
        self._checking = False  # a check runs (a SIGCHLD can land inside one: no second)
        self._verdicts: dict[int, ChildFailed] = {}  # worker index -> why it ended (read once)
        self._unready: list[tuple[Any, Any, Any]] = []  # launched, Ready not read yet

    def launch(
        self,
        role: type[Role],
        endpoint: Any,
        check: PayloadCheck,
        wire: str,
        cpus: list[int] | None,
        fault: str,
        index: int = 0,
    ) -> Any:
        """Start one worker and return its control Connection; ``await_ready`` waits for it.
        Workers launched one after another boot in parallel: awaiting each before the next
        fork made a 4 x 4 fan's start about twice as long (the VM's ~2 ms per boot, serial)."""
        control, child_control = self.ctx.Pipe(duplex=True)
        err_r, err_w = self.ctx.Pipe(duplex=False)
        name = f"ipcbench-{role.name}-{index}"
        if self.in_threads:  # it owns child_control and err_w, and closes them when it ends
            ep = _own_copy(endpoint)
            args = (role, ep, child_control, err_w, check, wire, cpus, fault, index)
            proc: Any = WorkerThread(args, name, err_r)
            proc.start()
        else:
            args = (role, endpoint, child_control, err_w, check, wire, cpus, fault, index)
            proc = self.ctx.Process(target=child_main, args=args, daemon=True, name=name)
            proc.start()
            child_control.close()
            err_w.close()
        self.procs.append(proc)
        self.controls.append(control)
        self.errors.append(err_r)
        self._unready.append((proc, control, err_r))
        return control

    def await_ready(self) -> None:
        """Wait for the Ready of every worker launched and not awaited yet (in launch order)."""
        while self._unready:
            self._await_ready(*self._unready.pop(0))

    def _await_ready(self, proc: Any, control: Any, err_r: Any) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not control.poll(0.05):
            if not proc.is_alive() or time.monotonic() > deadline:
                raise self._failure_of(proc, err_r, "while starting")
        try:
            ready: Ready = control.recv()
        except (EOFError, OSError):
            raise self._failure_of(proc, err_r, "while starting") from None
        self.affinities[ready.pid] = ready.cpus

    def watch(self) -> None:
        """Start watching (call after every child is started and ready)."""
        if self._sigchld_reaches_us():
            self._by_sigchld = True
            _SIGCHLD_WATCH.add(self)
            self.check_ended(None)  # one that died before the handler was there
            return
        self._watcher = threading.Thread(target=self._watch, name="ipcbench-watch", daemon=True)
        self._watcher.start()

    def _sigchld_reaches_us(self) -> bool:
        """Are the workers this process's children (their deaths signal SIGCHLD here), is
        this the main thread (which sets handlers) and its only thread, now and later? A
        signal the kernel gives another thread does not interrupt the main thread's blocking
        call (a driver in ``Queue.get`` with the feeder thread running would wait on)."""
        return (
            not self.in_threads
            and not self.threads_here
            and self.ctx.get_start_method() != "forkserver"
            and threading.current_thread() is threading.main_thread()
            and threading.active_count() == 1
        )

    def check_ended(self, frame: Any) -> None:
        """SIGCHLD (see ``_SigchldWatch``): if a worker has ended before ``stop``, record why
        and hand it to the SIGUSR1 handler (which raises it), as the watcher thread does."""
        if self._stopping or self.failure is not None or self._checking:
            return
        failure = self._ended_failure()
        if failure is None or self.failure is not None:
            return
        self.failure = failure
        handler = signal.getsignal(signal.SIGUSR1)
        if callable(handler):
            handler(signal.SIGUSR1, frame)
        elif handler == signal.SIG_DFL:  # what the thread's SIGUSR1 would do: end the process
            os.kill(os.getpid(), signal.SIGUSR1)

    def _ended_failure(self) -> ChildFailed | None:
        """The likeliest cause among the workers that have ended (None: all run). A worker
        counts as ended once its sentinel is readable: its files are closed then, before it
        is a zombie, and its peers may already have read EOF from it and died of that (those
        are looked at too, and ranked below it, see ``_blame_rank``)."""
        from multiprocessing.connection import wait

        sentinels = {p.sentinel: i for i, p in enumerate(self.procs)}
        dead = [sentinels[s] for s in wait(list(sentinels), timeout=0)]
        if not dead:
            return None
        self._checking = True
        try:
            for i in dead:
                if i not in self._verdicts:  # its error text can be read only once
                    failure = self._failure_of(self.procs[i], self.errors[i], "during the case")
                    self._verdicts.setdefault(i, failure)
        finally:
            self._checking = False
        return min((self._verdicts[i] for i in dead), key=_blame_rank)

    def _watch(self) -> None:
        from multiprocessing.connection import wait

        ready = wait([*(p.sentinel for p in self.procs), self._wake_r])
        if self._stopping or self._wake_r in ready:
            return
        self.failure = self._ended_failure()
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)

    def wait_failure(self, timeout_s: float) -> ChildFailed | None:
        """The watch's verdict on a child death, waiting up to ``timeout_s`` for it (a
        child's EOF can reach the driver before its exit does)."""
        if self._watcher is not None:
            self._watcher.join(timeout_s)
        elif self._by_sigchld and self.failure is None:
            deadline = time.monotonic() + timeout_s
            while self.failure is None:
                failure = self._ended_failure()
                if self.failure is None:  # (a SIGCHLD may have set it meanwhile)
                    self.failure = failure
                if self.failure is not None or time.monotonic() >= deadline:
                    break
                time.sleep(0.01)
        return self.failure

    @staticmethod
    def _failure_of(proc: Any, err_r: Any, when: str) -> ChildFailed:
        proc.join(0.5)
        try:
            text = str(err_r.recv()).strip() if err_r.poll(0.2) else ""
        except (EOFError, OSError):
            text = ""  # died without a word: killed
        who = f"{proc.name} ({getattr(proc, 'kind', 'pid')} {proc.pid})"
        if text:
            return ChildFailed("error", f"{who} raised {when}: {text}")
        code = proc.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return ChildFailed("crash", f"{who} died {when} ({how})")

    def stop(self, graceful: bool) -> None:
        """Stop the watcher, ask children to exit, then kill (by pid) any still running."""
        if self._stopping:
            return
        self._stopping = True
        if self._by_sigchld:
            _SIGCHLD_WATCH.discard(self)
        os.write(self._wake_w, b"x")
        if self._watcher is not None:
            self._watcher.join(1.0)
        if graceful:
            for control in self.controls:
                with contextlib.suppress(OSError):
                    control.send(("stop",))
        for proc in self.procs:
            proc.join(JOIN_TIMEOUT_S if graceful else 0.05)
            if proc.is_alive():
                proc.kill()
                proc.join(JOIN_TIMEOUT_S)
        for conn in (*self.controls, *self.errors):
            conn.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


class _SigchldWatch:
    """The SIGCHLD handler of the ``Children`` watched in this process: installed with the
    first, the previous handler restored with the last. It runs in the main thread between
    two bytecodes or when a blocking call is interrupted; a child of this process that is no
    worker (a Manager server, a Pool's) finds every worker alive and changes nothing."""

    def __init__(self) -> None:
        self.watched: list[Children] = []
        self.previous: Any = None
        self.owner = 0  # the process that installed it (a forked child inherits it)

    def add(self, children: Children) -> None:
        if not self.watched or self.owner != os.getpid():
            self.watched = []
            self.owner = os.getpid()
            self.previous = signal.signal(signal.SIGCHLD, self._on_sigchld)
        self.watched.append(children)

    def discard(self, children: Children) -> None:
        if children not in self.watched or self.owner != os.getpid():
            return
        self.watched.remove(children)
        if not self.watched and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGCHLD, self.previous or signal.SIG_DFL)

    def _on_sigchld(self, signum: int, frame: Any) -> None:
        if self.owner != os.getpid():  # a child forked while watching: not its workers
            return
        for children in list(self.watched):
            children.check_ended(frame)


_SIGCHLD_WATCH = _SigchldWatch()


class Session:
    """Base of pattern sessions: payload, channel, children and their cleanup."""

    duplex: ClassVar[bool] = True
    role: ClassVar[type[Role]] = Role  # the child's side (a pattern names its own)
    keeps_sample: ClassVar[bool] = True  # the driver receives timed messages itself
    # rate: the msgs/s a relative load offers, fixed in the case's first run (None: measure)
    given_rate_per_s: float | None = None

    def __init__(
        self,
        case: Case,
        transport: Transport,
        ctx: Any,
        placement: Placement,
        clock: Clock = time.perf_counter_ns,
    ) -> None:
        self.case = case
        self.transport = transport
        self.ctx = ctx
        self.placement = placement
        self.clock = clock
        self.payload, self.check = make_payload(case.payload_kind, case.payload_bytes)
        self.wire_bytes = wire_bytes(case.payload_kind, self.payload, transport.wire)
        self.spec = ChannelSpec(  # what transport.open reads of the case
            case.payload_bytes,
            case.maxsize or 0,
            self.payload,
            call=case.call,
            call_timeout_s=case.call_timeout_s,
            producers=case.producers,
            payload_kind=case.payload_kind,
        )
        self.children = Children(
            ctx, in_threads=transport.in_threads, threads_here=transport.starts_threads
        )
        self.channel: Channel | None = None
        self.controls: list[Any] = []
        self.next_seq = 0
        # whole messages kept in timed batches: slots allocated now, untimed (fan: children)
        wire = transport.wire if self.keeps_sample else "object"
        period = IN_PROCESS_SAMPLE_PERIOD if transport.in_process else MIN_SAMPLE_PERIOD
        self.sample = ContentSample(self.check, wire, period)

    def batch_check(self, first: int, n: int, wire: str | None = None) -> BatchCheck:
        """The checks of a timed batch (sequence and length in the loop, content after)."""
        return BatchCheck(self.check, wire or self.transport.wire, first, n, self.sample)

    def start(self) -> None:
        self.channel = self.transport.open(self.ctx, self.spec, duplex=self.duplex)
        self.pin_helpers(self.channel.helper_pids)
        if self.transport.in_process:
            return
        self.start_child(self.role, self.channel.child)
        self.channel.child.close()  # the child has its copy; EOF now reaches us if it dies
        self.children.watch()

    def pin_helpers(self, pids: list[int]) -> None:
        """Helper processes (a Manager server) go where the children go."""
        if self.placement.children:
            for pid in pids:
                os.sched_setaffinity(pid, self.placement.children)

    def start_child(self, role: type[Role], endpoint: Any, index: int = 0) -> Any:
        """Start one worker of ``role``; its control Connection once it is ready."""
        return self.start_children(role, [endpoint], first_index=index)[0]

    def start_children(
        self, role: type[Role], endpoints: list[Any], first_index: int = 0, wait: bool = True
    ) -> list[Any]:
        """Start a worker of ``role`` per endpoint (indexes from ``first_index``), all
        launched before any is awaited; their control Connections once all are ready.
        ``wait=False``: return at once, the next call that waits awaits these too."""
        controls = [
            self.children.launch(
                role,
                endpoint,
                self.check,
                self.transport.wire,
                self.placement.children,
                self.case.fault,
                first_index + k,
            )
            for k, endpoint in enumerate(endpoints)
        ]
        if wait:
            self.children.await_ready()
        self.controls.extend(controls)
        return controls

    def gather(self, controls: list[Any] | None = None) -> list[Any]:
        """One reply from each child (in order): the NamedTuples its role sends."""
        return [c.recv() for c in (controls if controls is not None else self.controls)]

    def take_seqs(self, n: int) -> int:
        """Reserve ``n`` sequence numbers; returns the first."""
        first = self.next_seq
        self.next_seq += n
        return first

    def run(self, n: int) -> Measurement:
        raise NotImplementedError

    def close(self, graceful: bool = True) -> None:
        self.children.stop(graceful)
        if self.channel is not None:
            if not graceful:
                self.channel.parent.abandon()
            self.channel.close()

    def affinities(self) -> dict[int, list[int]]:
        return dict(self.children.affinities)
