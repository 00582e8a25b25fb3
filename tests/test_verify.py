from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from ipcbench.errors import DeliveryError
from ipcbench.measure.verify import (
    MIN_SAMPLE_PERIOD,
    SAMPLE_BUDGET_BYTES,
    BatchCheck,
    ContentSample,
    FanReceiver,
    PairEnded,
    Verifier,
    check_exactly_once,
    receive,
)
from ipcbench.measure.workers import _damage
from ipcbench.wire import (
    TEMPLATE_BLOCK_BYTES,
    bytes_template,
    end_marker,
    fan_seq,
    make_payload,
    new_frame,
    stamp,
)


@pytest.mark.parametrize("size", [8, 100, 192, 193, 4096, 1 << 20])
def test_good_frames_pass(size: int) -> None:
    payload, check = make_payload("bytes", size)
    verifier = Verifier(check)
    frame = new_frame(payload)
    for seq in range(3):
        verifier.frame(bytes(stamp(frame, seq)))
    assert verifier.expected == 3


@pytest.mark.parametrize("size", [1, 4096, TEMPLATE_BLOCK_BYTES, TEMPLATE_BLOCK_BYTES + 1, 3 << 20])
def test_bytes_template_is_deterministic_and_no_two_blocks_are_equal(size: int) -> None:
    payload = bytes_template(size)
    assert len(payload) == size and payload == bytes_template(size)
    block = TEMPLATE_BLOCK_BYTES
    blocks = [payload[at : at + block] for at in range(0, size, block)]
    assert len(set(blocks)) == len(blocks)  # a block sent in the wrong place is caught
    assert len(set(payload)) > min(size, 256) // 2  # not a constant or short-period fill


def test_a_block_delivered_in_the_wrong_place_is_caught() -> None:
    payload, check = make_payload("bytes", 4 * TEMPLATE_BLOCK_BYTES)
    block = TEMPLATE_BLOCK_BYTES
    swapped = payload[block : 2 * block] + payload[:block] + payload[2 * block :]
    with pytest.raises(DeliveryError):
        Verifier(check).frame(bytes(stamp(new_frame(swapped), 0)))


def _frames(size: int = 4096) -> tuple[Verifier, list[bytes]]:
    payload, check = make_payload("bytes", size)
    frame = new_frame(payload)
    return Verifier(check), [bytes(stamp(frame, s)) for s in range(4)]


def test_loss_caught() -> None:
    verifier, frames = _frames()
    verifier.frame(frames[0])
    with pytest.raises(DeliveryError, match="lost"):
        verifier.frame(frames[2])


def test_duplicate_caught() -> None:
    verifier, frames = _frames()
    verifier.frame(frames[0])
    with pytest.raises(DeliveryError, match="duplicated"):
        verifier.frame(frames[0])


def test_truncation_caught() -> None:
    verifier, frames = _frames()
    with pytest.raises(DeliveryError, match="truncated"):
        verifier.frame(frames[0][:-1])


@pytest.mark.parametrize("offset", [8, 1000, 2048 + 8, 3000, 4096 + 7])
def test_corruption_anywhere_in_a_frame_caught(offset: int) -> None:
    """The old head/middle/tail windows (192 B of 4 KiB) passed byte 1000 as ok."""
    verifier, frames = _frames()
    damaged = bytearray(frames[0])
    damaged[offset] ^= 0xFF
    with pytest.raises(DeliveryError, match=f"corrupted: byte {offset - 8} differs"):
        verifier.frame(damaged)


@pytest.mark.parametrize("size", [4096, 1 << 20])
def test_every_byte_of_a_frame_is_checked(size: int) -> None:
    payload, check = make_payload("bytes", size)
    frame = bytes(new_frame(payload))
    for offset in range(8, len(frame), max(1, size // 97)):
        damaged = bytearray(frame)
        damaged[offset] ^= 0x01
        with pytest.raises(DeliveryError, match="corrupted"):
            Verifier(check).frame(damaged)


def test_replaced_middle_item_caught() -> None:
    payload, check = make_payload("object", 4096)
    mid = len(payload) // 2
    damaged = [*payload[:mid], (-1, 0.0, "x"), *payload[mid + 1 :]]
    with pytest.raises(DeliveryError, match=f"corrupted: item {mid} differs"):
        Verifier(check).message((0, damaged))


def test_swapped_items_caught() -> None:
    payload, check = make_payload("object", 4096)
    damaged = list(payload)
    damaged[10], damaged[20] = damaged[20], damaged[10]
    with pytest.raises(DeliveryError, match="corrupted: item 10 differs"):
        Verifier(check).message((0, damaged))


def test_byte_3000_of_a_pickled_bytes_payload_caught() -> None:
    payload, check = make_payload("bytes", 4096)
    damaged = payload[:3000] + bytes([payload[3000] ^ 0xFF]) + payload[3001:]
    with pytest.raises(DeliveryError, match="corrupted: byte 3000 differs"):
        Verifier(check).message((0, damaged))


@pytest.mark.parametrize(
    ("kind", "wire"), [("bytes", "bytes"), ("bytes", "object"), ("object", "object")]
)
def test_injected_corruption_hits_the_middle_and_is_caught(kind: str, wire: str) -> None:
    """The fault injection flipped the first or last byte only, where the old windows looked."""
    payload, check = make_payload(kind, 4096)
    msg = bytes(new_frame(payload)) if wire == "bytes" else (0, payload)
    damaged = _damage(msg, "corrupt")
    verifier = Verifier(check)
    with pytest.raises(DeliveryError, match=r"corrupted: (byte|item) [0-9]+ differs"):
        (verifier.frame if wire == "bytes" else verifier.message)(damaged)
    if kind == "bytes":
        got = damaged if wire == "bytes" else damaged[1]
        body = got[8:] if wire == "bytes" else got
        assert body[:1000] == payload[:1000] and body[-1000:] == payload[-1000:]


def test_object_messages() -> None:
    payload, check = make_payload("object", 4096)
    verifier = Verifier(check)
    verifier.message((0, payload))
    with pytest.raises(DeliveryError, match="truncated"):
        verifier.message((1, payload[:-1]))
    verifier = Verifier(check)
    with pytest.raises(DeliveryError, match="corrupted"):
        verifier.message((0, [(-1, 0.0, "x"), *payload[1:]]))
    with pytest.raises(DeliveryError, match="malformed"):
        Verifier(check).message(payload)


def test_bytes_payload_over_object_wire() -> None:
    payload, check = make_payload("bytes", 1000)
    verifier = Verifier(check)
    verifier.message((0, payload))
    with pytest.raises(DeliveryError, match="corrupted"):
        verifier.message((1, bytes([payload[0] ^ 1]) + payload[1:]))


def test_object_payload_pickles_to_about_the_size() -> None:
    import pickle

    for size in (4096, 1 << 20):
        payload, _ = make_payload("object", size)
        assert 0.8 * size < len(pickle.dumps(payload, protocol=5)) < 1.2 * size


def test_fan_message_from_an_earlier_batch_is_a_duplicate() -> None:
    """A pipe pair's consumer stops at its expected count; a duplicate it did not read shows up
    in the next batch, numbered before that batch's first message."""
    payload, check = make_payload("bytes", 64)
    receiver = FanReceiver(check, "object", producers=2, n_per=4, first=5)
    receiver.accept((fan_seq(1, 5), payload))
    with pytest.raises(DeliveryError, match=r"producer 0 message 3 \(seq 3\): duplicated"):
        receiver.accept((fan_seq(0, 3), payload))


class _Feed:
    """recv() over a list of messages; frames go through one reused buffer, like raw_pipe."""

    def __init__(self, msgs: list[Any], reuse: bool) -> None:
        self.msgs = iter(msgs)
        self.reuse = reuse
        self.buf: bytearray | None = None

    def __call__(self) -> Any:
        msg = next(self.msgs)
        if not self.reuse:
            return msg
        if self.buf is None:
            self.buf = bytearray(len(msg))
        self.buf[:] = msg
        return memoryview(self.buf)


def _batch_msgs(kind: str, wire: str, n: int, size: int = 1024) -> tuple[Any, list[Any]]:
    payload, check = make_payload(kind, size)
    if wire == "bytes":
        frame = new_frame(payload)
        return check, [bytes(stamp(frame, s)) for s in range(n)]
    return check, [(s, payload) for s in range(n)]


@pytest.mark.parametrize(
    ("kind", "wire", "reuse"),
    [("bytes", "bytes", True), ("bytes", "bytes", False), ("object", "object", False)],
)
def test_batch_checks_sampled_messages_after_the_loop(kind: str, wire: str, reuse: bool) -> None:
    """Corruption of a sampled message passes the loop (sequence and length only) and is
    caught by finish(), even when the receive buffer was reused since."""
    n = 3 * MIN_SAMPLE_PERIOD
    check, msgs = _batch_msgs(kind, wire, n)
    msgs[MIN_SAMPLE_PERIOD] = _damage(msgs[MIN_SAMPLE_PERIOD], "corrupt")
    sample = ContentSample(check, wire)
    batch = BatchCheck(check, wire, 0, n, sample)
    assert batch.period == MIN_SAMPLE_PERIOD
    last = receive(_Feed(msgs, reuse), batch)
    with pytest.raises(DeliveryError, match=f"message {MIN_SAMPLE_PERIOD}: corrupted"):
        batch.finish(last)


@pytest.mark.parametrize(("kind", "wire"), [("bytes", "bytes"), ("object", "object")])
def test_batch_checks_the_last_message_in_full(kind: str, wire: str) -> None:
    check, msgs = _batch_msgs(kind, wire, 10)
    msgs[-1] = _damage(msgs[-1], "corrupt")
    batch = BatchCheck(check, wire, 0, 10, ContentSample(check, wire))
    last = receive(_Feed(msgs, reuse=wire == "bytes"), batch)
    with pytest.raises(DeliveryError, match="message 9: corrupted"):
        batch.finish(last)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("drop", "message 2: lost"), ("duplicate", "duplicated"), ("truncate", "truncated")],
)
@pytest.mark.parametrize(("kind", "wire"), [("bytes", "bytes"), ("object", "object")])
def test_batch_loop_catches_loss_duplication_truncation(
    kind: str, wire: str, fault: str, reason: str
) -> None:
    check, msgs = _batch_msgs(kind, wire, 8)
    if fault == "drop":
        del msgs[2]
        msgs.append(msgs[-1])
    elif fault == "duplicate":
        msgs.insert(3, msgs[2])
    else:
        msgs[5] = _damage(msgs[5], "truncate")
    batch = BatchCheck(check, wire, 0, 8, ContentSample(check, wire))
    with pytest.raises(DeliveryError, match=reason):
        receive(_Feed(msgs, reuse=False), batch)


@pytest.mark.parametrize(("fault", "reason"), [("drop", "message 2: lost"), ("dup", "duplicated")])
def test_whole_frame_loop_checks_sequence_numbers(fault: str, reason: str) -> None:
    """Raw fds always return whole frames: the loop checks sequence numbers only, and still
    names a lost or duplicated frame; corruption of a sampled frame is found after it."""
    check, msgs = _batch_msgs("bytes", "bytes", 8)
    if fault == "drop":
        del msgs[2]
        msgs.append(msgs[-1])
    else:
        msgs.insert(3, msgs[2])
    batch = BatchCheck(check, "bytes", 0, 8, ContentSample(check, "bytes"))
    with pytest.raises(DeliveryError, match=reason):
        receive(_Feed(msgs, reuse=True), batch, whole_frames=True)
    check, msgs = _batch_msgs("bytes", "bytes", 2 * MIN_SAMPLE_PERIOD)
    msgs[MIN_SAMPLE_PERIOD] = _damage(msgs[MIN_SAMPLE_PERIOD], "corrupt")
    batch = BatchCheck(check, "bytes", 0, 2 * MIN_SAMPLE_PERIOD, ContentSample(check, "bytes"))
    last = receive(_Feed(msgs, reuse=True), batch, whole_frames=True)
    with pytest.raises(DeliveryError, match=f"message {MIN_SAMPLE_PERIOD}: corrupted"):
        batch.finish(last)


@pytest.mark.parametrize(
    ("name", "whole"), [("raw_pipe", True), ("raw_socketpair", True), ("pipe_bytes", False)]
)
def test_only_raw_fd_endpoints_declare_whole_frames(name: str, whole: bool) -> None:
    import multiprocessing

    from ipcbench import transports
    from ipcbench.transports.base import ChannelSpec

    channel = transports.get(name)().open(
        multiprocessing.get_context("fork"), ChannelSpec(64), duplex=True
    )
    try:
        assert channel.parent.whole_frames is whole and channel.child.whole_frames is whole
    finally:
        channel.parent.close()
        channel.child.close()


def test_batch_loop_catches_a_malformed_object_message() -> None:
    check, msgs = _batch_msgs("object", "object", 4)
    msgs[1] = msgs[1][1]  # the payload alone
    batch = BatchCheck(check, "object", 0, 4, ContentSample(check, "object"))
    with pytest.raises(DeliveryError, match="message 1: malformed"):
        receive(_Feed(msgs, reuse=False), batch)


@pytest.mark.parametrize("size", [64, 1 << 20, 16 << 20])
@pytest.mark.parametrize(("kind", "wire"), [("bytes", "bytes"), ("object", "object")])
def test_content_sample_memory_is_bounded(size: int, kind: str, wire: str) -> None:
    """Whatever the batch length, the kept messages fit the budget (a batch of 16 MiB
    messages keeps one, plus the last, which is still in the receive buffer)."""
    _, check = make_payload(kind, 64)
    check = type(check)(kind, size, size)  # no need to build a 16 MiB template here
    sample = ContentSample(check, wire)
    per_message = size * (6 if kind == "object" else 1)
    assert sample.capacity >= 1
    assert sample.capacity * per_message <= max(SAMPLE_BUDGET_BYTES, per_message + 8)
    for n in (1, 10, 10_000, 10_000_000):
        period = sample.start(n)
        assert period >= MIN_SAMPLE_PERIOD and -(-n // period) <= sample.capacity


def test_content_sample_slots_are_made_by_start_as_many_as_the_batch_keeps() -> None:
    """Slots made when the sample is built would be shared copy-on-write with the children
    a session forks after it, and the first copy into each would fault inside the clock."""
    _, check = make_payload("bytes", 4096)
    sample = ContentSample(check, "bytes")
    assert sample.slots == []
    period = sample.start(3 * MIN_SAMPLE_PERIOD)
    assert period == MIN_SAMPLE_PERIOD and len(sample.slots) == 3
    made = list(sample.slots)
    sample.start(MIN_SAMPLE_PERIOD)  # a shorter batch reuses them
    assert sample.slots == made and all(a is b for a, b in zip(sample.slots, made, strict=True))
    sample.start(10_000_000)
    assert len(sample.slots) == sample.capacity
    objects = ContentSample(check, "object")
    objects.start(10_000)
    assert objects.slots == []  # object messages are compared on arrival, never copied


@pytest.mark.parametrize(("size", "period"), [(64 * 1024, MIN_SAMPLE_PERIOD), (1 << 20, 1024)])
def test_large_messages_are_sampled_more_sparsely(size: int, period: int) -> None:
    """A kept 1 MiB frame costs several messages' time (its copy no longer fits the cache
    with the channel's own buffers): one in 1024 at most, not one in 128."""
    _, check = make_payload("bytes", 64)
    check = type(check)("bytes", size, size)
    assert ContentSample(check, "bytes").start(1000) == period


def test_fan_receiver_samples_and_checks_after() -> None:
    payload, check = make_payload("bytes", 1024)
    receiver = FanReceiver(check, "object", 1, 300, 0, ContentSample(check, "object"))
    msgs = [(fan_seq(0, i), payload) for i in range(300)]
    msgs[MIN_SAMPLE_PERIOD] = _damage(msgs[MIN_SAMPLE_PERIOD], "corrupt")
    for msg in msgs:
        receiver.accept(msg)  # sequence and length only
    with pytest.raises(DeliveryError, match="corrupted"):
        receiver.finish()


def test_fan_receiver_without_a_sample_checks_every_message_in_full() -> None:
    payload, check = make_payload("bytes", 1024)
    receiver = FanReceiver(check, "object", 1, 4, 0)
    receiver.accept((fan_seq(0, 0), payload))
    with pytest.raises(DeliveryError, match="corrupted: byte 512 differs"):
        receiver.accept(_damage((fan_seq(0, 1), payload), "corrupt"))


@pytest.mark.parametrize(("kind", "wire"), [("bytes", "bytes"), ("object", "object")])
def test_in_order_checks_sequence_and_length_only(kind: str, wire: str) -> None:
    check, msgs = _batch_msgs(kind, wire, 4)
    verifier = Verifier(check)
    step = verifier.frame_in_order if wire == "bytes" else verifier.message_in_order
    step(msgs[0])
    step(_damage(msgs[1], "corrupt"))  # content is not looked at
    with pytest.raises(DeliveryError, match="message 2: truncated"):
        step(_damage(msgs[2], "truncate"))
    verifier.expected = 3
    with pytest.raises(DeliveryError, match="message 3: out of order or duplicated"):
        step(msgs[1])


def test_lost_fan_messages_are_named_by_producer_number_and_seq() -> None:
    """Not their position in the batch: producer 1's message 7 of a batch from number 5."""
    seen = bytearray([1] * 8)
    seen[4 + 2] = 0  # producer 1, position 2: message 7
    with pytest.raises(
        DeliveryError,
        match=rf"lost: producer 1 message 7 \(seq {fan_seq(1, 7)}\) never arrived \(1 of 8",
    ):
        check_exactly_once([seen], producers=2, n_per=4, first=5)


def test_many_lost_fan_messages_name_the_first_few_and_count_the_rest() -> None:
    seen = bytes(10)
    with pytest.raises(DeliveryError) as info:
        check_exactly_once([seen], producers=1, n_per=10, first=100)
    text = str(info.value)
    assert "producer 0 message 100 (seq 100), producer 0 message 101 (seq 101)" in text
    assert "and 7 more never arrived (10 of 10 missing)" in text


def test_fan_message_marked_by_two_consumers_is_named_duplicated() -> None:
    a, b = bytearray([1, 1, 0, 0]), bytearray([0, 1, 1, 1])
    with pytest.raises(
        DeliveryError, match=rf"duplicated: producer 0 message 4 \(seq {fan_seq(0, 4)}\)"
    ):
        check_exactly_once([a, b], producers=2, n_per=2, first=3)


@pytest.mark.parametrize("wire", ["bytes", "object"])
@pytest.mark.parametrize("sampled", [True, False])
def test_fan_receiver_tells_a_pairs_end_marker_from_a_bad_message(wire: str, sampled: bool) -> None:
    payload, check = make_payload("bytes", 64)
    sample = ContentSample(check, wire) if sampled else None
    receiver = FanReceiver(check, wire, 1, 4, 0, sample)
    good = bytes(stamp(new_frame(payload), 0)) if wire == "bytes" else (0, payload)
    assert receiver.accept(good) == 0
    with pytest.raises(PairEnded):
        receiver.accept(end_marker(wire))
    with pytest.raises(DeliveryError, match="truncated"):
        receiver.accept(_damage(good, "truncate"))
    assert receiver.count == 1


def test_object_sample_keeps_no_reference_to_what_it_received() -> None:
    """Keeping received 1 MiB objects alive slowed every later receive (the allocator faulted
    in fresh pages): object messages are compared on arrival and dropped, a failure raised
    only after the clock."""
    payload, check = make_payload("bytes", 1024)
    sample = ContentSample(check, "object")
    batch = BatchCheck(check, "object", 0, 2, sample)
    good, bad = (0, payload), _damage((1, payload), "corrupt")
    sample.keep(good)
    sample.keep(bad)  # no raise inside the clock
    assert sample.kept == []
    with pytest.raises(DeliveryError, match="message 1: corrupted"):
        batch.finish(None)


def test_wire_names_are_imported_from_wire_not_through_verify() -> None:
    """verify.py uses the wire format but does not re-export it: nobody imports a name of
    ``ipcbench.wire`` from ``ipcbench.measure.verify`` (it would work at run time, silently)."""
    root = Path(__file__).resolve().parent.parent
    wire_names = defined_names(root / "ipcbench" / "wire.py")
    assert {"SEQ", "SEQ_BYTES", "make_payload", "PayloadCheck", "fan_seq"} <= wire_names
    wrong = []
    for path in [
        *root.glob("ipcbench/**/*.py"),
        *root.glob("tests/*.py"),
        *root.glob("bench/*.py"),
    ]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "ipcbench.measure.verify":
                wrong += [f"{path.name}: {a.name}" for a in node.names if a.name in wire_names]
    assert wrong == []


def defined_names(path: Path) -> set[str]:
    """The names a module defines at its top level (functions, classes, assignments)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names
