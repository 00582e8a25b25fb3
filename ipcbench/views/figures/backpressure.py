"""Figure 5: bounded queues, throughput and producer blocked time vs maxsize."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ipcbench.views.axes import (
    Meta,
    add_legend,
    category_axis,
    compact,
    log_y,
    meta_of,
    new_figure,
    plot_line,
    set_notes,
    skipped_figure,
    subtitle,
)
from ipcbench.views.slicing import failure_note, fix_dims, no_rows_reason, pattern_rows, summarize
from ipcbench.views.style import transport_order


def _maxsize_labels(values: Iterable[float]) -> list[tuple[float, str]]:
    """Sorted (value, label) with unbounded (<= 0 or missing) last as infinity."""
    bounded = sorted({float(v) for v in values if pd.notna(v) and v > 0})
    pairs = [(v, f"{int(v)}") for v in bounded]
    if any(pd.isna(v) or v <= 0 for v in values):
        pairs.append((float("inf"), "\u221e"))
    return pairs


def _maxsize_key(series: pd.Series) -> pd.Series:
    """maxsize as float with unbounded (0 or empty) as infinity (works for nullable Int64)."""
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    return values.where(values > 0, float("inf")).fillna(float("inf"))


def figure_backpressure(df: pd.DataFrame, meta: Meta | None = None) -> Figure:
    """Throughput and producer blocked time vs maxsize, one line per queue type."""
    title = "Backpressure: bounded queues"
    rows, chosen = fix_dims(pattern_rows(df, "backpressure"), keep=("transport", "maxsize"))
    if summarize(rows, ["transport"], "msgs_per_s").empty:
        return skipped_figure(title, no_rows_reason(rows, "backpressure"))
    rows = rows.assign(maxsize_key=_maxsize_key(rows["maxsize"]))
    pairs = _maxsize_labels(rows["maxsize"])
    positions = {v: i for i, (v, _) in enumerate(pairs)}
    fig, axes = new_figure(title, subtitle(meta_of(df, meta), chosen), ncols=2)
    panels = (("msgs_per_s", "throughput (msgs/s)"), ("blocked_s", "producer blocked time (s)"))
    notes = [failure_note(rows)]
    for ax, (column, ylabel) in zip(axes, panels, strict=True):
        table = summarize(rows, ["transport", "maxsize_key"], column)
        if table.empty:
            notes.append(f"'{column}' not recorded in these results")
        for transport in transport_order(table["transport"]):
            part = table[table["transport"] == transport].sort_values("maxsize_key")
            x = [positions[v] for v in part["maxsize_key"]]
            plot_line(ax, transport, x, part["median"], (part["lo"], part["hi"]))
        category_axis(ax, [label for _, label in pairs], "maxsize (messages)")
        log_y(ax, ylabel)
        positive = table.loc[table["median"] > 0, "median"]
        if (table["median"] <= 0).any() and len(positive):
            ax.set_yscale("symlog", linthresh=float(positive.min()))  # zero stays visible
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    add_legend(fig, axes, "median, 95% CI band")
    set_notes(fig, notes)
    return fig
