"""pipe_oob and shm_handoff: real sweeps (fork, spawn), faults, and nothing left in /dev/shm."""

from __future__ import annotations

import errno
import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import leftover_processes, run_with_fault, shm_entries

from ipcbench.transports.base import ChannelSpec
from ipcbench.transports.pipe_oob import OobConn
from ipcbench.transports.shm_handoff import NAME_PREFIX, ShmHandoffTransport, pool_blocks
from ipcbench.wire import SEQ, new_frame, stamp

LANES = "pipe_oob,shm_handoff"


def test_list_shows_both_lanes() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ipcbench", "list"], capture_output=True, text=True, timeout=60
    )
    assert "  pipe_oob " in out.stdout and "  shm_handoff " in out.stdout


def test_sweep_under_fork(run_sweep: Any) -> None:
    before = shm_entries(NAME_PREFIX)
    rows = run_sweep(
        transports=LANES,
        patterns="pingpong,stream,fan,rate",
        sizes="70K",
        payload_kinds="bytes,object",
        producers="2",
        consumers="2",
        rates="50%",
        start_methods="fork",
        repeats=1,  # every case once (rounds are tested in test_rounds.py)
    )
    assert [r for r in rows if r["status"] != "ok"] == []
    cases = {(r["transport"], r["pattern"], r["payload_kind"]) for r in rows}
    assert cases == {
        *(
            ("pipe_oob", p, k)
            for p in ("pingpong", "stream", "fan", "rate")
            for k in ("bytes", "object")
        ),
        *(("shm_handoff", p, "bytes") for p in ("pingpong", "stream", "fan")),
    }
    assert shm_entries(NAME_PREFIX) <= before


def test_sweep_under_spawn(run_sweep: Any) -> None:
    """Spawned children get the segment's fd (not its name) and the pipes' fds; a fan
    consumer gets a list of endpoints."""
    rows = run_sweep(
        transports=LANES,
        patterns="pingpong,fan",
        sizes="64",
        producers="2",
        consumers="2",
        start_methods="spawn",
        repeats=1,
    )
    assert {(r["transport"], r["pattern"], r["status"]) for r in rows} == {
        (t, p, "ok") for t in LANES.split(",") for p in ("pingpong", "fan")
    }
    assert shm_entries(NAME_PREFIX) == set()


@pytest.mark.parametrize(
    ("transport", "pattern", "fault", "reason"),
    [
        ("pipe_oob", "stream", "drop", "lost"),
        ("pipe_oob", "pingpong", "corrupt", "corrupted"),
        ("shm_handoff", "stream", "corrupt", "corrupted"),
        ("shm_handoff", "pingpong", "truncate", "truncated"),
        ("shm_handoff", "fan", "drop", "lost"),
    ],
)
def test_delivery_faults_are_errors(
    tmp_path: Path, transport: str, pattern: str, fault: str, reason: str
) -> None:
    rows = run_with_fault(
        tmp_path,
        fault,
        transports=transport,
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
        transports="shm_handoff",
        patterns=pattern,
        sizes="64",
        start_methods=start_method,
        timeout=20,
    )
    assert {r["status"] for r in rows} == {"crash"}, rows
    assert all("killed by signal 9" in r["error"] for r in rows)
    assert leftover_processes() == []
    assert shm_entries(NAME_PREFIX) <= before  # (another run's, if any, are not ours)


def test_segment_is_unlinked_while_the_channel_is_open() -> None:
    """Nothing can survive a kill: the name is gone before open() returns. Frames are read
    in place, and a block comes back to the sender at the receiver's next recv."""
    ctx = multiprocessing.get_context("fork")
    channel = ShmHandoffTransport().open(ctx, ChannelSpec(4096), duplex=False)
    try:
        assert shm_entries(f"{NAME_PREFIX}{os.getpid()}_") == set()
        sender, receiver = channel.child, channel.parent
        blocks = pool_blocks(ChannelSpec(4096).frame_bytes)
        payload = bytes(range(256)) * 16
        frame = new_frame(payload)
        for seq in range(blocks):  # the whole pool, nothing received yet
            sender.send(stamp(frame, seq))
        for seq in range(blocks):
            got = receiver.recv()
            assert isinstance(got, memoryview) and SEQ.unpack_from(got)[0] == seq
            assert got[8:] == payload
        assert sender.free_blocks == []  # type: ignore[attr-defined]
        for seq in range(blocks - 1):  # blocks - 1 came back; the receiver holds the last
            sender.send(stamp(frame, seq))
        assert len(receiver.recv()) == len(frame)
    finally:
        channel.close()


def test_a_spawned_child_killed_leaves_nothing_for_the_tracker(tmp_path: Path) -> None:
    """A spawned producer maps the segment by fd, sends, and is killed; the driver's process
    exits without a resource-tracker warning and with no segment left."""
    script = tmp_path / "handoff_kill.py"
    script.write_text(
        textwrap.dedent(
            """
            import multiprocessing, os, signal
            from ipcbench.transports.base import ChannelSpec
            from ipcbench.transports.shm_handoff import ShmHandoffTransport
            from ipcbench.wire import SEQ, new_frame

            def produce(ep):
                ep.in_child()
                frame = new_frame(b"x" * 1000)
                for seq in range(3):
                    SEQ.pack_into(frame, 0, seq)
                    ep.send(frame)
                os.kill(os.getpid(), signal.SIGKILL)

            if __name__ == "__main__":
                ctx = multiprocessing.get_context("spawn")
                channel = ShmHandoffTransport().open(ctx, ChannelSpec(1000), duplex=False)
                proc = ctx.Process(target=produce, args=(channel.child,))
                proc.start()
                channel.child.close()
                proc.join()  # dead before the first recv: its blocks cannot be handed back
                got = [SEQ.unpack_from(channel.parent.recv())[0] for _ in range(3)]
                channel.close()
                print(got, proc.exitcode)
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[0,", "1,", "2]", "-9"]
    assert "resource_tracker" not in out.stderr and "leaked" not in out.stderr, out.stderr
    assert shm_entries(NAME_PREFIX) == set()


def test_pipe_oob_sends_the_payload_out_of_band() -> None:
    """The pickle stream is a few bytes; the payload follows raw, and comes back as bytes."""
    a, b = multiprocessing.get_context("fork").Pipe(duplex=True)
    payload = os.urandom(70 * 1024)
    sender = OobConn(a, None)
    thread = threading.Thread(target=sender.send, args=((7, payload),))
    thread.start()
    stream = b.recv_bytes()
    assert len(stream) < 100  # only the seq and a buffer reference
    assert b.poll(10), "no out-of-band buffer after the stream"
    assert b.recv_bytes() == payload
    thread.join()
    receiver = OobConn(None, b)
    for msg in ((8, payload), (9, [(1, 0.5, "x")] * 3), (10, payload, 123)):
        thread = threading.Thread(target=sender.send, args=(msg,))
        thread.start()
        got = receiver.recv()
        thread.join()
        assert got == msg and type(got[1]) is type(msg[1])
    a.close()
    b.close()


def test_a_pool_that_does_not_fit_is_an_error_in_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """posix_fallocate's ENOSPC (a small /dev/shm) is an OSError naming the pool, and the
    segment's fd is closed."""
    opened = len(os.listdir("/proc/self/fd"))

    def no_room(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", no_room)
    with pytest.raises(OSError, match="no room in /dev/shm"):
        ShmHandoffTransport().open(multiprocessing.get_context("fork"), ChannelSpec(64), True)
    assert len(os.listdir("/proc/self/fd")) == opened
    assert shm_entries(f"{NAME_PREFIX}{os.getpid()}_") == set()
