"""Several machines side by side: absolute, and relative to each machine's raw_pipe."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ipcbench.analysis import stats
from ipcbench.results.schema import human_size
from ipcbench.views import axes
from ipcbench.views.inputs import MachineResults
from ipcbench.views.style import KERNEL_COLOR, MACHINE_COLORS, transport_order


def figure_machines(machines: Sequence[MachineResults]) -> Figure:
    """Each channel's headline figure per machine (top: absolute; bottom: time as a multiple of
    its own machine's raw_pipe floor): pingpong and stream at the smallest size measured with
    raw_pipe on every machine."""
    from ipcbench.analysis import advise

    title = "Machines side by side: absolute, and relative to each machine's raw_pipe"
    if len(machines) < 2:
        return axes.skipped_figure(title, "needs results of two or more machines")
    labelled = [(m.machine_id, m.df) for m in machines]
    normalised = advise.normalised_figures(labelled)
    absolute = advise.absolute_figures(labelled)
    panels = []
    for pattern in ("pingpong", "stream"):
        common = set.intersection(
            *({s for p, s, _t in f if p == pattern} for f in normalised.values())
        )
        if common:
            panels.append((pattern, min(common)))
    if not panels:
        return axes.skipped_figure(
            title, "no pingpong or stream size with raw_pipe on every machine"
        )
    fig = Figure(figsize=(axes.FIGSIZE_IN[0], 7.5), layout="constrained")
    grid = fig.subplots(2, len(panels), squeeze=False)
    ids = ", ".join(m.machine_id for m in machines)
    fig.suptitle(f"{title}\nmachines: {ids}", fontsize=11)
    for col, (pattern, size) in enumerate(panels):
        names = transport_order(
            {t for f in normalised.values() for p, s, t in f if (p, s) == (pattern, size)}
        )
        metric, _ = stats.primary_metric(pattern)
        top, bottom = grid[0][col], grid[1][col]
        _machine_bars(top, machines, absolute, (pattern, size), [*names, "raw_pipe"])
        axes.log_y(top, axes.metric_label(metric))
        top.set_title(f"{pattern} {human_size(size)}", fontsize=10)
        _machine_bars(bottom, machines, normalised, (pattern, size), names)
        axes.log_y(bottom, "time \u00d7 own raw_pipe (lower is better)")
        bottom.axhline(1.0, color=KERNEL_COLOR, linestyle="--", linewidth=0.8)
    grid[0][-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="machine")
    return fig


def _machine_bars(
    ax: Axes,
    machines: Sequence[MachineResults],
    figures: Mapping[str, Mapping[tuple[str, int, str], float]],
    point: tuple[str, int],
    names: Sequence[str],
) -> None:
    width = 0.8 / len(machines)
    for i, m in enumerate(machines):
        heights = [figures[m.machine_id].get((*point, t), math.nan) for t in names]
        xs = [j + (i - (len(machines) - 1) / 2) * width for j in range(len(names))]
        color = MACHINE_COLORS[i % len(MACHINE_COLORS)]
        ax.bar(xs, heights, width=width, color=color, label=m.machine_id)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
