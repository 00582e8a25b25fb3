"""Starting a Manager server for a case (outside the timed region) and shutting it down."""

from __future__ import annotations

from typing import Any

from ipcbench.transports.base import Channel, Endpoint


def start_manager(ctx: Any) -> Any:
    """A new Manager server (fresh random authkey, local Unix socket) in its own process."""
    manager = ctx.Manager()
    return manager


def manager_channel(manager: Any, parent: Endpoint, child: Endpoint) -> Channel:
    return Channel(
        parent=parent,
        child=child,
        cleanups=[manager.shutdown],
        helper_pids=[manager._process.pid],
    )
