"""Figure 1: stream throughput (MB/s) vs payload size."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from ipcbench.views import axes, slicing
from ipcbench.views.style import transport_order


def figure_throughput(df: pd.DataFrame, meta: axes.Meta | None = None) -> Figure:
    """Stream throughput (MB/s) vs payload size, log-log, 95% CI bands, floors dashed."""
    title = "Throughput vs payload size (stream)"
    rows, chosen, table = slicing.per_size(df, "stream", "mb_per_s")
    if table.empty:
        return axes.skipped_figure(title, slicing.no_rows_reason(rows, "stream"))
    fig, (ax,) = axes.data_figure(title, df, meta, chosen)
    for transport in transport_order(table["transport"]):
        part = table[table["transport"] == transport].sort_values("payload_bytes")
        axes.plot_line(
            ax, transport, part["payload_bytes"], part["median"], (part["lo"], part["hi"])
        )
    axes.size_axis(ax, table["payload_bytes"])
    axes.log_y(ax, "throughput (MB/s)")
    axes.add_legend(fig, [ax], "median, 95% CI band")
    axes.set_notes(fig, [slicing.failure_note(rows)])
    return fig
