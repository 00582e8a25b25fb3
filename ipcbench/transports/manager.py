"""Starting a Manager server for a case (outside the timed region) and shutting it down."""

from __future__ import annotations

import os
from multiprocessing.managers import SyncManager
from typing import Any

from ipcbench.transports.base import Channel, Endpoint

AUTHKEY_BYTES = 32


def start_manager(ctx: Any) -> SyncManager:
    """A new Manager server (fresh random authkey, local Unix socket) in its own process.

    ``ctx.Manager()`` would reuse the current process's authkey, which every driver of a sweep
    inherits; each server gets its own key instead. Proxies made by the manager carry that key,
    and a proxy pickled for a child ``Process`` (spawn, forkserver) takes it along.
    """
    manager = SyncManager(authkey=os.urandom(AUTHKEY_BYTES), ctx=ctx)
    manager.start()
    return manager


def manager_channel(manager: Any, parent: Endpoint, child: Endpoint) -> Channel:
    return Channel(
        parent=parent,
        child=child,
        cleanups=[manager.shutdown],
        helper_pids=[manager._process.pid],
    )
