"""Figure 5: bounded queues, throughput and producer blocked time vs maxsize."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ipcbench.views import axes, slicing
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


def figure_backpressure(df: pd.DataFrame, meta: axes.Meta | None = None) -> Figure:
    """Throughput and producer blocked time vs maxsize, one line per queue type."""
    title = "Backpressure: bounded queues"
    rows, chosen = slicing.fix_dims(
        slicing.pattern_rows(df, "backpressure"), keep=("transport", "maxsize")
    )
    if slicing.summarize(rows, ["transport"], "msgs_per_s").empty:
        return axes.skipped_figure(title, slicing.no_rows_reason(rows, "backpressure"))
    rows = rows.assign(maxsize_key=_maxsize_key(rows["maxsize"]))
    pairs = _maxsize_labels(rows["maxsize"])
    positions = {v: i for i, (v, _) in enumerate(pairs)}
    fig, panel_axes = axes.data_figure(title, df, meta, chosen, ncols=2)
    panels = (("msgs_per_s", "throughput (msgs/s)"), ("blocked_s", "producer blocked time (s)"))
    notes = [slicing.failure_note(rows)]
    for ax, (column, ylabel) in zip(panel_axes, panels, strict=True):
        table = slicing.summarize(rows, ["transport", "maxsize_key"], column)
        if table.empty:
            notes.append(f"'{column}' not recorded in these results")
        for transport in transport_order(table["transport"]):
            part = table[table["transport"] == transport].sort_values("maxsize_key")
            x = [positions[v] for v in part["maxsize_key"]]
            axes.plot_line(ax, transport, x, part["median"], (part["lo"], part["hi"]))
        axes.category_axis(ax, [label for _, label in pairs], "maxsize (messages)")
        axes.log_y(ax, ylabel)
        positive = table.loc[table["median"] > 0, "median"]
        if (table["median"] <= 0).any() and len(positive):
            ax.set_yscale("symlog", linthresh=float(positive.min()))  # zero stays visible
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: axes.compact(v)))
    axes.add_legend(fig, panel_axes, "median, 95% CI band")
    axes.set_notes(fig, notes)
    return fig
