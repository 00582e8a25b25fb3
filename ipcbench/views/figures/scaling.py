"""Figure 4: aggregate throughput vs producers x consumers (fan, taskqueue)."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ipcbench.views import axes, slicing
from ipcbench.views.style import transport_order


def _scaling_panel(ax: Axes, rows: pd.DataFrame, pattern: str, cpus: int | None) -> None:
    table = slicing.summarize(rows, ["transport", "producers", "consumers"], "msgs_per_s")
    table = table.assign(total=table["producers"] + table["consumers"])
    combos = table[["producers", "consumers", "total"]].drop_duplicates()
    combos = combos.sort_values(["total", "producers"])
    labels = [
        f"{int(p)}\u00d7{int(c)}"
        for p, c in zip(combos["producers"], combos["consumers"], strict=True)
    ]
    table["x"] = [
        labels.index(f"{int(p)}\u00d7{int(c)}")
        for p, c in zip(table["producers"], table["consumers"], strict=True)
    ]
    for transport in transport_order(table["transport"]):
        part = table[table["transport"] == transport].sort_values("x")
        axes.plot_line(ax, transport, part["x"], part["median"], (part["lo"], part["hi"]))
    axes.category_axis(ax, labels, "producers \u00d7 consumers")
    axes.log_y(ax, "aggregate throughput (msgs/s)")
    ax.set_title(pattern, fontsize=10)
    if cpus:
        fits = [i for i, total in enumerate(combos["total"]) if total <= cpus]
        x = (fits[-1] if fits else -1) + 0.5
        ax.axvline(
            x, color="#000000", linewidth=0.8, linestyle=":", label=f"P+C = {cpus} logical CPUs"
        )


def _logical_cpus(df: pd.DataFrame, meta: axes.Meta) -> int | None:
    if meta.get("logical_cpus"):
        return int(meta["logical_cpus"])
    if "logical_cpus" in df.columns and df["logical_cpus"].notna().any():
        return int(df["logical_cpus"].mode().iloc[0])
    return None


def figure_scaling(df: pd.DataFrame, meta: axes.Meta | None = None) -> Figure:
    """Aggregate throughput vs producers x consumers (fan, taskqueue); logical CPUs marked."""
    title = "Scaling with producers \u00d7 consumers"
    panels = []
    for pattern in ("fan", "taskqueue"):
        rows, chosen = slicing.fix_dims(
            slicing.pattern_rows(df, pattern), keep=("transport", "producers", "consumers")
        )
        if not slicing.summarize(rows, ["transport"], "msgs_per_s").empty:
            panels.append((pattern, rows, chosen))
    if not panels:
        return axes.skipped_figure(
            title,
            slicing.no_rows_reason(slicing.pattern_rows(df, "fan", "taskqueue"), "fan/taskqueue"),
        )
    info = axes.meta_of(df, meta)
    fig, panel_axes = axes.new_figure(title, axes.subtitle(info, panels[0][2]), ncols=len(panels))
    for ax, (pattern, rows, _) in zip(panel_axes, panels, strict=True):
        _scaling_panel(ax, rows, pattern, _logical_cpus(df, info))
    axes.add_legend(fig, panel_axes, "median, 95% CI band")
    missing = [p for p in ("fan", "taskqueue") if p not in [x[0] for x in panels]]
    notes = [
        f"{pattern}: {slicing.failure_note(rows)}"
        for pattern, rows, _ in panels
        if slicing.failure_note(rows)
    ]
    axes.set_notes(
        fig, [f"no successful rows for: {', '.join(missing)}" if missing else None, *notes]
    )
    return fig
