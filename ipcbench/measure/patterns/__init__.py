"""Pattern registry: each pattern is a Session class that starts its processes and times itself.

Which patterns exist, and what the harness needs to know of each, is the catalogue
(``ipcbench.measure.catalogue``); a pattern's module is imported only when a case of it runs.
``open_session`` is the one way to open a case's session (driver, pyperf runner, benchmarks).
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from ipcbench.errors import IpcbenchError
from ipcbench.measure import catalogue

if TYPE_CHECKING:
    from ipcbench.measure.patterns.base import Placement, Session
    from ipcbench.params import Case


def names() -> list[str]:
    return catalogue.names()


def get(name: str) -> type[Session]:
    """The Session class of a pattern (its module imported now)."""
    entry = catalogue.CATALOGUE.get(name)
    if entry is None:
        valid = ", ".join(catalogue.CATALOGUE)
        raise IpcbenchError(f"unknown pattern {name!r}; valid: {valid}") from None
    module, _, attr = entry.session.partition(":")
    cls: type[Session] = getattr(importlib.import_module(module), attr)
    return cls


def open_session(
    case: Case,
    placement: Placement,
    ctx: Any = None,
    started: Any = None,
    offered_per_s: float | None = None,
) -> Session:
    """Build and start the session of ``case``: this process pinned to ``placement.parent``,
    the transport instantiated, the multiprocessing context of the case's start method
    (unless ``ctx`` is given). ``started(session)`` is called before ``start()``, so a
    half-started session can be cleaned up by its caller too. Availability and placement
    are the caller's to check (each reports them its own way). ``offered_per_s``: the rate a
    relative load of the ``rate`` pattern offers, as measured in the case's first run (None:
    measure the maximum now)."""
    import multiprocessing

    from ipcbench import transports

    if placement.parent:
        os.sched_setaffinity(0, placement.parent)
    if ctx is None:
        ctx = multiprocessing.get_context(case.start_method or None)
    session = get(case.pattern)(case, transports.get(case.transport)(), ctx, placement)
    session.given_rate_per_s = offered_per_s
    if started is not None:
        started(session)
    session.start()
    return session
