"""Peer transports (extra ``ipcbench[peers]``): faster-fifo and pyzmq, for real and when missing."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST, leftover_processes, run_with_fault

from ipcbench import cli, transports
from ipcbench.harness.runner import Runner
from ipcbench.harness.settings import build_settings
from ipcbench.transports import faster_fifo as ff
from ipcbench.transports.base import ChannelSpec
from ipcbench.transports.faster_fifo import buffer_bytes, message_bytes
from ipcbench.transports.zmq_ipc import high_water_mark
from ipcbench.wire import make_payload

PEERS = {"faster_fifo": "faster_fifo", "zmq_ipc": "zmq"}  # transport -> module it imports


def _require(name: str) -> None:
    reason = transports.get(name).unavailable_reason()
    if reason:
        pytest.skip(reason)


def _zmq_dirs() -> set[str]:
    return {d for d in os.listdir(tempfile.gettempdir()) if d.startswith("ipcbench-zmq-")}


@pytest.fixture
def run_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """run_sweep(**options) -> rows; afterwards, no process left and no semaphore of ours in
    /dev/shm. Ours = named with this test's prefix: other programs (other test runs on a
    shared machine) create and remove /dev/shm entries meanwhile, and comparing the whole
    folder before and after would count theirs. (faster-fifo's shared memory is
    multiprocessing's heap: its files are unlinked as soon as they are created.)"""
    marker = uuid.uuid4().hex[:10]
    config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    monkeypatch.setitem(config, "semprefix", f"/mpp{marker}")

    def _run(**options: Any) -> list[dict[str, Any]]:
        settings = build_settings({**FAST, "out": str(tmp_path / "results"), **options})
        return Runner(settings).run().rows

    yield _run
    assert leftover_processes() == []
    assert [n for n in os.listdir("/dev/shm") if marker in n] == []


@pytest.mark.parametrize("name", sorted(PEERS))
def test_peer_runs_under_fork_and_spawn(run_sweep: Any, name: str) -> None:
    _require(name)
    dirs_before = _zmq_dirs()
    kinds = transports.get(name).payload_kinds()
    rows = run_sweep(
        transports=name,
        patterns="pingpong,stream",
        sizes="64,70K",
        payload_kinds=",".join(kinds),
        start_methods="fork,spawn",
        repeats=1,  # every case once (rounds are tested in test_rounds.py)
    )
    failed = [(r["pattern"], r["start_method"], r["error"]) for r in rows if r["status"] != "ok"]
    assert failed == []  # ok means every message passed the sequence + checksum check
    cases = {(r["pattern"], r["payload_bytes"], r["payload_kind"], r["start_method"]) for r in rows}
    assert len(cases) == 2 * 2 * 2 * len(kinds)
    assert all(r["n_messages"] >= 2 and r["msgs_per_s"] > 0 for r in rows)
    assert all(r["lat_p50_us"] > 0 for r in rows if r["pattern"] == "pingpong")
    assert _zmq_dirs() - dirs_before == set()  # socket folders removed


@pytest.mark.parametrize(
    ("pattern", "fault", "status", "reason"),
    [
        ("pingpong", "kill", "crash", "killed by signal 9"),  # driver blocked in recv/get
        ("stream", "drop", "error", "lost"),
        ("pingpong", "corrupt", "error", "corrupted"),
    ],
)
@pytest.mark.parametrize("name", sorted(PEERS))
def test_peer_faults_end_as_the_right_status(
    tmp_path: Any, name: str, pattern: str, fault: str, status: str, reason: str
) -> None:
    _require(name)
    rows = run_with_fault(tmp_path, fault, transports=name, patterns=pattern, sizes="4K")
    assert (rows[-1]["status"], reason in rows[-1]["error"]) == (status, True), rows[-1]
    assert leftover_processes() == []


def test_faster_fifo_message_larger_than_default_buffer(run_sweep: Any) -> None:
    _require("faster_fifo")
    rows = run_sweep(
        transports="faster_fifo",
        patterns="stream,pingpong",
        sizes="2M",
        payload_kinds="object",
        repeats=1,
    )
    assert [r["status"] for r in rows] == ["ok", "ok"]


def test_faster_fifo_buffer_holds_the_pickled_message() -> None:
    _require("faster_fifo")
    for kind in ("bytes", "object"):
        payload, _ = make_payload(kind, 1024**2)
        assert message_bytes(payload) > 1024**2 * 0.9
        assert buffer_bytes(payload) >= 2 * message_bytes(payload) > 1_000_000  # over the default
    assert buffer_bytes(make_payload("bytes", 64)[0]) == 1_000_000


def test_faster_fifo_opens_from_the_spec_payload_and_refuses_none() -> None:
    """The buffer is sized by the session's payload, handed over in the spec (not rebuilt)."""
    _require("faster_fifo")
    payload, _ = make_payload("object", 1024**2)
    channel = transports.get("faster_fifo")().open(
        multiprocessing.get_context("fork"), ChannelSpec(1024**2, payload=payload), duplex=False
    )
    try:
        channel.child.send((0, payload))
        assert channel.parent.recv() == (0, payload)  # over the 1 MB default: the buffer fits it
    finally:
        channel.close()
    with pytest.raises(ValueError, match="payload"):
        transports.get("faster_fifo")().open(multiprocessing.get_context(), ChannelSpec(64), True)


def test_zmq_endpoint_pickles_to_its_address_only() -> None:
    _require("zmq_ipc")
    import multiprocessing

    spec = ChannelSpec(payload_bytes=64)
    channel = transports.get("zmq_ipc")().open(multiprocessing.get_context(), spec, duplex=True)
    try:
        state = pickle.loads(pickle.dumps(channel.child)).__getstate__()
        assert set(state) == {"address", "kind", "bind", "frame_bytes"}
        assert state["address"].startswith("ipc://") and state["bind"] is True
        assert channel.parent._sock is None  # type: ignore[attr-defined]  # made on first use
    finally:
        channel.close()
    assert not os.path.exists(state["address"].removeprefix("ipc://"))


def test_zmq_a_child_binds_at_start_and_connects_on_first_use() -> None:
    """A fan consumer child holds connecting ends: opened at its start, before the producers
    bound, each waited for ZeroMQ's 100 ms reconnect timer. The binding end opens in
    ``in_child`` (its socket file exists before the child reports ready), a connecting one
    when first used, and the frame goes through."""
    _require("zmq_ipc")
    import multiprocessing

    spec = ChannelSpec(payload_bytes=64)
    channel = transports.get("zmq_ipc")().open(multiprocessing.get_context(), spec, duplex=False)
    push, pull = channel.child, channel.parent  # PUSH binds, PULL connects
    try:
        pull.in_child()
        assert pull._sock is None  # type: ignore[attr-defined]
        push.in_child()
        assert push._sock is not None  # type: ignore[attr-defined]
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(bytes(pull.recv())), daemon=True)
        reader.start()  # a PUSH with no peer blocks: the first recv connects
        push.send(b"x" * 72)
        reader.join(30)
        assert got == [b"x" * 72]
    finally:
        push.close()
        pull.close()
        channel.close()


def test_zmq_high_water_mark_bounds_queued_bytes() -> None:
    assert high_water_mark(72) == 1000
    assert high_water_mark(16 * 1024**2 + 8) == 1
    assert high_water_mark(1024**2) * 1024**2 <= 32 * 1024**2


@pytest.mark.parametrize("name", sorted(PEERS))
def test_missing_package_gives_a_one_line_reason(monkeypatch: Any, name: str) -> None:
    monkeypatch.setitem(sys.modules, PEERS[name], None)  # import now raises ImportError
    reason = transports.get(name).unavailable_reason()
    assert reason is not None and "\n" not in reason
    assert "not installed" in reason and "ipcbench[peers]" in reason


def test_missing_peer_is_skipped_not_a_crash(run_sweep: Any, monkeypatch: Any, capsys: Any) -> None:
    for module in PEERS.values():
        monkeypatch.setitem(sys.modules, module, None)
    rows = run_sweep(transports="faster_fifo,zmq_ipc,pipe", patterns="pingpong", sizes="64")
    by_transport = {r["transport"]: r for r in rows}
    assert by_transport["pipe"]["status"] == "ok"
    for name in PEERS:
        assert by_transport[name]["status"] == "skipped"
        assert "not installed" in by_transport[name]["error"]
    assert cli.main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "faster_fifo" in listing and "[unavailable: faster-fifo is not installed" in listing
    assert "[unavailable: pyzmq is not installed" in listing


@pytest.mark.parametrize("name", sorted(PEERS))
def test_peer_takes_part_in_fan(run_sweep: Any, name: str) -> None:
    """faster-fifo: one shared multi-producer multi-consumer queue; zmq_ipc: one PUSH/PULL
    socket pair per producer x consumer, a consumer polling all of its sockets."""
    _require(name)
    dirs_before = _zmq_dirs()
    fan = {"transports": name, "patterns": "fan", "sizes": "1K", "repeats": 1}
    # fork: the grid of producers x consumers; spawn (the ends pickled into the children): its
    # largest point, several producers and consumers, each consumer on several sockets
    rows = run_sweep(**fan, producers="1,3", consumers="1,2", start_methods="fork")
    rows += run_sweep(**fan, producers="3", consumers="2", start_methods="spawn")
    assert [(r["start_method"], r["error"]) for r in rows if r["status"] != "ok"] == []
    shapes = {(r["start_method"], r["producers"], r["consumers"]) for r in rows}
    assert shapes == {("fork", p, c) for p in (1, 3) for c in (1, 2)} | {("spawn", 3, 2)}
    assert _zmq_dirs() - dirs_before == set()


@pytest.mark.parametrize(("fault", "reason"), [("drop", "lost"), ("duplicate", "duplicated")])
def test_faster_fifo_fan_delivery_faults_are_caught(tmp_path: Any, fault: str, reason: str) -> None:
    _require("faster_fifo")
    rows = run_with_fault(
        tmp_path,
        fault,
        transports="faster_fifo",
        patterns="fan",
        sizes="1K",
        producers="2",
        consumers="2",
    )
    assert (rows[-1]["status"], reason in rows[-1]["error"]) == ("error", True), rows[-1]
    assert leftover_processes() == []


# --- a worker killed while it holds faster-fifo's lock ----------------------------------------

LOCK_AND_DIE = textwrap.dedent(
    """
    import ctypes, os, signal, sys, threading
    from ipcbench.transports import faster_fifo as ff
    q = ff.new_queue(ff.MIN_BUFFER_BYTES)
    address = ctypes.addressof(q.queue_obj_buffer) + ff.MUTEX_OFFSET
    libc = ctypes.CDLL(None)
    pid = os.fork()
    if pid == 0:  # takes the queue's lock, as inside a put or get, and is killed holding it
        libc.pthread_mutex_lock(ctypes.c_void_p(address))
        os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)
    end = ff.FifoEnd(q, q)
    end.send((1, b"after the death"))  # blocked forever in pthread_mutex_lock before the fix
    print(end.recv())
    """
)


def test_faster_fifo_lock_held_by_a_dead_process_does_not_block_the_others() -> None:
    _require("faster_fifo")
    out = subprocess.run(
        [sys.executable, "-c", LOCK_AND_DIE], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(1, b'after the death')"


def test_faster_fifo_queue_lock_is_made_robust() -> None:
    _require("faster_fifo")
    import struct

    import faster_fifo

    plain = faster_fifo.Queue(max_size_bytes=ff.MIN_BUFFER_BYTES)
    assert ff._mutex_address(plain) is not None, "faster-fifo's layout changed: see the module"
    q = ff.new_queue(ff.MIN_BUFFER_BYTES)
    (kind,) = struct.unpack_from("i", bytes(q.queue_obj_buffer), ff.MUTEX_KIND_OFFSET)
    assert kind == ff.PSHARED_KIND | ff.ROBUST_KIND
    q.put(("x", 1), True, 1.0)
    assert q.get(True, 1.0) == ("x", 1)
    assert ff.make_lock_robust(object()) is False  # not a faster-fifo queue: left alone


def test_faster_fifo_worker_killed_holding_the_lock_is_a_crash(
    run_sweep: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The echo worker takes the lock of the queue the driver reads and is killed holding it
    (what SIGKILL from outside does at an unlucky moment): a crash naming the signal, not a
    watchdog timeout (the driver was blocked in C before the lock was made robust)."""
    _require("faster_fifo")
    import ctypes

    real_send = ff.FifoEnd.send

    def send(self: ff.FifoEnd, msg: Any) -> None:
        if multiprocessing.current_process().name.startswith("ipcbench-echo"):
            address = ctypes.addressof(self.out_q.queue_obj_buffer) + ff.MUTEX_OFFSET
            ctypes.CDLL(None).pthread_mutex_lock(ctypes.c_void_p(address))
            os.kill(os.getpid(), signal.SIGKILL)
        real_send(self, msg)

    monkeypatch.setattr(ff.FifoEnd, "send", send)  # the fork start method: workers inherit it
    rows = run_sweep(
        transports="faster_fifo",
        patterns="pingpong",
        sizes="64",
        start_methods="fork",
        repeats=1,
        timeout=20,
    )
    assert [(r["status"], "killed by signal 9" in r["error"]) for r in rows] == [("crash", True)]


# --- transports know a channel spec, not cases, patterns or sweeps ------------------------------

ONLY_TRANSPORTS = textwrap.dedent(
    """
    import importlib, pkgutil, sys
    import ipcbench.transports as t
    for m in pkgutil.iter_modules(t.__path__):
        importlib.import_module("ipcbench.transports." + m.name)
    t.all_transports()
    print(" ".join(sorted(n for n in sys.modules if n.startswith("ipcbench"))))
    """
)


def test_transports_import_neither_params_nor_measure_nor_harness() -> None:
    """Every transport module, imported in a fresh interpreter, loads no ipcbench module but
    the transports, the wire format and the errors (so no params, measure or harness, not
    even through another module)."""
    out = subprocess.run(
        [sys.executable, "-c", ONLY_TRANSPORTS], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    loaded = out.stdout.split()
    assert "ipcbench.transports.faster_fifo" in loaded and "ipcbench.wire" in loaded
    allowed = {"ipcbench", "ipcbench.errors", "ipcbench.wire", "ipcbench.transports"}
    others = [n for n in loaded if n not in allowed and not n.startswith("ipcbench.transports.")]
    assert others == []


def test_the_session_hands_its_own_payload_to_the_transport_in_the_spec() -> None:
    """The spec is built from the Case by the session; its payload is the session's own (one
    per process), so no transport builds another."""
    from ipcbench.measure.patterns.base import Placement
    from ipcbench.measure.patterns.stream import Stream
    from ipcbench.params import Case

    ctx = multiprocessing.get_context("fork")
    for maxsize, want in ((None, 0), (16, 16)):
        case = Case("queue", "stream", 4096, "object", maxsize=maxsize)
        session = Stream(case, transports.get("queue")(), ctx, Placement(None, None))
        assert session.spec == ChannelSpec(payload_bytes=4096, maxsize=want, payload_kind="object")
        assert session.spec.payload is session.payload
        session.close()  # nothing was started: releases the watcher's wake-up pipe
    assert ChannelSpec(4096).frame_bytes == 4096 + 8  # the sequence number's 8 bytes


def test_declared_endpoint_capabilities_hold_for_every_transport() -> None:
    """Fan over pipe pairs waits on many endpoints with ``ready_among``: every transport that
    declares ``fan_mode = "pairs"`` implements it; ``done_ns`` is declared on every endpoint
    (0 but after a JoinableQueue receiver's task_done())."""
    from ipcbench.transports.base import Endpoint

    ctx = multiprocessing.get_context("fork")
    payload, _ = make_payload("bytes", 64)
    for cls in transports.all_transports():
        if cls.unavailable_reason() or cls.in_process or "proxy_ops" in cls.patterns:
            continue
        channel = cls().open(ctx, ChannelSpec(64, payload=payload), duplex=False)
        try:
            waits_on_many = type(channel.parent).ready_among is not Endpoint.ready_among
            assert waits_on_many or cls.fan_mode != "pairs", cls.name
            assert channel.parent.done_ns == 0, cls.name
        finally:
            channel.close()
