"""The decision map (``ipcbench.analysis.advise.decision_map``) as a figure."""

from __future__ import annotations

import math
import textwrap
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from ipcbench.analysis import ranking
from ipcbench.results.schema import human_size
from ipcbench.views import axes
from ipcbench.views.style import style_for, transport_order

TIE_HATCH = "///"


def figure_decision_map(
    df: pd.DataFrame, meta: axes.Meta | None = None, dmap: Any = None
) -> Figure:
    """Payload size across, shape down (pingpong latency, stream throughput, fan at each P x C
    measured); each cell coloured by its winner, hatched for a tie group (coloured by its
    lowest-time channel), labelled with the channel(s) and the margin over the runner-up."""
    from ipcbench.analysis import advise

    title = "Decision map: which channel, per payload size and shape"
    if dmap is None:  # ranked here; the report passes its own (one family with its tables)
        dmap = advise.decision_map(df.to_dict("records") if len(df) else [])
    if not dmap.cells:
        return axes.skipped_figure(title, "no ok pingpong, stream or fan rows of two channels")
    chosen = {k: v for k, v in dmap.setting.items() if k != "start_method"}
    chosen["start_method"] = dmap.setting.get("start_method", "")
    fig = Figure(figsize=(axes.FIGSIZE_IN[0], 1.6 + 0.75 * len(dmap.shapes)), layout="constrained")
    ax = fig.subplots()
    fig.suptitle(f"{title}\n{axes.subtitle(axes.meta_of(df, meta), chosen)}", fontsize=11)
    seen: dict[str, str] = {}
    for y, shape in enumerate(dmap.shapes):
        for x, size in enumerate(dmap.sizes):
            cell = dmap.cell(shape, size)
            if cell is not None:
                _map_cell(ax, x, y, cell, seen)
    ax.set_xlim(-0.5, len(dmap.sizes) - 0.5)
    ax.set_ylim(len(dmap.shapes) - 0.5, -0.5)
    ax.set_xticks(range(len(dmap.sizes)), [human_size(s) for s in dmap.sizes], fontsize=8)
    ax.set_yticks(range(len(dmap.shapes)), [_shape_label(s) for s in dmap.shapes], fontsize=8)
    ax.set_xlabel("payload size")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    handles = [Patch(facecolor=style_for(t).color, label=t) for t in transport_order(seen)]
    handles.append(Patch(facecolor="white", edgecolor="#444444", hatch=TIE_HATCH, label="tie"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    axes.set_notes(
        fig,
        textwrap.wrap(
            "Cell: the winner (beats every other channel: Mann-Whitney, Benjamini-Hochberg "
            "q < 0.05, at least 5%) and how many times faster it is than the runner-up; "
            "hatched: a tie group (channels joined by '='), coloured by its lowest-time "
            "channel; floors are never ranked.",
            150,
        ),
    )
    return fig


def _shape_label(shape: str) -> str:
    return {"pingpong": "pingpong\n(round trip)", "stream": "stream\n(one-way)"}.get(shape, shape)


def _map_cell(ax: Axes, x: int, y: int, cell: Any, seen: dict[str, str]) -> None:
    r = cell.ranking
    best = r.best.transport
    seen[best] = best
    tie = r.verdict == "tie"
    ax.add_patch(
        Rectangle(
            (x - 0.48, y - 0.45),
            0.96,
            0.9,
            facecolor=style_for(best).color,
            alpha=0.45 if tie or r.verdict == "alone" else 0.85,
            hatch=TIE_HATCH if tie else None,
            edgecolor="#777777" if tie else "white",  # the hatch takes the edge colour
            linewidth=0.0,
        )
    )
    names = "\n= ".join(r.tie_group[:3]) + ("\n+more" if len(r.tie_group) > 3 else "")
    up = r.runner_up
    margin = (
        ""
        if math.isnan(cell.margin) or up is None
        else f"\n{ranking.fmt_factor(cell.margin)} vs {up.transport}"
    )
    text = names if tie else f"{best}{margin if r.verdict == 'winner' else ' (alone)'}"
    ax.text(x, y, text, ha="center", va="center", fontsize=7, color="#111111")
