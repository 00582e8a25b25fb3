"""Fixtures for the pytest-benchmark microbenchmarks (``bench/test_micro_*.py``).

Round trips reuse ipcbench's own pingpong Session and echo worker: the fixture starts the
session (channel + echo child, pinned per ``--ipcbench-placement``) outside any timed call and
tells the child to echo an unbounded number of messages; each timed call is then exactly one
send + receive + delivery check of a sequence-numbered message. Teardown kills the child (it
is still waiting for the next message) and releases the channel.

    pytest bench/ --benchmark-enable                      # time them (see the Makefile)
    pytest bench/ --benchmark-disable -q                  # run each once (tests do this)
    pytest bench/ --benchmark-enable --ipcbench-placement same -k roundtrip
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ipcbench import transports
from ipcbench.harness.driver import placement_cpus
from ipcbench.measure.patterns import open_session
from ipcbench.measure.patterns.pingpong import PingPong
from ipcbench.measure.verify import Verifier
from ipcbench.params import PLACEMENTS, Case
from ipcbench.wire import new_frame, stamp

ECHO_FOREVER = 2**62  # messages the echo child expects: more than any benchmark sends


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("ipcbench")
    group.addoption(
        "--ipcbench-placement",
        default="unpinned",
        choices=PLACEMENTS,
        help="CPU placement of this process and the echo child (default: unpinned)",
    )
    group.addoption(
        "--ipcbench-start-method",
        default="fork",
        choices=multiprocessing.get_all_start_methods(),
        help="how the echo child is started (default: fork)",
    )


def require(name: str) -> type[transports.Transport]:
    """The transport class, or skip the test naming why it cannot run here."""
    cls = transports.get(name)
    reason = cls.unavailable_reason()
    if reason:
        pytest.skip(reason)
    return cls


class RoundTrip:
    """One timed call = one round trip of the next sequence number through the echo child."""

    def __init__(self, session: PingPong) -> None:
        assert session.channel is not None
        self.seq = session.take_seqs(ECHO_FOREVER)
        self.verifier = Verifier(session.check, self.seq)
        self.payload = session.payload
        self.frame = new_frame(session.payload) if session.transport.wire == "bytes" else None
        # sequence and length only: a whole-payload check would be timed with every call
        v = self.verifier
        self.check = v.message_in_order if self.frame is None else v.frame_in_order
        parent, child = session.channel.parent, session.channel.child
        self.send, self.recv = parent.send, parent.recv
        self.inline = session.transport.in_process
        self.child_send, self.child_recv = child.send, child.recv

    def __call__(self) -> None:
        seq = self.seq
        self.seq = seq + 1
        msg = (seq, self.payload) if self.frame is None else stamp(self.frame, seq)
        self.send(msg)
        if self.inline:  # floors: the echo runs in this process
            self.child_send(self.child_recv())
        self.check(self.recv())


def _watched(sessions: list[PingPong]) -> Callable[[Any], None]:
    """Before start(): keep the session for teardown; the watcher thread signals SIGUSR1 if
    the child dies: turn it into an exception."""

    def started(session: Any) -> None:
        sessions.append(session)
        signal.signal(signal.SIGUSR1, _raise_child_failure(session))

    return started


def _raise_child_failure(session: PingPong) -> Callable[[int, Any], None]:
    def handler(signum: int, frame: Any) -> None:
        failure = session.children.failure
        raise failure if failure is not None else RuntimeError("echo child died")

    return handler


@pytest.fixture
def roundtrip(request: Any) -> Iterator[Callable[..., RoundTrip]]:
    """roundtrip(transport, payload_bytes=64, kind="bytes") -> a started RoundTrip."""
    placement_name = request.config.getoption("--ipcbench-placement")
    placement = placement_cpus(placement_name)
    if isinstance(placement, str):
        pytest.skip(placement)
    method = request.config.getoption("--ipcbench-start-method")
    sessions: list[PingPong] = []
    old_affinity = os.sched_getaffinity(0)
    old_handler = signal.getsignal(signal.SIGUSR1)

    def start(name: str, payload_bytes: int = 64, kind: str = "bytes") -> RoundTrip:
        require(name)
        case = Case(name, "pingpong", payload_bytes, kind, method, placement=placement_name)
        session = open_session(case, placement, started=_watched(sessions))
        assert isinstance(session, PingPong)
        rt = RoundTrip(session)  # reserves the sequence numbers the child will echo
        if session.controls:
            session.controls[0].send(("run", ECHO_FOREVER, rt.seq))
        for _ in range(3):  # first use opens lazy sockets, allocates buffers
            rt()
        return rt

    try:
        yield start
    finally:
        for session in sessions:
            session.close(graceful=False)  # the child waits for more messages: kill it
        signal.signal(signal.SIGUSR1, old_handler)
        os.sched_setaffinity(0, old_affinity)
