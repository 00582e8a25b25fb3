"""Figure 6: Manager proxy cost (proxy_ops: one client; shared_state: K processes)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ipcbench.results.schema import human_size
from ipcbench.views import axes, slicing
from ipcbench.views.style import style_for, transport_order

_PROCESS_HATCHES = ("", "//", "xx", "..", "\\\\", "oo")


def _ops_per_s(rows: pd.DataFrame) -> pd.Series:
    """Ops/s per client: msgs_per_s, else 1e6 / mean per-op latency."""
    rate = rows["msgs_per_s"] if "msgs_per_s" in rows.columns else pd.Series(np.nan, rows.index)
    if "lat_mean_us" in rows.columns:
        rate = rate.fillna(1e6 / rows["lat_mean_us"])
    return rate


_PROXY_PANELS = (
    ("proxy_ops", "one client (proxy_ops)", "ops/s per client"),
    ("shared_state", "K processes at once (shared_state)", "aggregate ops/s"),
)


def _proxy_table(
    df: pd.DataFrame, pattern: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """(rows, ops/s summary per transport, transport.op and process count, chosen dims)."""
    rows, chosen = slicing.fix_dims(
        slicing.pattern_rows(df, pattern), keep=("transport", "op", "producers")
    )
    op = rows["op"].astype("string").fillna("")
    rows = rows.assign(
        ops_per_s=_ops_per_s(rows) if not rows.empty else np.nan,
        category=rows["transport"].astype("string") + "." + op,
    )
    return (
        rows,
        slicing.summarize(rows, ["transport", "category", "producers"], "ops_per_s"),
        chosen,
    )


def _proxy_bars(ax: Axes, table: pd.DataFrame, all_procs: Sequence[int]) -> None:
    """x = object.operation, one bar per process count (hatch, the same in every panel),
    colour = transport."""
    transports = transport_order(table["transport"])
    categories = [
        c for t in transports for c in sorted(set(table.loc[table["transport"] == t, "category"]))
    ]
    procs = sorted({int(p) for p in table["producers"]})
    width = 0.8 / max(len(procs), 1)
    for k, nproc in enumerate(procs):
        j = all_procs.index(nproc)
        for transport in transports:
            part = table[(table["producers"] == nproc) & (table["transport"] == transport)]
            pos = [categories.index(c) - 0.4 + width * (k + 0.5) for c in part["category"]]
            bars = ax.bar(
                pos,
                part["median"],
                width,
                color=style_for(transport).color,
                hatch=_PROCESS_HATCHES[j % len(_PROCESS_HATCHES)],
                edgecolor="white",
                yerr=[part["median"] - part["lo"], part["hi"] - part["median"]],
                capsize=2,
                label=f"_{transport}",
            )
            axes.tag(bars, transport)
    axes.category_axis(ax, categories, "manager object . operation")


def figure_proxy(df: pd.DataFrame, meta: axes.Meta | None = None) -> Figure:
    """Manager proxy cost: ops/s by object.operation (x) and process count (hatch); one panel
    for a single client (proxy_ops), one for K processes updating at once (shared_state)."""
    title = "Manager proxy cost"
    panels = []
    for pattern, panel_title, ylabel in _PROXY_PANELS:
        rows, table, chosen = _proxy_table(df, pattern)
        if not table.empty:
            panels.append((rows, table, chosen, panel_title, ylabel))
    if not panels:
        reason = slicing.no_rows_reason(
            slicing.pattern_rows(df, "proxy_ops", "shared_state"), "proxy_ops"
        )
        return axes.skipped_figure(
            title, reason.replace("'proxy_ops'", "'proxy_ops'/'shared_state'")
        )
    chosen = {k: v for k, v in panels[0][2].items() if k != "payload_bytes"}
    fig, panel_axes = axes.data_figure(title, df, meta, chosen, ncols=len(panels))
    procs = sorted({int(p) for panel in panels for p in panel[1]["producers"]})
    transports = transport_order(t for panel in panels for t in panel[1]["transport"])
    for ax, (_, table, panel_chosen, panel_title, ylabel) in zip(panel_axes, panels, strict=True):
        _proxy_bars(ax, table, procs)
        axes.linear_y(ax, ylabel)
        size = panel_chosen.get("payload_bytes")
        where = f", {human_size(int(float(size)))}" if size else ""
        ax.set_title(panel_title.replace(")", where + ")"), fontsize=10)
    _proxy_legend(panel_axes[-1], transports, procs)
    axes.set_notes(fig, [slicing.failure_note(rows) for rows, *_ in panels])
    return fig


def _proxy_legend(ax: Axes, transports: Sequence[str], procs: Sequence[int]) -> None:
    handles = [Patch(color=style_for(t).color, label=t) for t in transports]
    handles += [
        Patch(
            facecolor="#DDDDDD",
            edgecolor="#333333",
            hatch=_PROCESS_HATCHES[j % len(_PROCESS_HATCHES)],
            label=f"{int(n)} process{'es' if n != 1 else ''}",
        )
        for j, n in enumerate(procs)
    ]
    axes.legend_right(
        ax, handles, [str(h.get_label()) for h in handles], "colour = object, hatch = processes"
    )
