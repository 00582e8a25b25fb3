"""Figure 9: cost breakdown, each channel's time per message beside the floors it contains."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ipcbench import transports
from ipcbench.analysis import ranking
from ipcbench.results.schema import human_size
from ipcbench.views import axes, slicing
from ipcbench.views.style import (
    FLOORS,
    KERNEL_COLOR,
    SERIALIZATION_COLOR,
    style_for,
    transport_order,
)

BREAKDOWN_COLUMNS: tuple[str, ...] = (
    "transport",
    "total",
    "serialization",
    "kernel",
    "kernel_floor",
    "pickles",
    "largest_floor_share",
)


def _us_per_msg(rows: pd.DataFrame) -> pd.DataFrame:
    """Median per-message time (us) per transport, from stream msgs/s."""
    ok = rows[(rows["status"] == "ok") & rows["msgs_per_s"].notna()]
    per_msg = (1e6 / ok["msgs_per_s"]).groupby(ok["transport"]).median()
    return per_msg.rename("us").reset_index()


def _declared_floor(transport: str) -> tuple[bool, str | None]:
    """(known, floor): the raw floor a registered transport's payload bytes travel through
    (its ``kernel_floor``; None where none crosses the kernel); (False, None) for a name this
    ipcbench does not know (a result from another version) or a plug-in that does not say."""
    cls = {c.name: c for c in transports.all_transports()}.get(transport)
    if cls is None or not hasattr(cls, "kernel_floor"):
        return False, None
    return True, cls.kernel_floor


def _kernel_floor(transport: str, per_msg: Mapping[str, float]) -> str | None:
    known, floor = _declared_floor(transport)
    if known:
        return floor if floor in per_msg else None
    present = [f for f in ("raw_pipe", "raw_socketpair") if f in per_msg]
    return min(present, key=lambda f: per_msg[f]) if present else None


def breakdown_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per non-floor channel (us per message, stream): its total; the pickle floor only if it
    pickles (NaN for bytes channels such as pipe_bytes and zmq_ipc: they pay no pickling); the
    raw floor its bytes travel through (NaN where none applies or it was not measured); and the
    larger floor as a share of the total. Floors are never added up: they overlap in time."""
    per_msg = dict(zip(*(_us_per_msg(rows)[c] for c in ("transport", "us")), strict=True))
    pickle_us = per_msg.get("pickle", np.nan)
    out = []
    for transport in transport_order(t for t in per_msg if t not in FLOORS):
        pickled = ranking.pickles(transport)
        floor = _kernel_floor(transport, per_msg)
        ser = pickle_us if pickled else np.nan
        kernel = per_msg[floor] if floor else np.nan
        total = per_msg[transport]
        largest = np.nanmax([ser, kernel]) if not (np.isnan(ser) and np.isnan(kernel)) else np.nan
        out.append(
            {
                "transport": transport,
                "total": total,
                "serialization": ser,
                "kernel": kernel,
                "kernel_floor": floor or "",
                "pickles": pickled,
                "largest_floor_share": largest / total if total else np.nan,
            }
        )
    return pd.DataFrame(out, columns=list(BREAKDOWN_COLUMNS))


def figure_cost_breakdown(
    df: pd.DataFrame, payload_bytes: int | None = None, meta: axes.Meta | None = None
) -> Figure:
    """Per channel at one size, side by side (never stacked): its time per message (stream),
    the pickle floor (only for channels that pickle) and the raw kernel floor its bytes pass
    through, each measured alone. Stages overlap inside a channel, so they do not add up."""
    title = "Time per message beside the floors it contains (stream)"
    rows = slicing.pattern_rows(df, "stream")
    sizes = rows.loc[rows["transport"] == "pickle", "payload_bytes"].dropna()
    size = payload_bytes or slicing.nearest_size(
        sizes if len(sizes) else rows["payload_bytes"], 4096
    )
    if size is None:
        return axes.skipped_figure(title, slicing.no_rows_reason(rows, "stream"))
    rows, chosen = slicing.fix_dims(rows[rows["payload_bytes"] == size], keep=("transport",))
    table = breakdown_table(rows)
    if table.empty:
        return axes.skipped_figure(
            title, slicing.no_rows_reason(rows, f"stream at {human_size(size)}")
        )
    chosen["payload_bytes"] = str(size)
    fig, (ax,) = axes.data_figure(title, df, meta, chosen)
    _side_by_side(ax, table)
    axes.add_legend(fig, [ax], "bar")
    axes.set_notes(fig, _breakdown_notes(table, rows))
    return fig


BREAKDOWN_BARS: tuple[tuple[str, str], ...] = (
    ("total", "channel total (colour = channel)"),
    ("serialization", "pickle floor (in-process dumps + loads)"),
    ("kernel", "kernel floor (raw pipe / socketpair)"),
)


def _side_by_side(ax: Axes, table: pd.DataFrame) -> None:
    x = np.arange(len(table))
    width = 0.8 / len(BREAKDOWN_BARS)
    for i, (column, label) in enumerate(BREAKDOWN_BARS):
        pos = x - 0.4 + width * (i + 0.5)
        heights = table[column].fillna(0).to_numpy()  # NaN: not paid / not measured, no bar
        if column == "total":
            colors: Any = [style_for(t).color for t in table["transport"]]
            style: dict[str, Any] = {}
        elif column == "serialization":
            colors, style = SERIALIZATION_COLOR, {"hatch": "//"}
        else:
            colors, style = KERNEL_COLOR, {}
        bars = ax.bar(pos, heights, width, color=colors, edgecolor="white", label=label, **style)
        axes.tag(bars, column)
    for xi, total in zip(x - 0.4 + width / 2, table["total"], strict=True):
        ax.annotate(
            f"{total:.3g}",
            (xi, total),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )
    axes.category_axis(ax, list(table["transport"]), "channel")
    ax.set_ylabel("time per message (\u00b5s)")
    ax.grid(True, axis="y", alpha=0.3)


def _breakdown_notes(table: pd.DataFrame, rows: pd.DataFrame) -> list[str | None]:
    notes: list[str | None] = [
        slicing.failure_note(rows),
        "Bars side by side, not stacked: each floor is measured alone, and inside a channel the "
        "stages overlap in time",
        "(a Queue's feeder thread pickles while the reader copies), so the floors do not add up "
        "to the total and the gap is not one stage's cost.",
    ]
    unpickled = list(table.loc[~table["pickles"].astype(bool), "transport"])
    threads = [t for t in unpickled if ranking.in_threads(t)]
    frames = [t for t in unpickled if t not in threads]
    if frames:
        notes.append(f"no pickle bar: {', '.join(frames)} send bytes frames (no pickling)")
    if threads:
        notes.append(
            f"no pickle bar: {', '.join(threads)} pass each message by reference (threads)"
        )
    no_kernel = list(table.loc[table["kernel"].isna(), "transport"])
    declared = [t for t in no_kernel if _declared_floor(t) == (True, None)]
    missing = [t for t in no_kernel if t not in declared]
    shared = [t for t in declared if not ranking.in_threads(t)]
    in_process = [t for t in declared if ranking.in_threads(t)]
    if shared:
        notes.append(f"no kernel bar: {', '.join(shared)} (shared memory, no kernel copy)")
    if in_process:
        notes.append(f"no kernel bar: {', '.join(in_process)} (threads of one process)")
    if missing:
        notes.append(f"no kernel bar: {', '.join(missing)} (its raw floor was not measured)")
    if table["pickles"].astype(bool).any() and table["serialization"].isna().all():
        notes.append("pickle floor not measured at this size")
    above = list(table.loc[table["largest_floor_share"] > 1, "transport"])
    if above:
        notes.append(
            f"faster than a floor it contains: {', '.join(above)} (the floor's loop is not the "
            "channel's: batching or a different copy path)"
        )
    return notes
