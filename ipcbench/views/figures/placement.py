"""Figure 7: start method and CPU placement at one payload size."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from ipcbench.analysis import stats
from ipcbench.results.schema import human_size
from ipcbench.views import axes, slicing
from ipcbench.views.style import IN_PROCESS_FLOORS


def _dimension_table(rows: pd.DataFrame, dim: str, metric: str) -> pd.DataFrame:
    sliced, _ = slicing.fix_dims(rows, keep=("transport", dim))
    table = slicing.summarize(sliced, ["transport", dim], metric)
    return table.assign(category=table[dim].astype("string").fillna("?"))


def figure_start_method_placement(
    df: pd.DataFrame, payload_bytes: int | None = None, meta: axes.Meta | None = None
) -> Figure:
    """Grouped bars at one payload size: pingpong p50 (or stream MB/s) by start method and by
    placement, one bar per transport (in-process floors left out)."""
    title = "Start method and CPU placement"
    pattern = "pingpong" if not slicing.pattern_rows(df, "pingpong").empty else "stream"
    metric, higher_better = stats.primary_metric(pattern)
    rows = slicing.pattern_rows(df, pattern)
    rows = rows[~rows["transport"].isin(IN_PROCESS_FLOORS)]
    size = payload_bytes or slicing.nearest_size(rows["payload_bytes"].dropna(), 64)
    if size is None:
        return axes.skipped_figure(title, slicing.no_rows_reason(rows, "pingpong/stream"))
    rows = rows[rows["payload_bytes"] == size]
    tables = [(dim, _dimension_table(rows, dim, metric)) for dim in ("start_method", "placement")]
    if all(t.empty for _, t in tables):
        return axes.skipped_figure(
            title, slicing.no_rows_reason(rows, f"{pattern} at {human_size(size)}")
        )
    _, chosen = slicing.fix_dims(rows, keep=("transport", "start_method", "placement"))
    chosen["start_method"] = ", ".join(
        sorted(set(slicing.dim_keys(rows["start_method"])), key=_category_key)
    )
    fig, panel_axes = axes.data_figure(
        f"{title} ({pattern}, {human_size(size)})",
        df,
        meta,
        chosen,
        ncols=2,
    )
    notes = [slicing.failure_note(rows)]
    for ax, (dim, table) in zip(panel_axes, tables, strict=True):
        categories = sorted(set(table["category"]), key=_category_key)
        axes.grouped_bars(ax, table, categories)
        ax.set_xlabel(dim.replace("_", " "))
        axes.linear_y(ax, axes.metric_label(metric))
        if len(categories) == 1:
            notes.append(f"only {dim.replace('_', ' ')} '{categories[0]}' was run")
    axes.add_legend(
        fig, panel_axes, "median, 95% CI" + ("" if higher_better else " (lower is better)")
    )
    axes.set_notes(fig, notes)
    return fig


_CATEGORY_ORDER = ("fork", "forkserver", "spawn", "unpinned", "same", "split")


def _category_key(value: str) -> tuple[int, str]:
    order = _CATEGORY_ORDER.index(value) if value in _CATEGORY_ORDER else len(_CATEGORY_ORDER)
    return order, value
