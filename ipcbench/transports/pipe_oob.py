"""multiprocessing.Pipe() with pickle protocol 5 and out-of-band buffers (PEP 574).

A message is pickled with ``pickle.dumps(msg, protocol=5, buffer_callback=...)``: the pickle
stream keeps only a reference to each out-of-band buffer (one ``NEXT_BUFFER`` opcode), and the
buffers themselves are sent raw after the stream, each with ``send_bytes(buffer.raw())``.

Which payloads go out of band. Protocol 5 sends only ``PickleBuffer`` objects (and what
reduces to them, such as NumPy arrays) out of band; ``bytes`` and ``bytearray`` are pickled in
band, into the stream. So the endpoint wraps the payload of an object-wire message -- the
second item of a ``(seq, payload, ...)`` tuple -- in a ``PickleBuffer`` when it is ``bytes``
or ``bytearray``, at every size (no threshold: the figures then show where out-of-band starts
to pay, and what its extra ``send_bytes`` per message costs on small messages). What the
receiver gets back is what ``pipe`` delivers: for a ``bytes`` payload, ``(seq, bytes)``
(a read-only ``PickleBuffer`` comes back as the very ``bytes`` object ``recv_bytes`` made);
a ``bytearray`` payload comes back as ``bytes``. The verification (length, every byte)
is the one every object-wire transport gets. An "object" payload (a list of small tuples) has
no buffer to send out of band: its case is ``pipe`` plus this endpoint's small overhead,
which is the honest answer for such payloads. An "ndarray" payload needs no wrapping: a
contiguous NumPy array reduces itself to a ``PickleBuffer`` under protocol 5, so its data goes
out of band, and the receiver gets an array over the received ``bytes`` (read-only, no copy).

The number of buffers that follow a stream is not sent separately: it is in the stream (one
``NEXT_BUFFER`` per buffer, and ``pickle.loads`` asks ``buffers`` for the next one exactly
there). The receiver passes ``loads`` a lazy iterator that calls ``recv_bytes`` on demand, so
each buffer is read when the unpickler reaches it. Prefixing a count to the stream would copy
the stream once more (the whole payload, for an in-band "object" payload); a separate count
message would cost a system call per message.

Copies of a ``bytes`` payload of n bytes, per message and direction (CPython 3.11):

* ``pipe``: ``dumps`` copies the payload into the stream; the kernel copies it into the pipe
  and out again, in reads of at most the pipe's 64 KiB; ``Connection._recv`` copies each chunk
  into a BytesIO (``getvalue`` then hands that buffer over without a copy); ``loads`` copies
  the payload out of the stream into a new ``bytes``: 3 copies in Python, 2 in the kernel.
* ``pipe_oob``: the stream is a few bytes; ``send_bytes`` writes the payload from its own
  memory; ``recv_bytes`` copies the chunks into its BytesIO as above; ``loads`` returns that
  ``bytes`` itself: 1 copy in Python, 2 in the kernel.

``recv_bytes_into`` a preallocated bytearray would not save one: in 3.11 it reads through the
same BytesIO and then copies into the target (``Connection.recv_bytes_into``), and the payload
would be a view of a reused buffer, valid only until the next receive. The copy left in
``Connection._recv`` is CPython issue #96059; the floors (``raw_pipe``) show what a read
straight into a buffer costs.
"""

from __future__ import annotations

import pickle
from pickle import PickleBuffer
from typing import Any, ClassVar

from ipcbench.transports.base import Channel, ChannelSpec, Transport
from ipcbench.transports.connection import ObjectConn

OOB_TYPES = (bytes, bytearray)  # payload types the endpoint wraps in a PickleBuffer


class OobConn(ObjectConn):
    """send/recv over Connections with out-of-band buffers. Either side may be None."""

    def __init__(self, out_conn: Any, in_conn: Any) -> None:
        super().__init__(out_conn, in_conn)
        self._bufs: list[PickleBuffer] = []  # the buffers of the message being sent
        self._collect = self._bufs.append
        if out_conn is not None:
            self._send_bytes = out_conn.send_bytes
            self.send = self._send_oob  # type: ignore[method-assign]
        if in_conn is not None:
            self._recv_bytes = in_conn.recv_bytes
            # the buffers of any message, read when loads reaches each (never exhausted)
            self._buffers = iter(in_conn.recv_bytes, None)
            self.recv = self._recv_oob  # type: ignore[method-assign]

    def _send_oob(self, msg: Any) -> None:
        """Pickle ``msg`` with its payload out of band; send the stream, then each buffer."""
        if type(msg) is tuple and len(msg) > 1 and type(msg[1]) in OOB_TYPES:
            msg = (msg[0], PickleBuffer(msg[1]), *msg[2:])
        bufs, send_bytes = self._bufs, self._send_bytes
        try:
            send_bytes(pickle.dumps(msg, protocol=5, buffer_callback=self._collect))
            for buf in bufs:
                send_bytes(buf.raw())
        finally:
            bufs.clear()

    def _recv_oob(self) -> Any:
        return pickle.loads(self._recv_bytes(), buffers=self._buffers)


class PipeOobTransport(Transport):
    name = "pipe_oob"
    description = "multiprocessing.Pipe() duplex, pickle 5 with the payload out of band"
    kernel_floor = "raw_socketpair"
    patterns: ClassVar[tuple[str, ...]] = ("pingpong", "stream", "fan", "rate")
    fan_mode = "pairs"

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        a, b = ctx.Pipe(duplex=True)
        return Channel(parent=OobConn(a, a), child=OobConn(b, b))
