"""put/get calling styles: throughput with blocking calls, with a timeout and nowait."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from ipcbench.analysis import stats
from ipcbench.results.schema import call_label, human_size
from ipcbench.views import axes, slicing

STYLE_ORDER = ("block", "timeout", "nowait")
MAX_PANELS = 3


def figure_calls(df: pd.DataFrame, meta: axes.Meta | None = None) -> Figure:
    """Grouped bars per payload size (one panel each, at most three): msgs/s per calling style,
    one bar per queue-type channel. The nowait pattern's rows, else stream's."""
    title = "put/get calling styles"
    pattern = "nowait" if not _styled(df, "nowait").empty else "stream"
    rows = _styled(df, pattern)
    if rows.empty or rows["call"].nunique() < 2:
        return axes.skipped_figure(
            title, "needs a queue-type channel run with two or more --calls (nowait pattern)"
        )
    metric, higher_better = stats.primary_metric(pattern)
    rows, chosen = slicing.fix_dims(
        rows, keep=("transport", "call", "call_timeout_s", "payload_bytes")
    )
    pairs = zip(rows["call"], rows["call_timeout_s"], strict=True)
    rows = rows.assign(category=[call_label(c, t) or c for c, t in pairs])
    sizes = sorted({int(s) for s in rows["payload_bytes"].dropna()})[:MAX_PANELS]
    fig, panel_axes = axes.data_figure(f"{title} ({pattern})", df, meta, chosen, ncols=len(sizes))
    for ax, size in zip(panel_axes, sizes, strict=True):
        part = rows[rows["payload_bytes"] == size]
        table = slicing.summarize(part, ["transport", "category"], metric)
        categories = sorted(set(table["category"]), key=_style_key)
        axes.grouped_bars(ax, table, categories)
        ax.set_xlabel(f"calling style, {human_size(size)}")
        axes.linear_y(ax, axes.metric_label(metric))
    axes.add_legend(
        fig, panel_axes, "median, 95% CI" + ("" if higher_better else " (lower is better)")
    )
    axes.set_notes(fig, [slicing.failure_note(rows)])
    return fig


def _styled(df: pd.DataFrame, pattern: str) -> pd.DataFrame:
    rows = slicing.pattern_rows(df, pattern)
    if "call" not in rows.columns:
        return rows.iloc[0:0]
    return rows[slicing.dim_keys(rows["call"]) != ""]


def _style_key(label: str) -> tuple[int, str]:
    base = label.split("=")[0]
    return (STYLE_ORDER.index(base) if base in STYLE_ORDER else len(STYLE_ORDER), label)
