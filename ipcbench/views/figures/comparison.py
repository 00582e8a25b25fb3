"""Figure 8: cross-CPU comparison of several machines (time ratios and shape)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ipcbench.results.schema import human_size
from ipcbench.views import axes, slicing
from ipcbench.views.inputs import MachineResults
from ipcbench.views.style import MACHINE_COLORS, style_for, transport_order

# Input: ``compare.compare(frames).cases`` (one row per case and set B compared with set A:
# PARAM_COLUMNS, a_set, b_set, time_ratio (> 1: B slower), ci_lo, ci_hi, significant) and,
# for the shape panel, the same from ``compare(frames, normalize=BASELINE)``.

COMPARE_NEEDS: tuple[str, ...] = (
    "transport",
    "pattern",
    "payload_bytes",
    "a_set",
    "b_set",
    "time_ratio",
    "ci_lo",
    "ci_hi",
    "significant",
)


COMPARE_BAR_SIZES = (64, 4096, 262144, 4194304)


def _comparison_slice(cases: pd.DataFrame, pattern: str | None) -> tuple[pd.DataFrame, str]:
    if pattern is None:
        counts = cases["pattern"].value_counts()
        preferred = [p for p in ("stream", "pingpong") if p in counts.index]
        pattern = preferred[0] if preferred else str(counts.index[0])
    rows, _ = slicing.fix_dims(
        cases[cases["pattern"] == pattern], keep=("transport", "payload_bytes")
    )
    return rows, pattern


def _ratio_bars(ax: Axes, rows: pd.DataFrame, machines: Sequence[str]) -> None:
    """Bars grouped by transport; inside a group one bar per (size, machine B)."""
    all_sizes = sorted({int(s) for s in rows["payload_bytes"]})
    sizes = sorted({slicing.nearest_size(all_sizes, t) or 0 for t in COMPARE_BAR_SIZES} - {0})
    rows = rows[rows["payload_bytes"].isin(sizes)]
    transports = transport_order(rows["transport"])
    slots = [(s, m) for s in sizes for m in machines]
    width = 0.85 / len(slots)
    ticks, labels = [], []
    for g, transport in enumerate(transports):
        for k, (size, machine) in enumerate(slots):
            hit = rows[
                (rows["transport"] == transport)
                & (rows["payload_bytes"] == size)
                & (rows["b_set"] == machine)
            ]
            x = g - 0.425 + width * (k + 0.5)
            ticks.append(x)
            labels.append(human_size(size) if k % len(machines) == 0 else "")
            if hit.empty:
                continue
            _ratio_bar(ax, x, width, hit.iloc[0], machines.index(machine), transport)
    ax.set_xticks(ticks, labels, rotation=90, fontsize=6)
    groups = ax.secondary_xaxis(-0.16)
    groups.set_xticks(range(len(transports)), transports, fontsize=8, rotation=20, ha="right")
    groups.tick_params(length=0)
    axes.ratio_axis(ax, "time ratio B / A (> 1: B slower)")


def _ratio_bar(ax: Axes, x: float, width: float, row: pd.Series, i: int, transport: str) -> None:
    ratio, lo, hi = (float(row[c]) for c in ("time_ratio", "ci_lo", "ci_hi"))
    finite = bool(np.isfinite([lo, hi]).all())
    err = [[max(ratio - lo, 0.0)], [max(hi - ratio, 0.0)]] if finite else None
    significant = bool(row["significant"])
    bars = ax.bar(
        [x],
        [ratio - 1.0],
        width,
        bottom=1.0,
        yerr=err,
        capsize=1.5,
        color=MACHINE_COLORS[i % len(MACHINE_COLORS)],
        alpha=1.0 if significant else 0.45,
        edgecolor="white",
        linewidth=0.3,
        error_kw={"elinewidth": 0.7},
        label=f"_{row['b_set']}",
    )
    axes.tag(bars, f"{row['b_set']}:{transport}")


def _shape_lines(ax: Axes, shape: pd.DataFrame, machines: Sequence[str]) -> None:
    for i, machine in enumerate(machines):
        part = shape[shape["b_set"] == machine]
        for transport in transport_order(part["transport"]):
            line_rows = part[part["transport"] == transport].sort_values("payload_bytes")
            (line,) = ax.plot(
                line_rows["payload_bytes"],
                line_rows["time_ratio"],
                color=MACHINE_COLORS[i % len(MACHINE_COLORS)],
                marker=style_for(transport).marker,
                markersize=4,
                linestyle=style_for(transport).linestyle,
                linewidth=1.0,
                label=f"_{machine}:{transport}",
            )
            line.set_gid(f"{machine}:{transport}")
    axes.size_axis(ax, shape["payload_bytes"])
    axes.ratio_axis(ax, "normalised time ratio B / A")


def _comparison_legend(
    ax: Axes, a_set: str, machines: Sequence[str], transports: Sequence[str]
) -> None:
    handles: list[Any] = [
        Patch(color=MACHINE_COLORS[i % len(MACHINE_COLORS)], label=f"B = {m}")
        for i, m in enumerate(machines)
    ]
    handles.append(Patch(color="#888888", alpha=0.45, label="tie (FDR q \u2265 0.05 or under 5 %)"))
    handles += [
        Line2D(
            [],
            [],
            color="#444444",
            marker=style_for(t).marker,
            linestyle=style_for(t).linestyle,
            label=t,
        )
        for t in transports
    ]
    axes.legend_right(ax, handles, [str(h.get_label()) for h in handles], f"A = {a_set}")


def figure_comparison(
    cases: pd.DataFrame,
    shape: pd.DataFrame | None = None,
    pattern: str | None = None,
    meta: axes.Meta | None = None,
) -> Figure:
    """Cross-CPU comparison: time-ratio bars with 95% CIs per transport and size (top; pale bars
    are not significant), and shape-normalised ratio lines vs size (bottom; one colour per
    machine, the marker names the transport). Inputs: ``compare.compare(...).cases``."""
    title = "Cross-CPU comparison"
    missing = [c for c in COMPARE_NEEDS if c not in cases.columns]
    if missing or cases.empty:
        return axes.skipped_figure(
            title,
            f"comparison frame lacks columns {missing}"
            if missing
            else "needs matching cases from two or more machines",
        )
    rows, pattern = _comparison_slice(cases, pattern)
    machines = list(dict.fromkeys(rows["b_set"].astype(str)))
    a_set = str(rows["a_set"].iloc[0])
    fig = Figure(figsize=(axes.FIGSIZE_IN[0], 8.5), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    info = meta or {}
    fig.suptitle(
        f"{title} ({pattern})\nA = {a_set} ({info.get('cpu_model', 'unknown CPU')})", fontsize=11
    )
    _ratio_bars(top, rows, machines)
    notes = []
    if shape is not None and not shape.empty:
        shape_rows, _ = _comparison_slice(shape, pattern)
        _shape_lines(bottom, shape_rows, machines)
        bottom.set_title(
            "shape: each machine divided by its own baseline transport first", fontsize=9
        )
    else:
        bottom.set_axis_off()
        notes.append("shape panel needs a normalised comparison (compare(..., normalize=...))")
    _comparison_legend(top, a_set, machines, transport_order(rows["transport"]))
    axes.set_notes(fig, notes)
    return fig


SHAPE_BASELINES: tuple[str, ...] = ("raw_pipe", "raw_socketpair", "pipe")


def comparison_figure(machines: Sequence[MachineResults], baseline: str | None = None) -> Figure:
    """Figure 8 for several machines (the first is A), computed with ``ipcbench.analysis.compare``.

    The shape panel normalises by ``baseline`` (default: the first of SHAPE_BASELINES measured
    on every machine). A comparison that cannot be made becomes a skipped figure with the reason.
    """
    from ipcbench.analysis.compare import compare
    from ipcbench.errors import IpcbenchError

    if len(machines) < 2:
        return axes.skipped_figure("Cross-CPU comparison", "needs results of two or more machines")
    frames = [m.df for m in machines]
    labels = [m.machine_id for m in machines]
    common = set.intersection(*(set(f.loc[f["status"] == "ok", "transport"]) for f in frames))
    base = baseline or next((b for b in SHAPE_BASELINES if b in common), None)
    try:
        cases = compare(frames, labels).cases
        shape = compare(frames, labels, normalize=base).cases if base else None
    except IpcbenchError as exc:
        return axes.skipped_figure("Cross-CPU comparison", str(exc))
    return figure_comparison(cases, shape, meta=machines[0].meta)
