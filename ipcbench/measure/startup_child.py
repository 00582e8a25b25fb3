"""The child side of the ``startup`` pattern: what a started process runs, and nothing more.

Kept apart from ``ipcbench.measure.patterns.startup`` on purpose: a spawn or forkserver child
imports the module of its target function, and this one imports only the standard library
(``ipcbench.measure.patterns`` alone costs tens of milliseconds, which would be counted as the
start-up of a "bare" child). Fault injection (tests only) imports ``workers`` lazily.

A child's first message is ``(seq, token)``: the parent made ``token`` fresh for this start
and checks it, so a failed start cannot pass for a fast one. A child that fails reports
``("error", "Type: text")`` on the same connection instead, then exits with code 1.
"""

from __future__ import annotations

import os
import sys
from typing import Any

ERROR_TAG = "error"


def first_messages(seq: int, token: bytes, fault: str) -> list[Any]:
    """The messages a child sends: ``(seq, token)``, or what the injected fault makes of it
    (none, two, a damaged one; or the fault kills, hangs or raises here)."""
    msg = (seq, token)
    if not fault or fault.startswith("consumer_"):  # no consumer here
        return [msg]
    from ipcbench.measure.workers import _apply_fault  # fault injection (tests) only

    return _apply_fault(fault, seq, msg)


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def bare(conn: Any, seq: int, token: bytes, fault: str) -> None:
    """Target of op ``process_bare``: send the first message, exit."""
    _send(conn, seq, token, fault)


def with_numpy(conn: Any, seq: int, token: bytes, fault: str) -> None:
    """Target of op ``process_numpy``: import NumPy, then send the first message. A NumPy
    already imported (inherited from the parent under fork, or preloaded by a forkserver)
    would make the number a lie: that is reported as an error instead."""
    if "numpy" in sys.modules:
        _fail(conn, "numpy was already imported in the child before its import (inherited)")
    import numpy  # noqa: F401  (the import is what is measured)

    _send(conn, seq, token, fault)


def pool_task(seq: int, token: bytes, fault: str) -> list[Any]:
    """Task of op ``pool``: its result is the list of first messages."""
    return first_messages(seq, token, fault)


def manager_initializer(fault: str, errors: Any) -> None:
    """Initializer of a Manager server started with an injected fault (tests only): the fault
    kills, hangs or raises in the server before it serves; what it raised goes on ``errors``."""
    try:
        first_messages(1, b"", fault)
    except BaseException as exc:
        errors.send(error_text(exc))
        os._exit(1)


def _send(conn: Any, seq: int, token: bytes, fault: str) -> None:
    try:
        for out in first_messages(seq, token, fault):
            conn.send(out)
    except BaseException as exc:  # report everything, including SystemExit from a fault
        _fail(conn, error_text(exc))
    conn.close()


def _fail(conn: Any, text: str) -> None:
    try:
        conn.send((ERROR_TAG, text))
    finally:
        os._exit(1)
