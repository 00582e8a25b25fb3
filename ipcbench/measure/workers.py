"""Top-level child entry points (importable, so spawn and forkserver can start them).

A child gets its endpoint(s), a control Connection for commands from the driver, and an error
Connection on which it reports an exception before exiting. Commands are tuples:
``("run", ...)`` -- one batch of the child's role (arguments per role below) -- or ``("stop",)``.

Roles:
* ``echo``    ping-pong: receive n messages, send each back.
* ``produce`` stream/fan/backpressure/nowait/rate: send n messages (to its endpoints in turn);
  replies ``("done", t_start_ns, t_end_ns, stats)``; with options, ``stats["sent"]`` is the
  number of messages actually handed to the channel (n, unless a fault dropped or doubled one).
* ``consume`` fan/taskqueue: receive until a sentinel (shared queue), or on pipe pairs (one
  per producer x consumer) until an expected count or every pair's end marker (producers
  with ``opts["end_marker"]`` send one per pair after their timed batch);
  replies ``("done", t_last_ns, count, seen_marks, done_ns)``
  (done_ns: the clock just before the last ``task_done()`` of a JoinableQueue, else 0).
* ``write``   Manager proxy set/append (proxy_ops); ``state``: shared_state updates.
* ``put_close`` lifecycle: time ``put()`` of n items + ``close()`` + ``join_thread()``.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from array import array
from collections.abc import Callable
from typing import Any

from ipcbench.measure.verify import ContentSample, FanReceiver, PairEnded
from ipcbench.wire import SEQ, PayloadCheck, end_marker, fan_seq, make_payload, new_frame, stamp

FAULTS = ("drop", "duplicate", "truncate", "corrupt", "hang", "kill", "raise", "consumer_kill")
FAULT_SEQ = 1  # the message a fault hits (counted over the whole case, calibration included)
DEPTH_EVERY = 8  # backpressure: sample qsize() every this many puts


def pin(cpus: list[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)


def affinity() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return []


def child_main(
    role: str,
    endpoints: Any,
    control: Any,
    errors: Any,
    check: PayloadCheck,
    wire: str,
    cpus: list[int] | None,
    fault: str,
    index: int = 0,
) -> None:
    """Entry point of every worker process. ``endpoints`` is one endpoint or a list."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor handles Ctrl-C
    try:
        pin(cpus)
        eps = endpoints if isinstance(endpoints, list) else [endpoints]
        for ep in eps:
            ep.in_child()
        control.send(("ready", os.getpid(), affinity()))
        Worker(role, eps, control, check, wire, fault, index).serve()
    except BaseException as exc:  # report everything, including SystemExit from a fault
        try:
            errors.send(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}")
        finally:
            os._exit(1)


class Worker:
    """The command loop of one child process."""

    def __init__(
        self,
        role: str,
        eps: list[Any],
        control: Any,
        check: PayloadCheck,
        wire: str,
        fault: str,
        index: int,
    ) -> None:
        self.role = role
        self.eps = eps
        self.ep = eps[0]
        self.control = control
        self.check = check
        self.wire = wire
        self.fault = fault
        self.index = index
        # its own copy, built from the small check rather than shipped (see wire.template)
        payload, _ = make_payload(check.kind, check.payload_bytes)
        self.payload = payload
        self.frame = new_frame(payload) if wire == "bytes" else None
        # consumers keep a bounded sample of whole messages, checked after their clock; its
        # slots are allocated here, once, outside every timed region
        self.sample = ContentSample(check, wire) if role == "consume" else None

    def serve(self) -> None:
        handlers: dict[str, Callable[..., None]] = {
            "echo": self.echo,
            "produce": self.produce,
            "write": self.write,
            "consume": self.consume,
            "state": self.state,
            "put_close": self.put_close,
        }
        handler = handlers[self.role]
        while True:
            cmd = self.control.recv()
            if cmd[0] == "stop":
                for ep in self.eps:
                    ep.close()
                return
            handler(*cmd[1:])

    def message(self, seq: int) -> Any:
        if self.frame is not None:
            return stamp(self.frame, seq)
        return (seq, self.payload)

    def faulty(self, seq: int, msg: Any) -> list[Any]:
        """The messages to send in place of ``msg`` (fault injection for tests)."""
        if seq != FAULT_SEQ or not self.fault or self.fault.startswith("consumer_"):
            return [msg]
        return _apply_fault(self.fault, seq, msg)

    def echo(self, n: int, first_seq: int) -> None:
        send, recv = self.ep.send, self.ep.recv
        if not self.fault:
            for _ in range(n):
                send(recv())
            return
        for seq in range(first_seq, first_seq + n):
            for out in self.faulty(seq, recv()):
                send(out)

    def produce(self, n: int, first: int, opts: dict[str, Any] | None = None) -> None:
        """Send n messages; with opts: fan numbering, put timing, depth sampling, nowait,
        or an offered rate (messages then carry their intended send time)."""
        opts = opts or {}
        if opts:
            self.control.send(_Producer(self, opts).run(n, first))
            return
        send, clock = self.ep.send, time.perf_counter_ns
        if self.fault:
            t_start_ns = clock()
            for seq in range(first, first + n):
                for out in self.faulty(seq, self.message(seq)):
                    send(out)
        elif self.frame is not None:  # what a user's loop does: stamp the number, send
            frame, pack_into = self.frame, SEQ.pack_into
            t_start_ns = clock()
            for seq in range(first, first + n):
                pack_into(frame, 0, seq)
                send(frame)
        else:
            payload = self.payload
            t_start_ns = clock()
            for seq in range(first, first + n):
                send((seq, payload))
        self.control.send(("done", t_start_ns, clock(), {}))

    def consume(self, n_per: int, first: int, producers: int, expect: int | None) -> None:
        """Receive and verify messages of many producers (see verify.FanReceiver): from a
        shared queue (``expect`` None: until the driver ends the rounds) or from one pipe pair
        per producer (until ``expect`` have arrived, or every pair's end marker has)."""
        receiver = FanReceiver(self.check, self.wire, producers, n_per, first, self.sample)
        # consumer_kill: the consumer that takes message FAULT_SEQ of producer 0 (sent once per
        # case) kills itself -- not "every consumer's second message in a batch", which never
        # comes when small batches are spread one message per consumer.
        kill_seq = fan_seq(0, FAULT_SEQ) if self.fault == "consumer_kill" else -1
        if expect is None:
            t_last_ns = self._receive_shared(receiver, kill_seq)
        else:
            t_last_ns = self._receive_pairs(receiver, expect, kill_seq)
        receiver.finish()  # after the clock (t_last_ns): the kept messages, in full
        done_ns = self.ep.done_ns  # JoinableQueue: the last task_done() call, else 0
        self.control.send(("done", t_last_ns, receiver.count, bytes(receiver.seen), done_ns))

    def _receive_shared(self, receiver: FanReceiver, kill_seq: int) -> int:
        """A shared queue: a sentinel ends a round; the consumer reports its count and waits
        for "more" (the driver saw fewer messages than sent: a sentinel overtook data still
        in a producer's feeder thread) or "end". Returns the clock at the last message."""
        recv, accept = self.ep.recv, receiver.accept
        clock, t_last_ns = time.perf_counter_ns, 0
        while True:
            while (msg := recv()) is not None:
                if accept(msg) == kill_seq:
                    _kill_self()
                t_last_ns = clock()
            self.control.send(("paused", receiver.count))
            if self.control.recv()[0] == "end":
                return t_last_ns

    def _receive_pairs(self, receiver: FanReceiver, expect: int, kill_seq: int) -> int:
        """One pipe pair per producer: receive until ``expect`` messages have arrived or every
        pair has sent its end marker (a producer sends one per pair after its timed batch; an
        early one means that pair lost a message, and the driver's exactly-once check names
        it). Then, untimed, each pair's marker (an extra message before it is an error).
        Returns the clock at the last message."""
        accept, clock, t_last_ns = receiver.accept, time.perf_counter_ns, 0
        live = list(self.eps)  # pairs whose end marker has not come yet
        if len(live) == 1:
            recv = self.ep.recv
            for _ in range(expect):
                try:
                    seq = accept(recv())
                except PairEnded:
                    live.clear()
                    break
                if seq == kill_seq:
                    _kill_self()
                t_last_ns = clock()
        else:
            ready, remaining = self.ep.ready_among, expect
            while remaining and live:
                for ep in ready(live):
                    try:
                        seq = accept(ep.recv())
                    except PairEnded:
                        live.remove(ep)
                        continue
                    if seq == kill_seq:
                        _kill_self()
                    t_last_ns = clock()
                    remaining -= 1
        for ep in live:
            _until_end_marker(ep, receiver)
        return t_last_ns

    def write(self, n: int, first_seq: int, timed: bool) -> None:
        samples = array("q")
        write, clock, payload = self.ep.write, time.perf_counter_ns, self.payload
        faulty = self.faulty if self.fault else None
        t_start_ns = clock()
        for seq in range(first_seq, first_seq + n):
            for out in faulty(seq, (seq, payload)) if faulty else ((seq, payload),):
                t0 = clock()
                write(seq, out)
                samples.append(clock() - t0)
        t_end_ns = clock()
        self.control.send(("done", t_start_ns, t_end_ns, samples.tobytes() if timed else b""))

    def state(self, n: int, first: int, op: str) -> None:
        """shared_state: n updates by this process, each timed."""
        samples = array("q", bytes(8 * n))
        update, clock = self.ep.update, time.perf_counter_ns
        t_start_ns = clock()
        for i in range(n):
            seq = fan_seq(self.index, first + i)
            for out in self.faulty(first + i, (seq, self.payload)):
                t0 = clock()
                update(op, self.index, seq, out)
                samples[i] = clock() - t0
        self.control.send(("done", t_start_ns, clock(), samples.tobytes()))

    def put_close(self, n: int, first: int) -> None:
        """lifecycle close_join: time put() of n items + close() + join_thread().

        The feeder thread starts sending at the first put(), so timing close() + join_thread()
        alone would leave out the items it flushed during the puts (overstating the flush
        rate by 12-19% here): the clock starts before the first put() and stops when
        join_thread() returns -- the time to hand n items to a Queue and flush them all."""
        q, clock = self.ep.out_q, time.perf_counter_ns
        put, payload = q.put, self.payload
        t0 = clock()
        if self.fault:
            for seq in range(first, first + n):
                for out in self.faulty(seq, (seq, payload)):
                    put(out)
        else:
            for seq in range(first, first + n):
                put((seq, payload))
        t_put_ns = clock()
        q.close()
        q.join_thread()
        self.control.send(("done", t0, clock(), {"put_ns": t_put_ns - t0}))


class _Producer:
    """A producer with options (fan, backpressure, nowait, rate); see Worker.produce."""

    def __init__(self, worker: Worker, opts: dict[str, Any]) -> None:
        self.w = worker
        self.fan = opts.get("fan", False)
        self.block = opts.get("block", False)
        self.nowait = opts.get("nowait", False)
        self.rate_per_s = float(opts.get("rate_per_s", 0.0))
        self.end_marker = opts.get("end_marker", False)  # fan over pipe pairs: one per pair
        self.sent_delta = 0  # messages a fault removed (-) or added (+)

    def run(self, n: int, first: int) -> tuple[Any, ...]:
        if self.w.fault or self.block or self.rate_per_s:
            return self._general(n, first)
        return self._plain(n, first)

    def _plain(self, n: int, first: int) -> tuple[Any, ...]:
        """fan and nowait without faults: number the message, send it (to the endpoints in
        turn), nothing else inside the clock."""
        w = self.w
        sends = [ep.send_nowait if self.nowait else ep.send for ep in w.eps]
        k, base = len(sends), fan_seq(w.index, first) if self.fan else first
        frame, payload, pack_into = w.frame, w.payload, SEQ.pack_into
        clock, retries = time.perf_counter_ns, 0
        t_start_ns = clock()
        if self.nowait:  # queues: object wire, one endpoint
            send = sends[0]
            for seq in range(base, base + n):
                retries += send((seq, payload))
        elif frame is not None:
            for i in range(n):
                pack_into(frame, 0, base + i)
                sends[i % k](frame)
        else:
            for i in range(n):
                sends[i % k]((base + i, payload))
        t_end_ns = clock()
        self._end_pairs()
        stats = {"blocked_ns": 0, "peak_depth": None, "retries": retries, "sent": n}
        return ("done", t_start_ns, t_end_ns, stats)

    def _general(self, n: int, first: int) -> tuple[Any, ...]:
        """Faults, timed blocking puts with depth sampling, or an offered rate."""
        w, eps = self.w, self.w.eps
        sends = [ep.send_nowait if self.nowait else ep.send for ep in eps]
        clock = time.perf_counter_ns
        stats: dict[str, Any] = {"blocked_ns": 0, "peak_depth": None, "retries": 0}
        interval_ns = 1e9 / self.rate_per_s if self.rate_per_s else 0.0
        sleep = time.sleep
        yield_gil = any(ep.sends_in_thread for ep in eps)
        faulty = self._counted(w.faulty) if w.fault else _unchanged  # no count without faults
        t_start_ns = clock()
        for i in range(n):
            seq = fan_seq(w.index, first + i) if self.fan else first + i
            msg = w.message(seq)
            if interval_ns:
                intended_ns = t_start_ns + int(i * interval_ns)
                while clock() < intended_ns:  # spin: sleeping is far too coarse here
                    if yield_gil:
                        sleep(0)  # a Queue's feeder thread needs the GIL to send anything
                msg = (*msg, intended_ns)
            for out in faulty(first + i, msg):
                t0 = clock()
                retries = sends[i % len(sends)](out)
                if self.block:
                    stats["blocked_ns"] += clock() - t0
                if self.nowait:
                    stats["retries"] += retries
            if self.block and i % DEPTH_EVERY == 0:
                stats["peak_depth"] = _max_depth(stats["peak_depth"], eps[0])
        t_end_ns = clock()
        self._end_pairs()
        stats["sent"] = n + self.sent_delta
        return ("done", t_start_ns, t_end_ns, stats)

    def _end_pairs(self) -> None:
        """After the clock: an end marker on every pipe pair, so each consumer knows this
        producer is done with it (a message lost before it is then an error at once)."""
        if self.end_marker:
            marker = end_marker(self.w.wire)
            for ep in self.w.eps:
                ep.send(marker)

    def _counted(self, faulty: Callable[[int, Any], list[Any]]) -> Callable[[int, Any], list[Any]]:
        """``faulty`` that also counts the messages a fault removed or added (fan consumers
        stop at the number actually sent; the exactly-once check then names what is missing)."""

        def counted(seq: int, msg: Any) -> list[Any]:
            out = faulty(seq, msg)
            self.sent_delta += len(out) - 1
            return out

        return counted


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _until_end_marker(ep: Any, receiver: FanReceiver) -> None:
    """Read a pipe pair up to its end marker (untimed): anything before it is checked, and
    raises (a duplicate, or a message from outside the batch)."""
    while True:
        try:
            receiver.accept(ep.recv())
        except PairEnded:
            return


def _unchanged(seq: int, msg: Any) -> tuple[Any, ...]:
    return (msg,)


def _max_depth(current: Any, ep: Any) -> Any:
    """Peak queue depth so far; "unavailable" where qsize() is not implemented (macOS)."""
    if current == "unavailable":
        return current
    try:
        depth = ep.out_q.qsize()
    except NotImplementedError:
        return "unavailable"
    return depth if current is None else max(current, depth)


def _apply_fault(fault: str, seq: int, msg: Any) -> list[Any]:
    if fault == "drop":
        return []
    if fault == "duplicate":
        return [msg, msg]
    if fault == "hang":
        time.sleep(3600)
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "raise":
        raise RuntimeError(f"injected fault at message {seq}")
    return [_damage(msg, fault)]


def _damage(msg: Any, fault: str) -> Any:
    """A truncated or corrupted copy of a message (object tuple or bytes frame). Corruption
    hits the middle of the payload (one byte flipped, or the middle item replaced), where a
    check of the head and tail alone would miss it."""
    if isinstance(msg, tuple):
        seq, payload, *rest = msg
        if fault == "truncate":
            return (seq, payload[:-1], *rest)
        mid = len(payload) // 2
        if isinstance(payload, bytes):
            return (seq, _flip(payload, mid), *rest)
        return (seq, [*payload[:mid], (-1, 0.0, "corrupt"), *payload[mid + 1 :]], *rest)
    data = bytes(msg)
    if fault == "truncate":
        return data[:-1]
    return _flip(data, SEQ.size + (len(data) - SEQ.size) // 2)


def _flip(data: bytes, index: int) -> bytes:
    """``data`` with the byte at ``index`` inverted."""
    return data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]
