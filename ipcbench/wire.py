"""The wire format: what a message is, below both patterns and transports (imports neither).

Every message carries a sequence number with its payload. Two wire formats:

* object wire (pickling transports): the message is the tuple ``(seq, payload)``;
* bytes wire (send_bytes, raw fds, sockets): a frame ``[seq: u64 little endian][payload]``,
  ``frame_bytes(payload_bytes)`` long; both sides know the size, so frames carry no length.

Sequence numbers count the messages of a case from 0. Where many producers share a channel,
a number is ``producer << PRODUCER_SHIFT | number`` (``fan_seq``), and a producer ends each
pipe pair with an end marker (``end_marker``) carrying ``END_SEQ``, which no producer has.

The payload of a case (``make_payload``) is deterministic, so each process builds its own
copy from a small ``PayloadCheck``; the checks of delivery (sequence, length, content,
exactly once) live in ``ipcbench.measure.verify``. Payload kinds: "bytes", "object" (a list
of small tuples) and "ndarray" (a 1-D NumPy float64 array of ``payload_bytes // 8``
elements; only sizes that are whole multiples of 8 bytes, see ``payload_fits``). NumPy is
imported only when an "ndarray" payload is built.
"""

from __future__ import annotations

import functools
import pickle
import random
import struct
from dataclasses import dataclass
from typing import Any

SEQ = struct.Struct("<Q")
SEQ_BYTES = SEQ.size

PRODUCER_SHIFT = 32  # many-producer sequence numbers: producer << 32 | per-producer number
NUMBER_MASK = (1 << PRODUCER_SHIFT) - 1
END_SEQ = (1 << 64) - 1  # the sequence number of a pipe pair's end marker (no producer has it)


def frame_bytes(payload_bytes: int) -> int:
    """Bytes of one bytes-wire frame carrying a payload of ``payload_bytes``."""
    return SEQ_BYTES + payload_bytes


TEMPLATE_BLOCK_BYTES = 64 * 1024  # bytes templates: pseudo-random bytes up to this size
_ROTATION_STEP = 40_503  # odd: chunk i's rotation, i * step mod the block, differs up to 4 GiB


def bytes_template(payload_bytes: int) -> bytes:
    """Deterministic pseudo-random bytes, the same in every process and CPython version.

    Up to ``TEMPLATE_BLOCK_BYTES``: ``random.Random(payload_bytes).randbytes``. Beyond, each
    64 KiB chunk is that block rotated by a different offset, so no two chunks are equal (a
    chunk delivered in the wrong place fails the whole-message check) and the payload has no
    short period. Built at memory speed: 8 MiB in 8-9 ms, where randbytes took 47-55 ms --
    in every case run's driver, outside the clock."""
    block_bytes = TEMPLATE_BLOCK_BYTES
    if payload_bytes <= block_bytes:
        return random.Random(payload_bytes).randbytes(payload_bytes)
    block = memoryview(random.Random(payload_bytes).randbytes(block_bytes))
    parts = []
    for i, at in enumerate(range(0, payload_bytes, block_bytes)):
        turn = i * _ROTATION_STEP % block_bytes
        chunk = min(block_bytes, payload_bytes - at)
        head = min(chunk, block_bytes - turn)  # block[turn:] first, then block[:turn]
        parts += [block[turn : turn + head], block[: chunk - head]]
    return b"".join(parts)


def _item(i: int) -> tuple[int, float, str]:
    return (i, i * 0.5, f"item-{i:08d}")


def object_template(payload_bytes: int) -> list[tuple[int, float, str]]:
    """A list of small tuples whose pickled size is about ``payload_bytes``."""
    per_item = len(pickle.dumps([_item(i) for i in range(1000)], protocol=5)) / 1000
    count = max(1, round(payload_bytes / per_item))
    return [_item(i) for i in range(count)]


NDARRAY_ITEM_BYTES = 8  # float64


def payload_fits(kind: str, payload_bytes: int) -> bool:
    """Whether a payload of this kind can be exactly ``payload_bytes`` long: an "ndarray" is
    whole float64 elements (a multiple of 8 bytes, at least one element); other kinds fit any
    size. The sweep skips the cases that do not fit."""
    if kind == "ndarray":
        return payload_bytes >= NDARRAY_ITEM_BYTES and payload_bytes % NDARRAY_ITEM_BYTES == 0
    return True


def ndarray_template(payload_bytes: int) -> Any:
    """A read-only, C-contiguous 1-D float64 array of ``payload_bytes // 8`` pseudo-random
    values in [0, 1) (finite: no NaN, so equal arrays compare equal), the same on both sides.
    Read-only because the template is cached and shared (threads pass it by reference)."""
    if not payload_fits("ndarray", payload_bytes):
        raise ValueError(
            f"an ndarray payload is a multiple of {NDARRAY_ITEM_BYTES} bytes, not {payload_bytes}"
        )
    import numpy  # lazily: bytes and object cases (and their spawned children) never pay for it

    array = numpy.random.default_rng(payload_bytes).random(payload_bytes // NDARRAY_ITEM_BYTES)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class PayloadCheck:
    """What the receiver expects; small and picklable, so it travels to children cheaply.
    The receiver rebuilds the template payload from it (``template``)."""

    kind: str
    payload_bytes: int
    length: int  # bytes in the payload, items in the object list, elements in the ndarray


@functools.lru_cache(maxsize=4)
def template(kind: str, payload_bytes: int) -> Any:
    """The payload of a case, built once per process (senders send it, receivers compare).

    A worker builds its own copy from its ``PayloadCheck`` rather than receive the payload in
    its process arguments: a forked worker inherits this cache (no build, no copy), and for a
    spawned one building is no slower than shipping (16 MiB on the 2-vCPU VM: bytes 130-150
    ms either way from start to ready; objects 370-440 ms built vs 510-570 ms shipped, the
    driver pickling 250 ms per worker)."""
    if kind == "bytes":
        return bytes_template(payload_bytes)
    if kind == "object":
        return object_template(payload_bytes)
    if kind == "ndarray":
        return ndarray_template(payload_bytes)
    raise ValueError(f"unknown payload kind {kind!r}")


def make_payload(kind: str, payload_bytes: int) -> tuple[Any, PayloadCheck]:
    """The template payload and its check (``len``: bytes, items or array elements, what the
    timed loops compare ``len(payload)`` with)."""
    value = template(kind, payload_bytes)
    return value, PayloadCheck(kind, payload_bytes, len(value))


def wire_bytes(kind: str, payload: Any, wire: str) -> int:
    """Bytes one message occupies on the wire (pickled tuple, or frame)."""
    if wire == "bytes":
        return frame_bytes(memoryview(payload).nbytes)
    return len(pickle.dumps((0, payload), protocol=pickle.HIGHEST_PROTOCOL))


def new_frame(payload: Any) -> bytearray:
    """A reusable bytes-wire frame of ``payload``'s bytes (bytes, or an ndarray's buffer);
    stamp the sequence number with ``stamp``."""
    data = memoryview(payload).cast("B")
    frame = bytearray(frame_bytes(data.nbytes))
    frame[SEQ_BYTES:] = data
    return frame


def stamp(frame: bytearray, seq: int) -> bytearray:
    SEQ.pack_into(frame, 0, seq)
    return frame


def fan_seq(producer: int, number: int) -> int:
    return producer << PRODUCER_SHIFT | number


def end_marker(wire: str) -> Any:
    """What a fan producer sends on each of its pipe pairs after its timed batch: a frame of
    the sequence number alone (bytes wire), or ``(END_SEQ, None)`` (object wire). Neither
    passes a message's length check, so the timed loop spends nothing on telling them apart."""
    return SEQ.pack(END_SEQ) if wire == "bytes" else (END_SEQ, None)


def is_end_marker(msg: Any, bytes_wire: bool) -> bool:
    """Whether ``msg`` is an end marker (see ``end_marker``)."""
    try:
        if bytes_wire:
            return len(msg) == SEQ_BYTES and SEQ.unpack_from(msg, 0)[0] == END_SEQ
        return type(msg) is tuple and len(msg) == 2 and msg[0] == END_SEQ and msg[1] is None
    except (TypeError, ValueError, struct.error):
        return False
