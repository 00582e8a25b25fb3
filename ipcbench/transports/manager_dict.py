"""Manager().dict() proxy: a child sets keys, the parent gets them back (proxy_ops)."""

from __future__ import annotations

from typing import Any

from ipcbench.transports.base import Channel, ChannelSpec, Transport
from ipcbench.transports.manager import manager_channel, start_manager
from ipcbench.transports.proxies import ProxyEnd


class ManagerDictTransport(Transport):
    name = "manager_dict"
    description = "Manager().dict() proxy: set by a child, get by the parent"
    kernel_floor = "raw_socketpair"
    patterns = ("proxy_ops", "shared_state")
    ops = {"proxy_ops": ("set", "get"), "shared_state": ("dict_distinct", "dict_contended")}

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        manager = start_manager(ctx)
        proxy = manager.dict()
        return manager_channel(manager, ProxyEnd(proxy, "dict"), ProxyEnd(proxy, "dict"))
