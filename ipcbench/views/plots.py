"""The figure registry and the entry points that draw and save figures.

Every figure function takes the tidy result DataFrame (one row per case and repeat, see
``results.COLUMNS``), never raises on missing data and returns a Figure:

* nothing to show -> a placeholder whose note starts with "skipped:" (see ``skip_reason``);
* part of the data missing (a transport failed, a column absent) -> the figure carries a note
  (see ``figure_notes``).

Where things live (``ipcbench.views``): ``style`` (colours, markers, floors), ``slicing`` (which
rows a figure plots, medians and intervals), ``axes`` (titles, notes, legends, axis scales),
``inputs`` (result files -> MachineResults), and one module per figure family under
``figures/``. This module keeps the registry (figure name -> builder), ``render`` and ``save``,
and the entry points the CLI uses: ``load_machines``, ``MachineResults``, ``comparison_figure``,
``skip_reason``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ipcbench.views.axes import Meta, meta_of, skip_reason
from ipcbench.views.figures.backpressure import figure_backpressure
from ipcbench.views.figures.breakdown import figure_cost_breakdown
from ipcbench.views.figures.calls import figure_calls
from ipcbench.views.figures.comparison import comparison_figure
from ipcbench.views.figures.latency import figure_latency, figure_latency_distribution
from ipcbench.views.figures.placement import figure_start_method_placement
from ipcbench.views.figures.proxies import figure_proxy
from ipcbench.views.figures.scaling import figure_scaling
from ipcbench.views.figures.throughput import figure_throughput
from ipcbench.views.inputs import MachineResults, load_machines

# The entry points of the CLI (``ipcbench plot``, ``ipcbench report``), beside the registry.
__all__ = [
    "COMPARISON_FIGURE",
    "DECISION_MAP_FIGURE",
    "FIGURES",
    "FIGURE_NAMES",
    "MACHINES_FIGURE",
    "FigureBuilder",
    "MachineResults",
    "comparison_figure",
    "load_machines",
    "render",
    "save",
    "skip_reason",
]

FigureBuilder = Callable[[pd.DataFrame, Meta, "pd.DataFrame | None"], Figure]

FIGURES: dict[str, FigureBuilder] = {
    "throughput": lambda df, meta, samples: figure_throughput(df, meta),
    "latency": lambda df, meta, samples: figure_latency(df, meta),
    "latency_distribution": lambda df, meta, samples: figure_latency_distribution(
        df, samples, meta=meta
    ),
    "scaling": lambda df, meta, samples: figure_scaling(df, meta),
    "backpressure": lambda df, meta, samples: figure_backpressure(df, meta),
    "proxy": lambda df, meta, samples: figure_proxy(df, meta),
    "start_method_placement": lambda df, meta, samples: figure_start_method_placement(
        df, meta=meta
    ),
    "cost_breakdown": lambda df, meta, samples: figure_cost_breakdown(df, meta=meta),
    "calls": lambda df, meta, samples: figure_calls(df, meta),
}
COMPARISON_FIGURE = "comparison"
DECISION_MAP_FIGURE = "decision_map"
MACHINES_FIGURE = "machines"
FIGURE_NAMES: tuple[str, ...] = (*FIGURES, COMPARISON_FIGURE)


def save(
    fig: Figure, out_dir: Path, name: str, formats: Sequence[str] = ("png", "svg")
) -> list[Path]:
    """Write the figure as out_dir/name.<format> for each format (overwrites earlier plots)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = out_dir / f"{name}.{fmt}"
        fig.savefig(path, format=fmt, dpi=110, metadata=_file_metadata(fmt))
        paths.append(path)
    return paths


def _file_metadata(fmt: str) -> dict[str, Any]:
    """Drop the creation date so regenerated SVGs are byte-identical."""
    return {"Date": None} if fmt == "svg" else {}


def render(
    df: pd.DataFrame,
    names: Iterable[str] = tuple(FIGURES),
    meta: Meta | None = None,
    samples: pd.DataFrame | None = None,
) -> dict[str, Figure]:
    """The named figures of one machine's rows, in the order given."""
    info = meta_of(df, meta)
    return {name: FIGURES[name](df, info, samples) for name in names}
