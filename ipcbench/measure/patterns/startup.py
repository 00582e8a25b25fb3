"""startup: the costs paid once -- starting a process, a Manager, a Pool.

Each message of a batch is one start, timed alone: one latency sample per start.

* op ``process_bare``: from ``Process.start()`` until the child's first message arrives on a
  ``Pipe``, for a child that only sends it and exits, in the case's start method.
* op ``process_numpy``: the same, the child importing NumPy before it sends (a NumPy already
  imported in the child, inherited under fork, is an error: the number would be a lie).
* op ``manager``: ``ctx.Manager()`` (what it does: ``SyncManager(ctx=ctx).start()``) until the
  Manager is usable: the server started and a first proxy answered (a list proxy created
  holding the message, read back whole).
* op ``pool``: ``ctx.Pool(POOL_PROCESSES)`` until its first result, ``apply_async(...).get()``
  (under fork with an initializer that only restores the default SIGTERM in the workers, see
  ``_pool``; a fixed 2 workers, so the process counts do not multiply the cases).

Outside the clock: making the Pipe and the Process object, joining the child, closing and
joining the Pool, shutting the Manager down. Every start is checked: its first message carries
a token made for that start, so a failed start cannot pass for a fast one (lost, duplicated,
truncated and corrupted messages are delivery errors; a child that raised or died ends the
case as error or crash, as other patterns' children do).

What a spawn child pays includes importing the target's module (``ipcbench.measure.
startup_child``: the standard library only) and re-importing the parent's ``__main__``, as any
spawn child of that parent would. Under forkserver the server is started in ``start()``,
untimed: only a driver's first start would pay it, so repeats with and without calibration
would differ.

Starting processes is slow (about 1 to 200 ms each), so a batch is at most ``MAX_STARTS``
starts: the catalogue's ``cap_bytes`` bounds the calibration at the pattern's one 64 B size,
and ``run`` caps any longer batch (other ``--sizes``); the row's n_messages is the starts made.

Every process here is started by the driver (the child, the Pool's workers, the Manager's
server, the forkserver), so it is in the driver's process group, which the runner kills
after a timeout or crash; each start also joins what it started before the next one.
"""

from __future__ import annotations

import os
import signal
import time
from array import array
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from ipcbench.errors import DeliveryError
from ipcbench.measure import startup_child
from ipcbench.measure.patterns.base import (
    JOIN_TIMEOUT_S,
    READY_TIMEOUT_S,
    ChildFailed,
    Measurement,
    Session,
)
from ipcbench.measure.workers import FAULT_SEQ

OPS = ("process_bare", "process_numpy", "manager", "pool")
MAX_STARTS = 16  # starts per batch (the catalogue's cap_bytes is this many 64 B messages)
POOL_PROCESSES = 2
TOKEN_BYTES = 16
POLL_S = 0.05  # while waiting for a Pool's result: how often its workers are looked at
DELIVERY_FAULTS = ("drop", "duplicate", "truncate", "corrupt")


def check_first(seq: int, token: bytes, msgs: list[Any]) -> None:
    """Raise DeliveryError unless ``msgs`` is exactly the one first message ``(seq, token)``."""
    where = f"start {seq}"
    if not msgs:
        raise DeliveryError(f"{where}: lost: no first message arrived")
    if len(msgs) > 1:
        raise DeliveryError(f"{where}: duplicated: {len(msgs)} first messages arrived")
    msg = msgs[0]
    if not (isinstance(msg, tuple) and len(msg) == 2 and isinstance(msg[1], bytes)):
        raise DeliveryError(f"{where}: corrupted: first message {msg!r:.80}")
    got_seq, got_token = msg
    if got_seq != seq:
        raise DeliveryError(f"{where}: corrupted: sequence number {got_seq!r}")
    if len(got_token) < len(token):
        raise DeliveryError(f"{where}: truncated: token of {len(got_token)} bytes")
    if got_token != token:
        raise DeliveryError(f"{where}: corrupted: the token differs")


def _is_error(msg: Any) -> bool:
    return isinstance(msg, tuple) and len(msg) == 2 and msg[0] == startup_child.ERROR_TAG


def _died(proc: Any, when: str) -> ChildFailed:
    code = proc.exitcode
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    return ChildFailed("crash", f"{proc.name} (pid {proc.pid}) died {when} ({how})")


def _end_process(proc: Any, graceful: bool) -> None:
    """Join a started process; kill it (by pid) if it has not ended by then (at once when
    not ``graceful``: the start failed or a signal cut it short)."""
    if proc.pid is None:
        return  # never started
    proc.join(JOIN_TIMEOUT_S if graceful else 0)
    if proc.exitcode is None:
        proc.kill()
        proc.join(JOIN_TIMEOUT_S)


class Startup(Session):
    duplex = False
    keeps_sample = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cleanups: dict[int, Callable[[], None]] = {}  # what a start left to end

    def start(self) -> None:
        """No channel, no long-lived child: each start makes its own. Untimed: the forkserver."""
        if self.case.op not in OPS:
            raise ValueError(f"unknown startup op {self.case.op!r}; valid: {', '.join(OPS)}")
        if self.ctx.get_start_method() == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()

    def run(self, n: int) -> Measurement:
        n_starts = min(n, MAX_STARTS)
        first = self.take_seqs(n_starts)
        timed = {
            "process_bare": self._process,
            "process_numpy": self._process,
            "manager": self._manager,
            "pool": self._pool,
        }[self.case.op]
        samples = array("q", bytes(8 * n_starts))
        for i in range(n_starts):
            samples[i] = timed(first + i)
        return Measurement(n_messages=n_starts, elapsed_ns=sum(samples), samples_ns=samples)

    def _fault(self, seq: int) -> str:
        return self.case.fault if seq == FAULT_SEQ else ""

    def _ending(self, seq: int, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` now, or in close() if a signal cuts this one short."""
        self._cleanups[seq] = cleanup
        cleanup()
        self._cleanups.pop(seq, None)

    # --- op process_bare / process_numpy ---------------------------------------------------

    def _process(self, seq: int) -> int:
        token = os.urandom(TOKEN_BYTES)
        numpy = self.case.op == "process_numpy"
        target = startup_child.with_numpy if numpy else startup_child.bare
        r, w = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(
            target=target,
            args=(w, seq, token, self._fault(seq)),
            daemon=True,
            name=f"ipcbench-startup-{seq}",
        )
        finished = False

        def cleanup() -> None:
            _end_process(proc, graceful=finished)
            r.close()
            w.close()

        self._cleanups[seq] = cleanup
        try:
            t0 = self.clock()
            proc.start()
            ready = wait([r, proc.sentinel], READY_TIMEOUT_S)
            first = r.recv() if r.poll() else None  # the child exited: its message is in
            elapsed_ns = self.clock() - t0
            msgs = self._messages(proc, first, r, w, timed_out=not ready)
            finished = True
        finally:
            self._ending(seq, cleanup)
        check_first(seq, token, msgs)
        return elapsed_ns

    def _messages(self, proc: Any, first: Any, r: Any, w: Any, timed_out: bool) -> list[Any]:
        """The child's messages (untimed: after its first one, until it exited)."""
        w.close()  # ours: EOF once the child's copy is closed too
        if _is_error(first):
            proc.join(JOIN_TIMEOUT_S)
            raise ChildFailed("error", f"{proc.name} (pid {proc.pid}) raised: {first[1]}")
        if first is None:
            if timed_out:
                raise TimeoutError(f"{proc.name} sent nothing within {READY_TIMEOUT_S:g} s")
            proc.join(JOIN_TIMEOUT_S)
            if proc.exitcode != 0:
                raise _died(proc, "before its first message")
            return []
        proc.join(JOIN_TIMEOUT_S)
        msgs = [first]
        while r.poll():
            try:
                msgs.append(r.recv())
            except EOFError:
                break
        return msgs

    # --- op manager ------------------------------------------------------------------------

    def _manager(self, seq: int) -> int:
        from multiprocessing.managers import SyncManager

        token, fault = os.urandom(TOKEN_BYTES), self._fault(seq)
        delivery = fault in DELIVERY_FAULTS  # injected into what the server is given
        msgs = startup_child.first_messages(seq, token, fault) if delivery else [(seq, token)]
        errors_r, errors_w = self.ctx.Pipe(duplex=False)
        manager: Any = SyncManager(ctx=self.ctx)
        started = False

        def cleanup() -> None:
            if started:
                manager.shutdown()  # joins the server
            elif getattr(manager, "_process", None) is not None:
                _end_process(manager._process, graceful=False)
            errors_r.close()
            errors_w.close()

        self._cleanups[seq] = cleanup
        try:
            t0 = self.clock()
            if fault and not delivery:
                self._start_faulty(manager, fault, errors_r, errors_w)
            else:
                manager.start()
            started = True
            box = manager.list(msgs)
            got = box[:]
            elapsed_ns = self.clock() - t0
            del box  # its decref reaches the server before the shutdown
        finally:
            self._ending(seq, cleanup)
        check_first(seq, token, got)
        return elapsed_ns

    @staticmethod
    def _start_faulty(manager: Any, fault: str, errors_r: Any, errors_w: Any) -> None:
        """Start the server with a fault that kills, hangs or raises in it (tests only)."""
        try:
            manager.start(startup_child.manager_initializer, (fault, errors_w))
        except (EOFError, OSError):
            server = manager._process
            server.join(JOIN_TIMEOUT_S)
            text = errors_r.recv() if errors_r.poll(0.2) else ""
            name = f"Manager server (pid {server.pid})"
            if text:
                raise ChildFailed("error", f"{name} raised while starting: {text}") from None
            raise _died(server, "while starting") from None

    # --- op pool ---------------------------------------------------------------------------

    def _pool(self, seq: int) -> int:
        token = os.urandom(TOKEN_BYTES)
        # forked workers inherit the driver's SIGTERM handler (it raises CaseTimeout, which a
        # worker's task loop catches): the default back, so terminate() ends a hung worker
        init = _default_sigterm if self.ctx.get_start_method() == "fork" else None
        pools: list[Any] = []

        def cleanup() -> None:  # its workers are idle or failed: terminate() (close() then
            for pool in pools:  # join() took 50-100 ms a start under spawn, untimed but slow)
                pool.terminate()
                pool.join()

        self._cleanups[seq] = cleanup
        try:
            t0 = self.clock()
            pool = self.ctx.Pool(POOL_PROCESSES, initializer=init)
            pools.append(pool)
            workers = list(pool._pool)  # the first ones: a death among them is the failure
            result = pool.apply_async(startup_child.pool_task, (seq, token, self._fault(seq)))
            msgs = _result_of(result, workers)
            elapsed_ns = self.clock() - t0
        finally:
            self._ending(seq, cleanup)
        check_first(seq, token, msgs)
        return elapsed_ns

    def close(self, graceful: bool = True) -> None:
        for cleanup in list(self._cleanups.values()):  # a start a signal cut short
            try:
                cleanup()
            except Exception:  # the runner reaps the group
                continue
        self._cleanups.clear()
        super().close(graceful)


def _default_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _result_of(result: Any, workers: list[Any]) -> Any:
    """A Pool's first result; ChildFailed if one of its first workers died meanwhile."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not result.ready():
        result.wait(POLL_S)  # returns as soon as the result is in
        if result.ready():
            break
        dead = [w for w in workers if w.exitcode is not None]
        if dead:
            raise _died(dead[0], "before the first result")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no first result from the Pool within {READY_TIMEOUT_S:g} s")
    return result.get()
