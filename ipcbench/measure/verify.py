"""Delivery verification: sequence numbers, sizes and whole-payload content, exactly once.

Messages, frames, sequence numbers and payloads are defined in ``ipcbench.wire``.

Two levels of checking:

* ``Verifier.frame`` / ``Verifier.message``: one message in full -- sequence number (loss,
  duplication, reordering), length (truncation) and the **whole** payload compared with the
  template (any changed byte, any replaced or swapped item). Used wherever no clock runs.
* ``BatchCheck``: what a timed loop does. In the loop, per message, only what a minimal user
  loop does: the sequence number and the length (about 0.1 µs). Content is checked after the
  clock stops, on a sample (``ContentSample``): the first message of every ``period`` and the
  last message of the batch are checked whole. Bytes frames are copied into slots allocated
  and prefaulted before the clock (after the children are forked) and compared after it.
  Object messages are compared with the template when they arrive (once per ``period``; a
  failure is raised after the clock) and no reference is kept: keeping received 1 MiB
  objects alive made the driver's allocator fault in fresh pages on later receives (Pipe
  1 MiB pingpong 2.3x slower, stream 2.7x, in ``bench/harness_overhead.py``). The compare
  costs 0.03-0.3% of a pickle round trip alone at one message in 128. So every payload byte
  is checked on every sampled message, memory stays under ``SAMPLE_BUDGET_BYTES``, and a
  sample costs at most one message's copy or compare per ``period`` messages (below 1% of
  any transport's own per-message work; see ``LARGE_MESSAGE_BYTES`` for large ones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NoReturn

from ipcbench.errors import DeliveryError
from ipcbench.wire import (
    END_SEQ,
    NUMBER_MASK,
    PRODUCER_SHIFT,
    SEQ,
    SEQ_BYTES,
    PayloadCheck,
    fan_seq,
    frame_bytes,
    is_end_marker,
    template,
)

SAMPLE_BUDGET_BYTES = 32 * 1024**2  # bound on the whole messages a batch keeps for checking
MAX_SAMPLES = 64  # messages kept whole per batch, at most
MIN_SAMPLE_PERIOD = 128  # at most one kept message per this many: its copy stays below 1%
# In-process floors (memcpy, pickle) move a message within the cache; a kept message costs
# several of theirs (a copy into memory the cache does not hold, or new pages for the next
# one): at 1 MiB 1 in 128 cost the memcpy floor ~4%, 1 in 1024 about 1%.
IN_PROCESS_SAMPLE_PERIOD = 1024
# A kept message of this size or more is a copy that, with the sender's frame and the receive
# buffer, no longer fits a core's L2 cache (2 MiB on the 2-vCPU VM): at 1 MiB one kept frame
# cost the raw_pipe stream about 3.5 messages' time (1 in 128: 3-4% slower than a
# hand-written loop; 1 in 1024: within 1%); at 64 KiB the period made no difference.
LARGE_MESSAGE_BYTES = 256 * 1024
LARGE_MESSAGE_PERIOD = 1024
MALFORMED = (TypeError, IndexError, KeyError)  # what indexing a message that is no tuple raises
MAX_NAMED = 3  # a loss or duplication names at most this many messages
ARRAY_BLOCK = 65536  # ndarray elements compared at a time (a 64 KiB temporary of flags)


def first_difference(got: Sequence[Any], want: Sequence[Any]) -> int:
    """Index of the first byte or item where ``got`` differs from ``want`` (-1: none)."""
    block = 4096
    for start in range(0, min(len(got), len(want)), block):
        if got[start : start + block] != want[start : start + block]:
            for i in range(start, min(start + block, len(got), len(want))):
                if got[i] != want[i]:
                    return i
    return -1 if len(got) == len(want) else min(len(got), len(want))


class Verifier:
    """Receiver-side state: the next expected sequence number and the whole-payload check."""

    def __init__(self, check: PayloadCheck, first_seq: int = 0) -> None:
        self.check = check
        self.expected = first_seq
        self.template = template(check.kind, check.payload_bytes)

    def _fail(self, reason: str) -> NoReturn:
        raise DeliveryError(f"message {self.expected}: {reason}")

    def _seq(self, seq: Any) -> None:
        if seq != self.expected:
            if isinstance(seq, int) and seq > self.expected:
                self._fail(f"lost: got sequence number {seq} (gap of {seq - self.expected})")
            self._fail(f"out of order or duplicated: got sequence number {seq!r}")

    def _content(self, payload: Any) -> None:
        """Raise unless ``payload`` equals the template in every byte, item or element."""
        if self.check.kind == "ndarray":
            self._array_content(payload)
            return
        if isinstance(payload, (memoryview, bytearray)):
            payload = bytes(payload)
        if payload == self.template:
            return
        if type(payload) is not type(self.template):
            self._fail(f"corrupted: payload of type {type(payload).__name__}")
        unit = "item" if self.check.kind == "object" else "byte"
        self._fail(f"corrupted: {unit} {first_difference(payload, self.template)} differs")

    def _array_content(self, payload: Any) -> None:
        """Raise unless ``payload`` is an array of the template's type, dtype and shape whose
        every element has the template's bits (compared as uint64, so a NaN or a -0.0 counts
        as a change), block by block: no temporary larger than ARRAY_BLOCK flags."""
        want = self.template
        if (
            type(payload) is not type(want)
            or payload.dtype != want.dtype
            or payload.shape != want.shape
        ):
            shape = f"{getattr(payload, 'dtype', '')} {getattr(payload, 'shape', '')}".strip()
            self._fail(f"corrupted: payload of type {type(payload).__name__} {shape}".strip())
        got, expected = payload.view("u8"), want.view("u8")
        for start in range(0, len(expected), ARRAY_BLOCK):
            end = start + ARRAY_BLOCK
            differs = got[start:end] != expected[start:end]
            if differs.any():
                self._fail(f"corrupted: element {start + int(differs.argmax())} differs")

    def open_message(self, msg: Any) -> int:
        """Check an object-wire message's shape, length and whole payload; return its seq."""
        if type(msg) is not tuple or len(msg) < 2:
            self._fail(f"malformed message of type {type(msg).__name__}")
        payload = msg[1]
        try:
            length = len(payload)
        except TypeError:
            self._fail(f"malformed payload of type {type(payload).__name__}")
        if length != self.check.length:
            self._fail(f"truncated: payload length {length}, expected {self.check.length}")
        self._content(payload)
        seq: int = msg[0]
        return seq

    def open_frame(self, frame: bytes | bytearray | memoryview) -> int:
        """Check a bytes-wire frame's length and whole payload (an ndarray's: viewed as the
        array it carries); return its seq."""
        want = frame_bytes(self.check.payload_bytes)
        if len(frame) != want:
            self._fail(f"truncated: frame of {len(frame)} bytes, expected {want}")
        payload: Any = memoryview(frame)[SEQ_BYTES:]
        if self.check.kind == "ndarray":
            import numpy as np  # here: workers that carry no ndarray never import NumPy

            payload = np.frombuffer(payload, dtype=self.template.dtype)
        self._content(payload)
        seq: int = SEQ.unpack_from(frame, 0)[0]
        return seq

    def message(self, msg: Any) -> None:
        """Verify an object-wire message ``(seq, payload)`` in sequence, in full."""
        self._seq(self.open_message(msg))
        self.expected += 1

    def frame(self, frame: bytes | bytearray | memoryview) -> None:
        """Verify a bytes-wire frame ``[seq][payload]`` in sequence, in full."""
        self._seq(self.open_frame(frame))
        self.expected += 1

    def frame_in_order(self, frame: bytes | bytearray | memoryview) -> None:
        """Length and sequence number only, no content (a timed call that keeps no sample)."""
        if (
            len(frame) != frame_bytes(self.check.payload_bytes)
            or SEQ.unpack_from(frame)[0] != self.expected
        ):
            self.frame(frame)  # raises, naming the fault
        self.expected += 1

    def message_in_order(self, msg: Any) -> None:
        """Length and sequence number only, no content (a timed call that keeps no sample)."""
        try:
            ok = msg[0] == self.expected and len(msg[1]) == self.check.length
        except MALFORMED:
            ok = False
        if not ok:
            self.message(msg)  # raises, naming the fault
        else:
            self.expected += 1

    def whole(self, msg: Any, bytes_wire: bool) -> int:
        """Check one message in full except its place in the sequence; return its seq. Errors
        name the message's own sequence number."""
        seq = SEQ.unpack_from(msg, 0)[0] if bytes_wire and len(msg) >= SEQ_BYTES else None
        if not bytes_wire and type(msg) is tuple and msg:
            seq = msg[0]
        saved, self.expected = self.expected, seq if seq is not None else self.expected
        try:
            return self.open_frame(msg) if bytes_wire else self.open_message(msg)
        finally:
            self.expected = saved


class ContentSample:
    """Whole messages sampled from a timed batch, compared with the template in full.

    Bytes frames are copied into slots and compared after the clock: raw fd transports reuse
    their receive buffer, and keeping a fresh buffer alive would make the next receive fault
    in new pages. The slots are allocated (zero-filled, so prefaulted) by ``start``, before
    the batch's clock and after the session forked its children: slots made before the fork
    share their pages copy-on-write with the children, and the first copy into each then
    faults in 256 private pages per MiB inside the clock (raw_pipe 1 MiB stream: 6% slower
    than a hand-written loop; 3-4% with the slots made after the fork; within 1% with one
    message kept in 1024 as well, see ``LARGE_MESSAGE_BYTES``).
    Object messages are compared at once and not kept (holding received objects alive has
    the same effect on the allocator); the first failure is raised by ``verify``.
    """

    def __init__(self, check: PayloadCheck, wire: str, min_period: int = MIN_SAMPLE_PERIOD) -> None:
        self.bytes_wire = wire == "bytes"
        large = check.payload_bytes >= LARGE_MESSAGE_BYTES
        self.min_period = max(min_period, LARGE_MESSAGE_PERIOD) if large else min_period
        # a list of tuples takes about 5x its pickled size in memory
        per_message = check.payload_bytes * (6 if check.kind == "object" else 1) + SEQ_BYTES
        self.slot_bytes = per_message
        self.capacity = max(1, min(MAX_SAMPLES, SAMPLE_BUDGET_BYTES // max(1, per_message)))
        self.slots: list[bytearray] = []  # bytes wire: made by start, as many as a batch keeps
        self.kept: list[Any] = []
        self.checked = 0  # object messages compared on arrival in this batch
        self.failure: DeliveryError | None = None
        self.verifier: Verifier | None = None

    def start(self, n: int, verifier: Verifier | None = None) -> int:
        """Forget the last batch; the sampling period for a batch of ``n`` messages: the
        kept ones (every period-th, the first included) fit the capacity. ``verifier``
        compares object messages on arrival (required for the object wire). Bytes frames:
        the slots this batch fills are allocated now, untimed (see the class)."""
        self.kept.clear()
        self.checked, self.failure, self.verifier = 0, None, verifier
        period = max(self.min_period, math.ceil(n / self.capacity))
        self.make_slots(math.ceil(n / period))
        return period

    def make_slots(self, count: int | None = None) -> None:
        """Bytes wire: have ``count`` slots (None: the capacity). ``start`` makes those its
        batch fills; a process whose ``start`` runs inside a timed region (a fan consumer,
        whose producers may already be sending) makes them all beforehand."""
        if self.bytes_wire:
            needed = self.capacity if count is None else min(self.capacity, count)
            self.slots.extend(bytearray(self.slot_bytes) for _ in range(needed - len(self.slots)))

    def keep(self, msg: Any) -> None:
        """Sample one message (called once per period, inside the clock): copy a frame into
        a slot; compare an object message now, keeping no reference to it."""
        if not self.bytes_wire:
            self._compare(msg)
            return
        kept = self.kept
        if len(kept) < len(self.slots):
            slot = self.slots[len(kept)]
            slot[:] = msg
            kept.append(slot)

    def _compare(self, msg: Any) -> None:
        if self.verifier is None:
            raise TypeError(
                "ContentSample.start(n, verifier) first: object messages are compared on arrival"
            )
        self.checked += 1
        if self.failure is None:
            try:
                self.verifier.whole(msg, False)
            except DeliveryError as exc:
                self.failure = exc

    def verify(self, verifier: Verifier) -> int:
        """Check every kept frame in full and raise an object message's failure (after the
        clock); returns how many messages the sample checked."""
        if self.failure is not None:
            raise self.failure
        for msg in self.kept:
            verifier.whole(msg, self.bytes_wire)
        return len(self.kept) + self.checked


class BatchCheck:
    """The checks of one timed batch of ``n`` messages from ``first``.

    The timed loop checks each message's sequence number and length itself (inline, see
    ``receive_frames``), calls ``keep`` on the first message of every ``period``, and calls
    ``fail`` when a check fails; after the clock, ``finish`` checks the kept messages and the
    last one in full."""

    def __init__(self, check: PayloadCheck, wire: str, first: int, n: int, sample: ContentSample):
        self.verifier = Verifier(check, first)
        self.bytes_wire = wire == "bytes"
        self.size = frame_bytes(check.payload_bytes) if self.bytes_wire else check.length
        self.first, self.end = first, first + n
        self.sample = sample
        self.period = sample.start(n, self.verifier)
        self.keep = sample.keep

    def fail(self, expected: int | None, msg: Any) -> NoReturn:
        """Name what is wrong with a message the loop rejected (``expected``: its seq)."""
        v = self.verifier
        if expected is not None:
            v.expected = expected
        seq = v.open_frame(msg) if self.bytes_wire else v.open_message(msg)
        v._seq(seq)
        v._fail(f"rejected: {type(msg).__name__}")  # a check the inline test has and this lacks

    def finish(self, last: Any) -> None:
        """After the clock: the kept messages and the last one, every byte or item."""
        self.sample.verify(self.verifier)
        if last is not None:
            self.verifier.whole(last, self.bytes_wire)


def receive_frames(recv: Any, batch: BatchCheck, whole_frames: bool = False) -> Any:
    """Receive the batch's bytes frames, checking sequence and length; returns the last.
    ``whole_frames``: recv always returns a frame of the batch's size (raw fds), so only the
    sequence number is checked per frame (the length check cost ~55 ns of ~800 per 64 B
    frame on the 2-vCPU VM); a short write still shows as a wrong sequence number, and the
    sampled frames are compared in full after the clock."""
    if whole_frames:
        return _receive_whole_frames(recv, batch)
    size, unpack, keep, period, end = (
        batch.size,
        SEQ.unpack_from,
        batch.keep,
        batch.period,
        batch.end,
    )
    frame = None
    for start in range(batch.first, end, period):
        frame = recv()
        if len(frame) != size or unpack(frame)[0] != start:
            batch.fail(start, frame)
        keep(frame)
        for seq in range(start + 1, min(start + period, end)):
            frame = recv()
            if len(frame) != size or unpack(frame)[0] != seq:
                batch.fail(seq, frame)
    return frame


def _receive_whole_frames(recv: Any, batch: BatchCheck) -> Any:
    unpack, keep, period, end = SEQ.unpack_from, batch.keep, batch.period, batch.end
    frame = None
    for start in range(batch.first, end, period):
        frame = recv()
        if unpack(frame)[0] != start:
            batch.fail(start, frame)
        keep(frame)
        for seq in range(start + 1, min(start + period, end)):
            frame = recv()
            if unpack(frame)[0] != seq:
                batch.fail(seq, frame)
    return frame


def receive_messages(recv: Any, batch: BatchCheck) -> Any:
    """Receive the batch's object messages, checking sequence and length; returns the last."""
    length, keep, period, end = batch.size, batch.keep, batch.period, batch.end
    msg = None
    try:
        for start in range(batch.first, end, period):
            msg = recv()
            if msg[0] != start or len(msg[1]) != length:
                batch.fail(start, msg)
            keep(msg)
            for seq in range(start + 1, min(start + period, end)):
                msg = recv()
                if msg[0] != seq or len(msg[1]) != length:
                    batch.fail(seq, msg)
    except MALFORMED:
        batch.fail(None, msg)
    return msg


def receive(recv: Any, batch: BatchCheck, whole_frames: bool = False) -> Any:
    """``receive_frames`` or ``receive_messages``, by the batch's wire."""
    if batch.bytes_wire:
        return receive_frames(recv, batch, whole_frames)
    return receive_messages(recv, batch)


def fan_name(seq: int) -> str:
    """A many-producer message as the errors name it: producer, number and sequence number."""
    return f"producer {seq >> PRODUCER_SHIFT} message {seq & NUMBER_MASK} (seq {seq})"


class PairEnded(Exception):
    """Raised by ``FanReceiver.accept`` for a pipe pair's end marker: that producer has sent
    everything it will send to this consumer in this batch."""


class FanReceiver:
    """One consumer's checks when many producers share a channel.

    Per producer, numbers must arrive in increasing order (FIFO per producer); each message is
    marked in ``seen`` (one byte per expected message), so the driver can prove, by adding the
    marks of all consumers, that every message arrived exactly once.

    With a ``sample`` (timed use), ``accept`` checks each message's length and numbering and
    keeps every ``period``-th message whole, for ``finish`` to check after the clock. Without
    one (untimed use), ``accept`` checks every message in full.
    """

    def __init__(
        self,
        check: PayloadCheck,
        wire: str,
        producers: int,
        n_per: int,
        first: int,
        sample: ContentSample | None = None,
    ) -> None:
        self.verifier = Verifier(check)
        self.bytes_wire = wire == "bytes"
        self.size = frame_bytes(check.payload_bytes) if self.bytes_wire else check.length
        self.n_per = n_per
        self.first = first
        self.last = [first - 1] * producers
        self.seen = bytearray(producers * n_per)
        self.count = 0
        self.sample = sample
        self.period = sample.start(producers * n_per, self.verifier) if sample is not None else 1

    def open(self, msg: Any) -> int:
        """Check one message in full (length and whole payload); return its seq. An end
        marker raises PairEnded (looked for only once a message has failed its checks)."""
        try:
            return self.verifier.whole(msg, self.bytes_wire)
        except DeliveryError:
            if is_end_marker(msg, self.bytes_wire):
                raise PairEnded from None
            raise

    def _light(self, msg: Any) -> int:
        """Length and seq only (timed use)."""
        try:
            if self.bytes_wire:
                if len(msg) == self.size:
                    seq: int = SEQ.unpack_from(msg, 0)[0]
                    return seq
            elif len(msg[1]) == self.size:
                seq = msg[0]
                return seq
        except MALFORMED:
            pass
        if is_end_marker(msg, self.bytes_wire):  # at most once per pipe pair and batch
            raise PairEnded
        return self.open(msg)  # raises and names the fault

    def accept(self, msg: Any) -> int:
        """Check and mark one message; return its seq. Raises DeliveryError naming the
        message (producer, number, seq), or PairEnded for a pipe pair's end marker."""
        sample = self.sample
        if sample is None:
            seq = self.open(msg)
        else:
            seq = self._light(msg)
            if self.count % self.period == 0:
                sample.keep(msg)
        producer, number = seq >> PRODUCER_SHIFT, seq & NUMBER_MASK
        if not 0 <= producer < len(self.last) or not 0 <= number - self.first < self.n_per:
            self._unexpected(seq)
        if number <= self.last[producer]:
            raise DeliveryError(
                f"{fan_name(seq)}: out of order or duplicated (after message {self.last[producer]})"
            )
        self.last[producer] = number
        self.seen[producer * self.n_per + number - self.first] = 1
        self.count += 1
        return seq

    def _unexpected(self, seq: int) -> NoReturn:
        """A message outside this batch: an end marker (with a payload as long as a frame's
        header), an extra copy left over from an earlier batch, or a stranger."""
        if seq == END_SEQ:
            raise PairEnded
        producer, number = seq >> PRODUCER_SHIFT, seq & NUMBER_MASK
        if 0 <= producer < len(self.last) and number < self.first:
            raise DeliveryError(f"{fan_name(seq)}: duplicated (from an earlier batch)")
        raise DeliveryError(f"message {seq}: unexpected producer {producer} number {number}")

    def finish(self, last: Any = None) -> None:
        """After the clock: the kept messages (and ``last``) in full."""
        if self.sample is not None:
            self.sample.verify(self.verifier)
        if last is not None:
            self.open(last)


def check_exactly_once(
    seen_per_consumer: Sequence[bytes | bytearray], producers: int, n_per: int, first: int = 0
) -> None:
    """Raise DeliveryError unless every message was marked by exactly one consumer.

    Mark i stands for producer ``i // n_per``'s message ``first + i % n_per``; errors name
    messages by producer, number and sequence number. The marks (one byte, 0 or 1, per
    message) are added as big integers, which is fast."""
    size = producers * n_per
    acc = 0
    for seen in seen_per_consumer:
        marks = int.from_bytes(seen, "little")
        overlap = acc & marks
        if overlap:
            i = (overlap & -overlap).bit_length() // 8
            raise DeliveryError(f"duplicated: {_mark_name(i, n_per, first)} arrived twice")
        acc |= marks
    total = acc.to_bytes(size, "little")
    missing = _zeros(total, MAX_NAMED)
    if missing:
        count = total.count(0)
        names = ", ".join(_mark_name(i, n_per, first) for i in missing)
        more = f" and {count - len(missing)} more" if count > len(missing) else ""
        raise DeliveryError(f"lost: {names}{more} never arrived ({count} of {size} missing)")


def _mark_name(i: int, n_per: int, first: int) -> str:
    return fan_name(fan_seq(i // n_per, first + i % n_per))


def _zeros(marks: bytes, limit: int) -> list[int]:
    """The indexes of the first ``limit`` zero bytes in ``marks``."""
    found: list[int] = []
    i = marks.find(0)
    while i >= 0 and len(found) < limit:
        found.append(i)
        i = marks.find(0, i + 1)
    return found
