"""Manager().Queue(maxsize): every put/get is a round trip to the manager process."""

from __future__ import annotations

from typing import Any

from ipcbench.transports.base import CALL_STYLES, Channel, ChannelSpec, Transport
from ipcbench.transports.manager import manager_channel, start_manager
from ipcbench.transports.queues import queue_channel


class ManagerQueueTransport(Transport):
    name = "manager_queue"
    description = "Manager().Queue(maxsize) proxy, put/get"
    kernel_floor = "raw_socketpair"
    patterns = (
        "pingpong",
        "stream",
        "fan",
        "backpressure",
        "nowait",
        "lifecycle",
        "shared_state",
        "rate",
    )
    ops = {
        "lifecycle": ("qsize", "empty", "full"),
        "shared_state": ("queue_put",),
    }
    fan_mode = "shared"
    uses_maxsize = True
    calls = CALL_STYLES

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        manager = start_manager(ctx)
        parent, child = queue_channel(lambda: manager.Queue(spec.maxsize), duplex, spec=spec)
        return manager_channel(manager, parent, child)
