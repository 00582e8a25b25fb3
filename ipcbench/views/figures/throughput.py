"""Figure 1: stream throughput (MB/s) vs payload size."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from ipcbench.views.axes import (
    Meta,
    add_legend,
    log_y,
    meta_of,
    new_figure,
    plot_line,
    set_notes,
    size_axis,
    skipped_figure,
    subtitle,
)
from ipcbench.views.slicing import failure_note, fix_dims, no_rows_reason, pattern_rows, summarize
from ipcbench.views.style import transport_order


def figure_throughput(df: pd.DataFrame, meta: Meta | None = None) -> Figure:
    """Stream throughput (MB/s) vs payload size, log-log, 95% CI bands, floors dashed."""
    title = "Throughput vs payload size (stream)"
    rows, chosen = fix_dims(pattern_rows(df, "stream"), keep=("transport", "payload_bytes"))
    table = summarize(rows, ["transport", "payload_bytes"], "mb_per_s")
    if table.empty:
        return skipped_figure(title, no_rows_reason(rows, "stream"))
    fig, (ax,) = new_figure(title, subtitle(meta_of(df, meta), chosen))
    for transport in transport_order(table["transport"]):
        part = table[table["transport"] == transport].sort_values("payload_bytes")
        plot_line(ax, transport, part["payload_bytes"], part["median"], (part["lo"], part["hi"]))
    size_axis(ax, table["payload_bytes"])
    log_y(ax, "throughput (MB/s)")
    add_legend(fig, [ax], "median, 95% CI band")
    set_notes(fig, [failure_note(rows)])
    return fig
