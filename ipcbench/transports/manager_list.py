"""Manager().list() proxy: a child appends items, the parent reads them back (proxy_ops)."""

from __future__ import annotations

from typing import Any

from ipcbench.transports.base import Channel, ChannelSpec, Transport
from ipcbench.transports.manager import manager_channel, start_manager
from ipcbench.transports.proxies import ProxyEnd


class ManagerListTransport(Transport):
    name = "manager_list"
    description = "Manager().list() proxy: append by a child, get by the parent"
    kernel_floor = "raw_socketpair"
    patterns = ("proxy_ops", "shared_state")
    ops = {"proxy_ops": ("append", "get"), "shared_state": ("list_append",)}

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        manager = start_manager(ctx)
        proxy = manager.list()
        return manager_channel(manager, ProxyEnd(proxy, "list"), ProxyEnd(proxy, "list"))
