"""shm_ring: real sweeps (fork, spawn), stress across processes, faults, nothing left behind."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any

import pytest
from conftest import leftover_processes, run_with_fault, shm_entries

from ipcbench.transports.base import ChannelSpec
from ipcbench.transports.shm_ring import (
    MIN_CAPACITY_BYTES,
    NAME_PREFIX,
    ShmRingTransport,
    record_bytes,
    ring_capacity,
)
from ipcbench.wire import SEQ, new_frame, stamp

STRESS_MESSAGES = 60_000  # 64 B payloads: the 64 KiB ring wraps about 70 times


def _sizes(seq: int, payload_bytes: int) -> int:
    """A frame length for message ``seq``: mostly whole frames, some short ones (as end
    markers and truncated frames are), so wrap markers fall at every offset."""
    return SEQ.size + (payload_bytes if seq % 7 else (seq * 13) % (payload_bytes + 1))


def _payload(seq: int, payload_bytes: int) -> bytes:
    """Different for each of 256 consecutive messages."""
    start = seq % 256
    return (bytes(range(256)) * (payload_bytes // 256 + 2))[start : start + payload_bytes]


def _produce(ep: Any, n: int, payload_bytes: int) -> None:
    ep.in_child()
    frames = [stamp(new_frame(_payload(s, payload_bytes)), 0) for s in range(256)]
    for seq in range(n):
        frame = frames[seq % 256]
        SEQ.pack_into(frame, 0, seq)
        ep.send(memoryview(frame)[: _sizes(seq, payload_bytes)])
    ep.close()


def _echo(ep: Any, n: int) -> None:
    ep.in_child()
    for _ in range(n):
        ep.send(ep.recv())
    ep.close()


def _fds() -> int:
    """Open fds of this process (the resource tracker's pipe, opened once, not counted)."""
    resource_tracker.ensure_running()
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize(
    ("start_method", "payload_bytes", "n"),
    [("fork", 56, STRESS_MESSAGES), ("spawn", 56, STRESS_MESSAGES), ("fork", 70_000, 400)],
)
def test_stream_stress_every_frame_exactly_once(
    start_method: str, payload_bytes: int, n: int
) -> None:
    """Every frame arrives once, in order, whole, while the ring wraps many times (both
    doorbells used: the consumer checks content, so the producer fills the ring and waits)."""
    fds_before = _fds()
    ctx: Any = multiprocessing.get_context(start_method)
    spec = ChannelSpec(payload_bytes)
    channel = ShmRingTransport().open(ctx, spec, duplex=False)
    assert n * record_bytes(spec.frame_bytes) > 20 * ring_capacity(spec.frame_bytes)
    proc = ctx.Process(target=_produce, args=(channel.child, n, payload_bytes))
    proc.start()
    channel.child.close()
    recv, payloads = channel.parent.recv, [_payload(s, payload_bytes) for s in range(256)]
    for seq in range(n):
        got = recv()
        size = _sizes(seq, payload_bytes)
        assert len(got) == size and SEQ.unpack_from(got)[0] == seq, seq
        assert got[SEQ.size :] == payloads[seq % 256][: size - SEQ.size], seq
    with pytest.raises(EOFError):  # the producer closed: no hang, no phantom frame
        recv()
    proc.join(10)
    assert proc.exitcode == 0
    proc.close()
    del got  # a frame still referenced keeps its mapping (and the map's fd) until it goes
    channel.close()
    assert _fds() == fds_before
    assert shm_entries(f"{NAME_PREFIX}{os.getpid()}_") == set()


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_pingpong_round_trips(start_method: str) -> None:
    ctx: Any = multiprocessing.get_context(start_method)
    channel = ShmRingTransport().open(ctx, ChannelSpec(56), duplex=True)
    n = 5000
    proc = ctx.Process(target=_echo, args=(channel.child, n))
    proc.start()
    channel.child.close()
    frame = new_frame(_payload(1, 56))
    for seq in range(n):
        channel.parent.send(stamp(frame, seq))
        got = channel.parent.recv()
        assert got == frame, seq
    proc.join(10)
    assert proc.exitcode == 0
    channel.close()


def test_sweep_under_fork(run_sweep: Any) -> None:
    before = shm_entries(NAME_PREFIX)
    rows = run_sweep(
        transports="shm_ring",
        patterns="pingpong,stream,fan",
        sizes="64,70K",
        producers="2",
        consumers="2",
        start_methods="fork",
        repeats=1,  # every case once (rounds are tested in test_rounds.py)
    )
    assert {(r["pattern"], r["payload_bytes"], r["status"]) for r in rows} == {
        (p, s, "ok") for p in ("pingpong", "stream", "fan") for s in (64, 70 * 1024)
    }
    assert shm_entries(NAME_PREFIX) <= before


def test_sweep_under_spawn_and_fan_8x8(run_sweep: Any) -> None:
    """Spawned children get the segments' and doorbells' fds; fan 8x8 proves exactly-once
    over 64 rings (fork: quick to start)."""
    rows = run_sweep(
        transports="shm_ring",
        patterns="pingpong,fan",
        sizes="64",
        producers="2",
        consumers="2",
        start_methods="spawn",
        repeats=1,
    )
    rows += run_sweep(
        transports="shm_ring",
        patterns="fan",
        sizes="64",
        producers="8",
        consumers="8",
        start_methods="fork",
        repeats=1,
    )
    assert sorted((r["pattern"], r["status"]) for r in rows) == [
        ("fan", "ok"),
        ("fan", "ok"),
        ("pingpong", "ok"),
    ], [r["error"] for r in rows]
    assert shm_entries(f"{NAME_PREFIX}{os.getpid()}_") == set()


@pytest.mark.parametrize(
    ("pattern", "fault", "reason"),
    [
        ("stream", "corrupt", "corrupted"),
        ("pingpong", "truncate", "truncated"),
        ("fan", "drop", "lost"),
    ],
)
def test_delivery_faults_are_errors(tmp_path: Path, pattern: str, fault: str, reason: str) -> None:
    rows = run_with_fault(
        tmp_path,
        fault,
        transports="shm_ring",
        patterns=pattern,
        sizes="4K",
        start_methods="fork",
        producers="2",
        consumers="2",
    )
    assert rows and {r["status"] for r in rows} == {"error"}, rows
    assert all(reason in r["error"] for r in rows)
    assert leftover_processes() == []


@pytest.mark.parametrize(("pattern", "start_method"), [("stream", "fork"), ("pingpong", "spawn")])
def test_killed_child_leaves_no_segment(tmp_path: Path, pattern: str, start_method: str) -> None:
    before = shm_entries(NAME_PREFIX)
    rows = run_with_fault(
        tmp_path,
        "kill",
        transports="shm_ring",
        patterns=pattern,
        sizes="64",
        start_methods=start_method,
        timeout=20,
    )
    assert {r["status"] for r in rows} == {"crash"}, rows
    assert all("killed by signal 9" in r["error"] for r in rows)
    assert leftover_processes() == []
    assert shm_entries(NAME_PREFIX) <= before


def test_segment_unlinked_frames_in_place_and_no_fd_leak() -> None:
    """The name is gone before open() returns; recv returns a view into the ring; a frame
    longer than the case's is refused; closing releases every fd."""
    fds_before = _fds()
    ctx = multiprocessing.get_context("fork")
    spec = ChannelSpec(64)
    channel = ShmRingTransport().open(ctx, spec, duplex=True)
    try:
        assert shm_entries(f"{NAME_PREFIX}{os.getpid()}_") == set()
        assert ring_capacity(spec.frame_bytes) == MIN_CAPACITY_BYTES
        frame = new_frame(bytes(range(64)))
        channel.parent.send(stamp(frame, 3))
        got = channel.child.recv()
        assert isinstance(got, memoryview) and got == frame
        with pytest.raises(ValueError, match="sized for"):
            channel.parent.send(bytes(len(frame) + 1))
        channel.child.send(SEQ.pack(9))  # a short frame (an end marker)
        assert bytes(channel.parent.recv()) == SEQ.pack(9)
        del got
    finally:
        channel.close()
    assert _fds() == fds_before


def test_ready_among_waits_on_several_rings() -> None:
    """A consumer of two rings sleeps until either has a frame, and sees EOF of a producer
    that closed with nothing left."""
    ctx: Any = multiprocessing.get_context("fork")
    a, b = (ShmRingTransport().open(ctx, ChannelSpec(8), duplex=False) for _ in range(2))
    eps = [a.parent, b.parent]
    proc = ctx.Process(target=_produce, args=(b.child, 3, 8))
    proc.start()
    b.child.close()
    got: list[int] = []
    while len(got) < 3:
        for ep in a.parent.ready_among(eps):
            got.append(SEQ.unpack_from(ep.recv())[0])
    assert got == [0, 1, 2]
    proc.join(10)
    a.child.close()
    with pytest.raises(EOFError):
        a.parent.ready_among(eps)
    a.close()
    b.close()


@pytest.mark.parametrize(
    ("fault", "status", "text"),
    [
        ("raise", "error", "RuntimeError: injected fault at message 1"),
        ("consumer_kill", "crash", "killed by signal 9"),
    ],
)
def test_fan_child_failures_are_reported(
    tmp_path: Path, fault: str, status: str, text: str
) -> None:
    before = shm_entries(NAME_PREFIX)
    rows = run_with_fault(
        tmp_path,
        fault,
        transports="shm_ring",
        patterns="fan",
        sizes="64",
        producers="2",
        consumers="2",
        start_methods="fork",
        timeout=20,
    )
    assert rows and {r["status"] for r in rows} == {status}, rows
    assert all(text in r["error"] for r in rows)
    assert leftover_processes() == []
    assert shm_entries(NAME_PREFIX) <= before


def _send_late(eps: list[Any]) -> None:
    """One frame on each endpoint in turn, each after the consumer has gone to sleep."""
    for seq, ep in enumerate(eps):
        time.sleep(0.2)
        ep.send(SEQ.pack(seq))
    time.sleep(0.5)


def test_ready_among_sleeps_on_the_rings_it_is_given() -> None:
    """A consumer whose live pairs change (one ended) sleeps on the remaining ring's doorbell,
    not on the one of an earlier call with as many rings (a hang, ended by the alarm)."""
    ctx: Any = multiprocessing.get_context("fork")
    a, b = (ShmRingTransport().open(ctx, ChannelSpec(8), duplex=False) for _ in range(2))
    proc = ctx.Process(target=_send_late, args=([a.child, b.child],))
    proc.start()
    a.child.close()
    b.child.close()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(10)
    try:
        assert a.parent.ready_among([a.parent]) == [a.parent]
        assert bytes(a.parent.recv()) == SEQ.pack(0)
        assert a.parent.ready_among([b.parent]) == [b.parent]
        assert bytes(b.parent.recv()) == SEQ.pack(1)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        proc.join(10)
        a.close()
        b.close()


def _alarm(signum: int, frame: Any) -> None:
    raise TimeoutError("ready_among did not wake up")
