"""The "ndarray" payload kind: a NumPy float64 array, built, carried, checked whole, refused
where it cannot be (bytes-wire channels, sizes that are no whole number of elements)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy
import pytest
from conftest import leftover_processes, run_with_fault

from ipcbench import cli
from ipcbench.errors import DeliveryError, IpcbenchError
from ipcbench.harness.settings import build_settings
from ipcbench.harness.sweep import expand
from ipcbench.measure.verify import ARRAY_BLOCK, BatchCheck, ContentSample, Verifier, receive
from ipcbench.measure.workers import _damage
from ipcbench.transports import get as get_transport
from ipcbench.transports.base import ChannelSpec
from ipcbench.transports.pipe_oob import OobConn
from ipcbench.wire import make_payload, new_frame, payload_fits, stamp, template, wire_bytes

KIB64 = 64 * 1024
LANES = ("pipe", "queue", "pipe_oob", "thread_queue")
SHM_LANES = ("shm_handoff", "shm_ring")


def test_the_payload_is_a_read_only_float64_array_of_size_over_8_elements() -> None:
    payload, check = make_payload("ndarray", KIB64)
    assert type(payload) is numpy.ndarray and payload.dtype == numpy.float64
    assert payload.shape == (KIB64 // 8,) and payload.nbytes == KIB64
    assert payload.flags.c_contiguous and not payload.flags.writeable
    assert check.length == len(payload) == KIB64 // 8  # what the timed loops compare
    assert numpy.isfinite(payload).all() and len(numpy.unique(payload)) > KIB64 // 16
    assert numpy.array_equal(payload, template("ndarray", KIB64))
    assert KIB64 < wire_bytes("ndarray", payload, "object") < KIB64 + 200


@pytest.mark.parametrize("size", [0, 1, 7, 12, 65537])
def test_sizes_that_are_no_whole_number_of_elements_do_not_fit(size: int) -> None:
    assert not payload_fits("ndarray", size) and payload_fits("bytes", size)
    with pytest.raises(ValueError, match="multiple of 8"):
        template("ndarray", size)


def test_the_check_finds_a_change_anywhere_in_the_array() -> None:
    size = 3 * ARRAY_BLOCK * 8  # three compare blocks
    payload, check = make_payload("ndarray", size)
    Verifier(check).message((0, payload.copy()))  # an equal copy passes
    for index in (0, ARRAY_BLOCK - 1, ARRAY_BLOCK + 5, len(payload) - 1):
        changed = payload.copy()
        changed.view("u8")[index] ^= 1  # the lowest mantissa bit
        with pytest.raises(DeliveryError, match=f"corrupted: element {index} differs"):
            Verifier(check).message((0, changed))
    for wrong in (payload.astype(numpy.float32), payload.reshape(2, -1), payload.tobytes()):
        with pytest.raises(DeliveryError, match=r"corrupted|truncated"):
            Verifier(check).message((0, wrong))
    with pytest.raises(DeliveryError, match="truncated"):
        Verifier(check).message((0, payload[:-1]))


@pytest.mark.parametrize(
    ("damaged_at", "fault", "reason"),
    [(0, "corrupt", "corrupted"), (299, "corrupt", "corrupted"), (150, "truncate", "truncated")],
)
def test_a_timed_batch_checks_array_lengths_inside_and_content_after(
    damaged_at: int, fault: str, reason: str
) -> None:
    """Inside the loop only len(payload) (elements) and the seq; the first message (sampled)
    and the last are compared whole after the clock."""
    payload, check = make_payload("ndarray", 4096)
    msgs = [(seq, payload) for seq in range(300)]
    clean = BatchCheck(check, "object", 0, len(msgs), ContentSample(check, "object"))
    clean.finish(receive(iter(msgs).__next__, clean))
    msgs[damaged_at] = _damage(msgs[damaged_at], fault)
    batch = BatchCheck(check, "object", 0, len(msgs), ContentSample(check, "object"))
    with pytest.raises(DeliveryError, match=reason):
        batch.finish(receive(iter(msgs).__next__, batch))


@pytest.mark.parametrize(("fault", "reason"), [("corrupt", "corrupted"), ("truncate", "truncated")])
def test_the_faults_damage_an_array_payload_in_a_copy(fault: str, reason: str) -> None:
    payload, check = make_payload("ndarray", 4096)
    damaged = _damage((1, payload), fault)
    assert numpy.array_equal(payload, template("ndarray", 4096))  # the template is untouched
    with pytest.raises(DeliveryError, match=reason):
        Verifier(check, 1).message(damaged)


def test_pipe_oob_sends_an_array_out_of_band() -> None:
    """NumPy arrays reduce to a PickleBuffer under protocol 5: the stream is small and the
    array's buffer follows raw; the receiver gets an equal array back."""
    import multiprocessing

    a, b = multiprocessing.get_context("fork").Pipe(duplex=True)
    payload, check = make_payload("ndarray", KIB64)
    sender, receiver = OobConn(a, None), OobConn(None, b)
    try:
        thread = threading.Thread(target=sender.send, args=((7, payload),))
        thread.start()
        stream = b.recv_bytes()
        assert len(stream) < 200  # seq, dtype, shape and a buffer reference, not 64 KiB
        assert len(pickle.dumps((7, payload), protocol=5)) > KIB64  # in band: all of it
        assert b.poll(10) and b.recv_bytes() == payload.tobytes()
        thread.join()
        thread = threading.Thread(target=sender.send, args=((8, payload),))
        thread.start()
        got = receiver.recv()
        thread.join()
        Verifier(check, 8).message(got)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("lane", SHM_LANES)
def test_shared_memory_lanes_view_each_frame_received_as_the_array_sent(lane: str) -> None:
    """Copied in (the frame holds the array's bytes), viewed out: ``end.array`` is a float64
    view of the received frame, no copy, equal to the sender's array in every bit."""
    import multiprocessing

    payload, check = make_payload("ndarray", KIB64)
    frame = new_frame(payload)
    spec = ChannelSpec(KIB64, payload_kind="ndarray")
    channel = get_transport(lane)().open(multiprocessing.get_context("fork"), spec, False)
    try:
        channel.child.send(stamp(frame, 5))
        got = channel.parent.recv()
        array = channel.parent.array
        assert isinstance(array, numpy.ndarray) and array.dtype == numpy.float64
        assert not array.flags.owndata and numpy.shares_memory(array, numpy.frombuffer(got, "u1"))
        assert numpy.array_equal(array.view("u8"), payload.view("u8"))
        assert Verifier(check, 5).open_frame(got) == 5
        del array, got
    finally:
        channel.parent.close()
        channel.child.close()


@pytest.mark.parametrize(("fault", "reason"), [("corrupt", "corrupted"), ("truncate", "truncated")])
def test_a_damaged_array_frame_is_named(fault: str, reason: str) -> None:
    payload, check = make_payload("ndarray", KIB64)
    damaged = _damage(bytes(stamp(new_frame(payload), 1)), fault)
    with pytest.raises(DeliveryError, match=reason):
        Verifier(check, 1).frame(damaged)


def test_bytes_wire_channels_and_unfit_sizes_get_no_ndarray_case() -> None:
    settings = build_settings(
        {
            "transports": "pipe,raw_pipe,shm_handoff",
            "patterns": "stream",
            "sizes": "12,64",
            "payload_kinds": "bytes,ndarray",
            "start_methods": "fork",
        }
    )
    cases = {(c.transport, c.payload_kind, c.payload_bytes) for c in expand(settings)}
    assert cases == {
        *((t, "bytes", n) for t in ("pipe", "raw_pipe", "shm_handoff") for n in (12, 64)),
        ("pipe", "ndarray", 64),
        ("shm_handoff", "ndarray", 64),
    }
    assert get_transport("raw_pipe").payload_kinds() == ("bytes",)
    assert "ndarray" in get_transport("pipe_oob").payload_kinds()


def test_patterns_that_move_no_payload_run_with_bytes() -> None:
    """startup times process starts, one of them NumPy's import: an ndarray payload would
    have imported NumPy into the driver already."""
    settings = build_settings(
        {"transports": "pipe", "patterns": "startup", "payload_kinds": "ndarray"}
    )
    cases = expand(settings)
    assert cases and {c.payload_kind for c in cases} == {"bytes"}


def test_ndarray_with_no_size_that_fits_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(IpcbenchError, match="multiple of 8 bytes"):
        build_settings({"transports": "pipe", "payload_kinds": "bytes,ndarray", "sizes": "12"})
    args = ["-t", "pipe", "-p", "stream", "--payload-kinds", "ndarray", "-s", "4,12"]
    out = subprocess.run(
        [sys.executable, "-m", "ipcbench", "run", *args, "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "add one (64" in out.stderr
    assert not (tmp_path / "out").exists()


def test_run_help_names_ndarray() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ipcbench", "run", "--help"], capture_output=True, text=True
    )
    assert "ndarray" in out.stdout


def test_sweep_under_fork_and_a_report(run_sweep: Any, tmp_path: Path) -> None:
    rows = run_sweep(
        transports=",".join(LANES),
        patterns="pingpong,stream",
        sizes="8,64K",
        payload_kinds="ndarray",
        start_methods="fork",
    )
    assert [r for r in rows if r["status"] != "ok"] == []
    got = {(r["transport"], r["pattern"], r["payload_kind"], r["payload_bytes"]) for r in rows}
    assert got == {
        (t, p, "ndarray", n) for t in LANES for p in ("pingpong", "stream") for n in (8, KIB64)
    }
    assert cli.main(["report", str(tmp_path / "results"), "-o", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "report.md").read_text().count("ndarray") > 0


def test_sweep_under_spawn(run_sweep: Any) -> None:
    rows = run_sweep(
        transports="pipe_oob,queue,shm_handoff,shm_ring",
        patterns="pingpong,stream",
        sizes="64K",
        payload_kinds="ndarray",
        start_methods="spawn",
        repeats=1,
    )
    lanes = ("pipe_oob", "queue", "shm_handoff", "shm_ring")
    assert {(r["transport"], r["pattern"], r["payload_kind"], r["status"]) for r in rows} == {
        (t, p, "ndarray", "ok") for t in lanes for p in ("pingpong", "stream")
    }


def test_shared_memory_lanes_carry_arrays_in_every_pattern(run_sweep: Any) -> None:
    rows = run_sweep(
        transports=",".join(SHM_LANES),
        patterns="pingpong,stream,fan",
        sizes="8,64K",
        payload_kinds="ndarray",
        start_methods="fork",
        producers="2",
        consumers="2",
        repeats=1,
    )
    assert {(r["transport"], r["pattern"], r["payload_bytes"], r["status"]) for r in rows} == {
        (t, p, n, "ok")
        for t in SHM_LANES
        for p in ("pingpong", "stream", "fan")
        for n in (8, KIB64)
    }


@pytest.mark.parametrize(
    ("transport", "pattern", "fault", "reason"),
    [
        ("pipe", "stream", "corrupt", "corrupted"),
        ("pipe_oob", "pingpong", "corrupt", "corrupted"),
        ("queue", "stream", "drop", "lost"),
        ("thread_queue", "stream", "drop", "lost"),
        ("shm_handoff", "stream", "corrupt", "corrupted"),
        ("shm_ring", "pingpong", "truncate", "truncated"),
        ("shm_ring", "fan", "corrupt", "corrupted"),
    ],
)
def test_delivery_faults_on_arrays_are_errors(
    tmp_path: Path, transport: str, pattern: str, fault: str, reason: str
) -> None:
    rows = run_with_fault(
        tmp_path,
        fault,
        transports=transport,
        patterns=pattern,
        sizes="4K",
        payload_kinds="ndarray",
        start_methods="fork",
        producers="2",  # fan: one 2x2 case (the whole grid is 16 cases of the same check)
        consumers="2",
    )
    assert rows and {r["status"] for r in rows} == {"error"}, rows
    assert all(reason in r["error"] for r in rows), [r["error"] for r in rows]
    assert leftover_processes() == []
