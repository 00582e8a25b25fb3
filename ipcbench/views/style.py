"""Figure style: one colour and marker per transport (the same in every figure), which
transports are floors and which are lanes beyond the seed's channels (shared memory, pickle-5,
threads, sharedctypes: dash-dotted lines, labelled "(lane)"), the order they are listed in
(seed channels and peers, then lanes, then floors), and the colours of non-transport bars.

Colours: Okabe-Ito and Paul Tol "muted" (colour-blind safe); markers add a second cue.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Style:
    color: str
    marker: str
    linestyle: Any = "-"  # a matplotlib line style: name or (offset, dash pattern)


FLOORS: tuple[str, ...] = ("memcpy", "pickle", "raw_pipe", "raw_socketpair")
IN_PROCESS_FLOORS: tuple[str, ...] = ("memcpy", "pickle")
LANES: tuple[str, ...] = (
    "pipe_oob",
    "shm_handoff",
    "shm_ring",
    "sharedctypes",
    "thread_queue",
    "thread_simplequeue",
)
LANE_DASHES: Any = (0, (5, 1.5, 1, 1.5))  # dash-dot: every lane, whatever its colour

TRANSPORT_STYLES: dict[str, Style] = {
    "pipe": Style("#0072B2", "o"),
    "pipe_bytes": Style("#56B4E9", "s"),
    "pipe_oneway": Style("#6699CC", "d"),
    "queue": Style("#D55E00", "^"),
    "simplequeue": Style("#E69F00", "v"),
    "joinablequeue": Style("#CC79A7", "D"),
    "manager_queue": Style("#009E73", "P"),
    "manager_dict": Style("#332288", "X"),
    "manager_list": Style("#882255", "*"),
    "faster_fifo": Style("#999933", "h"),
    "zmq_ipc": Style("#44AA99", "p"),
    "pipe_oob": Style("#88CCEE", "<", LANE_DASHES),
    "shm_handoff": Style("#117733", ">", LANE_DASHES),
    "shm_ring": Style("#AA4499", "H", LANE_DASHES),
    "sharedctypes": Style("#661100", "8", LANE_DASHES),
    "thread_queue": Style("#CC6677", "4", LANE_DASHES),
    "thread_simplequeue": Style("#DDCC77", "3", LANE_DASHES),
    "memcpy": Style("#000000", "x", "--"),
    "pickle": Style("#777777", "+", ":"),
    "raw_pipe": Style("#444444", "1", "-."),
    "raw_socketpair": Style("#999999", "2", (0, (6, 2))),
}
_FALLBACK_COLORS = ("#DDCC77", "#88CCEE", "#CC6677", "#AA4499", "#661100", "#117733")
_FALLBACK_MARKERS = ("<", ">", "d", "H", "8", "1")

# Cost breakdown components that are not transports.
SERIALIZATION_COLOR = "#BBBBBB"
KERNEL_COLOR = "#555555"


def style_for(transport: str) -> Style:
    """The style of a transport; unknown names get a stable colour from a spare palette."""
    if transport in TRANSPORT_STYLES:
        return TRANSPORT_STYLES[transport]
    i = zlib.crc32(transport.encode()) % len(_FALLBACK_COLORS)
    return Style(_FALLBACK_COLORS[i], _FALLBACK_MARKERS[i])


def transport_order(names: Iterable[str]) -> list[str]:
    """Known transports in mapping order, then unknown ones; lanes after them, floors last."""
    known = list(TRANSPORT_STYLES)
    unique = set(names)

    def key(name: str) -> tuple[int, int, str]:
        rank = known.index(name) if name in known else len(known)
        group = 2 if name in FLOORS else 1 if name in LANES else 0
        return (group, rank, name)

    return sorted(unique, key=key)


def legend_label(transport: str) -> str:
    """The legend entry: floors and lanes say what they are."""
    if transport in FLOORS:
        return f"{transport} (floor)"
    return f"{transport} (lane)" if transport in LANES else transport


def transport_of(label: str) -> str:
    """The transport a legend label names (``legend_label`` undone)."""
    return label.removesuffix(" (floor)").removesuffix(" (lane)")


MACHINE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
