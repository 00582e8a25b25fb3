"""Pipe(duplex=False): one-way pipes (a pair of them when both directions are needed)."""

from __future__ import annotations

from typing import Any

from ipcbench.transports.base import Channel, ChannelSpec, Transport
from ipcbench.transports.connection import ObjectConn


class PipeOnewayTransport(Transport):
    name = "pipe_oneway"
    description = "Pipe(duplex=False), send/recv; two of them for ping-pong"
    kernel_floor = "raw_pipe"
    patterns = ("pingpong", "stream", "fan", "rate")
    fan_mode = "pairs"

    def open(self, ctx: Any, spec: ChannelSpec, duplex: bool) -> Channel:
        up_r, up_w = ctx.Pipe(duplex=False)  # child -> parent
        if not duplex:
            return Channel(parent=ObjectConn(None, up_r), child=ObjectConn(up_w, None))
        down_r, down_w = ctx.Pipe(duplex=False)  # parent -> child
        return Channel(parent=ObjectConn(down_w, up_r), child=ObjectConn(up_w, down_r))
