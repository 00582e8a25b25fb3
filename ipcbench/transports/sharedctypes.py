"""multiprocessing.Value / Array in shared_state: K writer processes update shared ctypes memory.

The ops (each a separate case), next to the Manager dict/list:

* ``value_lock``: one ``Value("q")`` counter shared by all K writers; an update is
  ``with v.get_lock(): v.value += 1`` (the Value's own RLock). Here the lock is what makes it
  correct: ``v.value += 1`` is a read then a write, and two writers that read the same value
  lose one increment -- which the check below reports as lost updates.
* ``value_nolock``: ``Value("q", lock=False)`` counters, one per writer; writer k does
  ``own[k].value += 1``. No lock is needed for correctness: no other process writes its
  counter, so its read-modify-write cannot interleave with another.
* ``array_lock`` / ``array_nolock``: one ``Array("c")`` of K slots, one per writer. An update
  copies the message (sequence number, payload length, payload) into the writer's own slot and
  counts it there -- holding the Array's lock (one RLock for the whole array: the writers take
  turns) or not (the same memory without the lock, what ``Array(lock=False)`` / ``RawArray``
  give; correct because each slot has one writer).

Verification, after every batch (untimed, by the session, from ``tally``): each counter must
equal the updates made -- K x n for the shared counter, n for a writer's counter or slot
count -- so one lost or one extra update is an error. For the arrays, each writer's last
message is checked whole: its sequence number must be that writer's last, and every payload
byte must match. Earlier messages of a slot are overwritten by the writer's next one, so a
content fault in one of them is not visible (as for the Manager dict's contended key) -- its
loss is (the count). The parent reads only after every writer has replied on its control pipe
after its last update: each writer's stores precede its pipe write, the parent's loads follow
its pipe read, and the kernel orders the two, so the parent sees every store.

Counters move no payload: their rows have no MB/s, and ``wire_bytes`` is what one update
writes (8 bytes for a counter, header + payload for a slot). Payloads are bytes only: a slot
holds raw bytes, not pickles.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from ipcbench.transports.base import Channel, ChannelSpec, Endpoint, Transport

OPS = ("value_lock", "value_nolock", "array_lock", "array_nolock")
COUNTER_BYTES = 8  # one Value("q")
COUNT = struct.Struct("<q")  # a slot's update count
HEADER = struct.Struct("<qqq")  # a slot: update count, sequence number, payload length


class Tally(NamedTuple):
    """What the updates left in shared memory (read by the parent after a batch)."""

    counts: list[int]  # updates landed: one per writer, or the one shared counter
    last: list[Any]  # each writer's last message (seq, payload); [] for counters
    update_bytes: int  # bytes one update writes into shared memory


class CtypesEnd(Endpoint):
    """One side over the case's shared ctypes objects (both sides hold the same ones)."""

    def __init__(self, counter: Any, own: list[Any], array: Any, payload_bytes: int) -> None:
        self.counter = counter  # Value("q") with its lock: value_lock
        self.own = own  # Value("q", lock=False), one per writer: value_nolock
        self.array = array  # Array("c", writers * slot) with its lock: array_lock/_nolock
        self.payload_bytes = payload_bytes
        self.slot_bytes = HEADER.size + payload_bytes
        self.view = memoryview(array.get_obj()).cast("B")  # the array's bytes, no lock

    def __getstate__(self) -> dict[str, Any]:
        """Pickled into a spawned child (multiprocessing shares the ctypes objects then)."""
        return {k: getattr(self, k) for k in ("counter", "own", "array", "payload_bytes")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def update(self, op: str, index: int, seq: int, msg: Any) -> None:
        """One update of writer ``index`` (see the module docstring for each op)."""
        if op == "value_nolock":
            self.own[index].value += 1
        elif op == "value_lock":
            counter = self.counter
            with counter.get_lock():
                counter.value += 1
        elif op == "array_lock":
            with self.array.get_lock():
                self._write(index, msg)
        else:
            self._write(index, msg)

    def _write(self, index: int, msg: Any) -> None:
        """Copy ``(seq, payload)`` into the writer's slot and count it there."""
        seq, payload = msg[0], msg[1]
        view, offset, length = self.view, index * self.slot_bytes, len(payload)
        start = offset + HEADER.size
        view[start : start + length] = payload
        HEADER.pack_into(view, offset, COUNT.unpack_from(view, offset)[0] + 1, seq, length)

    def tally(self, op: str, writers: int) -> Tally:
        """Counts and last messages of ``writers`` writers, for the session's check."""
        if op == "value_lock":
            return Tally([self.counter.value], [], COUNTER_BYTES)
        if op == "value_nolock":
            return Tally([v.value for v in self.own[:writers]], [], COUNTER_BYTES)
        counts, last = [], []
        for index in range(writers):
            offset = index * self.slot_bytes
            count, seq, length = HEADER.unpack_from(self.view, offset)
            start = offset + HEADER.size
            counts.append(count)
            last.append((seq, bytes(self.view[start : start + min(length, self.payload_bytes)])))
        return Tally(counts, last, self.slot_bytes)

    def clear(self) -> None:
        """Zero every count (between batches, no writer running)."""
        with self.counter.get_lock():
            self.counter.value = 0
        for value in self.own:
            value.value = 0
        for index in range(len(self.own)):
            COUNT.pack_into(self.view, index * self.slot_bytes, 0)

    def close(self) -> None:
        self.view.release()


class SharedCtypesTransport(Transport):
    name = "sharedctypes"
    description = "multiprocessing.Value / Array (shared ctypes memory), with and without lock"
    kernel_floor = None
    patterns = ("shared_state",)
    ops = {"shared_state": OPS}

    @classmethod
    def payload_kinds(cls) -> tuple[str, ...]:
        return ("bytes",)

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        writers = max(1, spec.producers)
        counter = ctx.Value("q", 0)
        own = [ctx.Value("q", 0, lock=False) for _ in range(writers)]
        array = ctx.Array("c", writers * (HEADER.size + spec.payload_bytes))
        parent = CtypesEnd(counter, own, array, spec.payload_bytes)
        return Channel(parent=parent, child=CtypesEnd(counter, own, array, spec.payload_bytes))
