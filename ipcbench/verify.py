"""Payloads and delivery verification: sequence numbers, sizes and checksums.

Every message carries a sequence number with its payload. Two wire formats:

* object wire (pickling transports): the message is the tuple ``(seq, payload)``;
* bytes wire (send_bytes, raw fds, sockets): a frame ``[seq: u64 little endian][payload]``.

The receiver checks, per message and in O(1) time whatever the size: the sequence number is the
next expected one (catches loss, duplication and reordering), the length (catches truncation),
and a CRC-32 over three 64-byte windows of the payload -- head, middle and tail -- against the
value the receiver computed itself from the template (catches corruption and cut-off tails).
A full-payload CRC would cost more than the transport at large sizes and distort the figures.
"""

from __future__ import annotations

import pickle
import random
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from ipcbench.errors import DeliveryError

SEQ = struct.Struct("<Q")
SEQ_BYTES = SEQ.size
WINDOW_BYTES = 64


def window_crc(payload: bytes | bytearray | memoryview) -> int:
    """CRC-32 of the head, middle and tail windows (the whole payload when it is small)."""
    n = len(payload)
    if n <= 3 * WINDOW_BYTES:
        return zlib.crc32(payload)
    view = memoryview(payload)
    mid = n // 2 - WINDOW_BYTES // 2
    crc = zlib.crc32(view[:WINDOW_BYTES])
    crc = zlib.crc32(view[mid : mid + WINDOW_BYTES], crc)
    return zlib.crc32(view[n - WINDOW_BYTES :], crc)


def bytes_template(payload_bytes: int) -> bytes:
    """Deterministic pseudo-random bytes (incompressible, same on both sides)."""
    return random.Random(payload_bytes).randbytes(payload_bytes)


def _item(i: int) -> tuple[int, float, str]:
    return (i, i * 0.5, f"item-{i:08d}")


def object_template(payload_bytes: int) -> list[tuple[int, float, str]]:
    """A list of small tuples whose pickled size is about ``payload_bytes``."""
    per_item = len(pickle.dumps([_item(i) for i in range(1000)], protocol=5)) / 1000
    count = max(1, round(payload_bytes / per_item))
    return [_item(i) for i in range(count)]


@dataclass(frozen=True)
class PayloadCheck:
    """What the receiver expects; small and picklable, so it travels to children cheaply."""

    kind: str
    payload_bytes: int
    length: int  # bytes in the payload, or items in the object list
    crc: int  # window CRC for bytes; CRC of repr(first and last items) for objects


def object_crc(value: list[Any]) -> int:
    return zlib.crc32(repr((value[0], value[-1])).encode())


def make_payload(kind: str, payload_bytes: int) -> tuple[Any, PayloadCheck]:
    """Build the template payload and its check."""
    if kind == "bytes":
        value: Any = bytes_template(payload_bytes)
        return value, PayloadCheck(kind, payload_bytes, len(value), window_crc(value))
    if kind == "object":
        value = object_template(payload_bytes)
        return value, PayloadCheck(kind, payload_bytes, len(value), object_crc(value))
    raise ValueError(f"unknown payload kind {kind!r}")


def wire_bytes(kind: str, payload: Any, wire: str) -> int:
    """Bytes one message occupies on the wire (pickled tuple, or frame)."""
    if wire == "bytes":
        return SEQ_BYTES + len(payload)
    return len(pickle.dumps((0, payload), protocol=pickle.HIGHEST_PROTOCOL))


def new_frame(payload: bytes) -> bytearray:
    """A reusable bytes-wire frame; stamp the sequence number with ``stamp``."""
    frame = bytearray(SEQ_BYTES + len(payload))
    frame[SEQ_BYTES:] = payload
    return frame


def stamp(frame: bytearray, seq: int) -> bytearray:
    SEQ.pack_into(frame, 0, seq)
    return frame


class Verifier:
    """Receiver-side state: the next expected sequence number and the payload check."""

    def __init__(self, check: PayloadCheck, first_seq: int = 0) -> None:
        self.check = check
        self.expected = first_seq

    def _fail(self, reason: str) -> NoReturn:
        raise DeliveryError(f"message {self.expected}: {reason}")

    def _seq(self, seq: Any) -> None:
        if seq != self.expected:
            if isinstance(seq, int) and seq > self.expected:
                self._fail(f"lost: got sequence number {seq} (gap of {seq - self.expected})")
            self._fail(f"out of order or duplicated: got sequence number {seq!r}")

    def open_message(self, msg: Any) -> int:
        """Check an object-wire message's shape, length and checksum; return its seq."""
        if type(msg) is not tuple or len(msg) < 2:
            self._fail(f"malformed message of type {type(msg).__name__}")
        payload = msg[1]
        check = self.check
        if len(payload) != check.length:
            self._fail(f"truncated: payload length {len(payload)}, expected {check.length}")
        crc = window_crc(payload) if check.kind == "bytes" else object_crc(payload)
        if crc != check.crc:
            self._fail("corrupted: checksum mismatch")
        seq: int = msg[0]
        return seq

    def open_frame(self, frame: bytes | bytearray | memoryview) -> int:
        """Check a bytes-wire frame's length and checksum; return its seq."""
        if len(frame) != SEQ_BYTES + self.check.length:
            self._fail(
                f"truncated: frame of {len(frame)} bytes, expected {SEQ_BYTES + self.check.length}"
            )
        if window_crc(memoryview(frame)[SEQ_BYTES:]) != self.check.crc:
            self._fail("corrupted: checksum mismatch")
        seq: int = SEQ.unpack_from(frame, 0)[0]
        return seq

    def message(self, msg: Any) -> None:
        """Verify an object-wire message ``(seq, payload)`` in sequence."""
        self._seq(self.open_message(msg))
        self.expected += 1

    def frame(self, frame: bytes | bytearray | memoryview) -> None:
        """Verify a bytes-wire frame ``[seq][payload]`` in sequence."""
        self._seq(self.open_frame(frame))
        self.expected += 1


PRODUCER_SHIFT = 32  # many-producer sequence numbers: producer << 32 | per-producer number


def fan_seq(producer: int, number: int) -> int:
    return producer << PRODUCER_SHIFT | number


class FanReceiver:
    """One consumer's checks when many producers share a channel.

    Per producer, numbers must arrive in increasing order (FIFO per producer); each message is
    marked in ``seen`` (one byte per expected message), so the driver can prove, by adding the
    marks of all consumers, that every message arrived exactly once.
    """

    def __init__(
        self, check: PayloadCheck, wire: str, producers: int, n_per: int, first: int
    ) -> None:
        self.verifier = Verifier(check)
        self.open = self.verifier.open_frame if wire == "bytes" else self.verifier.open_message
        self.n_per = n_per
        self.first = first
        self.last = [first - 1] * producers
        self.seen = bytearray(producers * n_per)
        self.count = 0

    def accept(self, msg: Any) -> None:
        seq = self.open(msg)
        producer, number = seq >> PRODUCER_SHIFT, seq & ((1 << PRODUCER_SHIFT) - 1)
        if 0 <= producer < len(self.last) and number < self.first:
            raise DeliveryError(  # a pipe pair's extra copy, left over from an earlier batch
                f"producer {producer} message {number}: duplicated (from an earlier batch)"
            )
        if not 0 <= producer < len(self.last) or not 0 <= number - self.first < self.n_per:
            raise DeliveryError(f"message {seq}: unexpected producer {producer} number {number}")
        if number <= self.last[producer]:
            raise DeliveryError(
                f"producer {producer} message {number}: out of order or duplicated "
                f"(after {self.last[producer]})"
            )
        self.last[producer] = number
        self.seen[producer * self.n_per + number - self.first] = 1
        self.count += 1


def check_exactly_once(
    seen_per_consumer: Sequence[bytes | bytearray], producers: int, n_per: int
) -> None:
    """Raise DeliveryError unless every message was marked by exactly one consumer.

    The marks (one byte, 0 or 1, per message) are added as big integers, which is fast."""
    size = producers * n_per
    acc = 0
    for seen in seen_per_consumer:
        marks = int.from_bytes(seen, "little")
        overlap = acc & marks
        if overlap:
            i = (overlap & -overlap).bit_length() // 8
            raise DeliveryError(f"producer {i // n_per} message {i % n_per}: duplicated")
        acc |= marks
    total = acc.to_bytes(size, "little")
    missing = total.find(0)
    if missing >= 0:
        raise DeliveryError(
            f"producer {missing // n_per} message {missing % n_per}: lost "
            f"({total.count(0)} of {size} missing)"
        )
