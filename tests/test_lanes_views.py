"""Figures keep the lanes beyond the seed's channels apart from those channels and the floors."""

from __future__ import annotations

from ipcbench import transports
from ipcbench.views.style import (
    LANE_DASHES,
    LANES,
    legend_label,
    style_for,
    transport_of,
    transport_order,
)


def test_lanes_are_labelled_styled_and_listed_between_channels_and_floors() -> None:
    names = ["raw_pipe", "shm_handoff", "queue", "thread_queue", "pipe", "memcpy", "pipe_oob"]
    assert transport_order(names) == [
        "pipe", "queue", "pipe_oob", "shm_handoff", "thread_queue", "memcpy", "raw_pipe"
    ]  # fmt: skip
    assert legend_label("shm_handoff") == "shm_handoff (lane)"
    assert legend_label("raw_pipe") == "raw_pipe (floor)" and legend_label("pipe") == "pipe"
    assert transport_of(legend_label("thread_queue")) == "thread_queue"
    assert all(style_for(t).linestyle == LANE_DASHES for t in LANES)
    assert style_for("pipe").linestyle != LANE_DASHES


def test_every_registered_lane_has_its_own_style() -> None:
    registered = set(transports.names()) & set(LANES)
    colours_markers = {(style_for(t).color, style_for(t).marker) for t in registered}
    assert len(colours_markers) == len(registered)
