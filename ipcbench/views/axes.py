"""Figure scaffolding shared by every figure family: titles and subtitles, notes and the
"skipped:" placeholder, legends, axis scales (log, payload size, categories, ratios) and
the two drawing primitives (a transport's line with its band, grouped bars).

Figures use ``matplotlib.figure.Figure`` directly (no pyplot state, any backend works).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.container import Container
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from ipcbench.results.schema import human_size
from ipcbench.views.style import (
    FLOORS,
    LANES,
    TRANSPORT_STYLES,
    legend_label,
    style_for,
    transport_of,
    transport_order,
)

Meta = Mapping[str, Any]


NOTE_GID = "ipcbench-note"
SKIP_GID = "ipcbench-skipped"
FIGSIZE_IN = (10.0, 5.4)


# ---------------------------------------------------------------------------------------------
# Figure scaffolding: titles, notes, legends, axes


_FRAME_META_KEYS = ("cpu_model", "python_version", "start_methods_used", "logical_cpus")


def frame_meta(df: pd.DataFrame) -> dict[str, Any]:
    """Metadata for subtitles: ``df.attrs['meta']`` if set, else the columns the loader joins."""
    found = df.attrs.get("meta")
    if isinstance(found, Mapping):
        return dict(found)
    meta: dict[str, Any] = {}
    for key in _FRAME_META_KEYS:
        column = f"meta_{key}" if f"meta_{key}" in df.columns else key
        if column in df.columns and df[column].notna().any():
            meta[key] = df[column].dropna().mode().iloc[0]
    return meta


def meta_of(df: pd.DataFrame, meta: Meta | None) -> Meta:
    return meta if meta is not None else frame_meta(df)


def subtitle(meta: Meta, chosen: Mapping[str, str]) -> str:
    """CPU model, Python version, start method and the fixed parameters of a figure."""
    parts = [
        str(meta.get("cpu_model") or "unknown CPU"),
        f"Python {chosen.get('python') or meta.get('python_version') or '?'}",
    ]
    methods = meta.get("start_methods_used")
    if isinstance(methods, (list, tuple)):
        methods = ", ".join(str(m) for m in methods)
    method = chosen.get("start_method") or methods
    parts.append(f"start method {method or '?'}")
    if chosen.get("placement"):
        parts.append(f"placement {chosen['placement']}")
    if chosen.get("payload_kind"):
        parts.append(f"{chosen['payload_kind']} payloads")
    if chosen.get("payload_bytes"):
        parts.append(human_size(int(float(chosen["payload_bytes"]))))
    return " \u00b7 ".join(parts)


def new_figure(title: str, sub: str, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=FIGSIZE_IN, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    fig.suptitle(f"{title}\n{sub}", fontsize=11)
    return fig, list(axes)


def data_figure(
    title: str, df: pd.DataFrame, meta: Meta | None, chosen: Mapping[str, str], ncols: int = 1
) -> tuple[Figure, list[Axes]]:
    """``new_figure`` with the subtitle of ``df``'s machine and the values fixed in ``chosen``."""
    return new_figure(title, subtitle(meta_of(df, meta), chosen), ncols)


def set_notes(fig: Figure, notes: Iterable[str | None]) -> None:
    """Write the notes under the plot (a footer laid out by constrained layout)."""
    text = "\n".join(n for n in notes if n)
    if text:
        label = fig.supxlabel(text, x=0.01, ha="left", fontsize=8, color="#444444")
        label.set_gid(NOTE_GID)


def figure_notes(fig: Figure) -> list[str]:
    """The notes a figure carries (missing data, skipped reason)."""
    texts = fig.findobj(lambda a: isinstance(a, Text) and a.get_gid() in (NOTE_GID, SKIP_GID))
    notes: list[str] = []
    for text in texts:
        assert isinstance(text, Text)
        notes.extend(line for line in text.get_text().splitlines() if line)
    return notes


def skip_reason(fig: Figure) -> str | None:
    """Why a figure has nothing to show, or None if it shows data."""
    for text in fig.findobj(lambda a: isinstance(a, Text) and a.get_gid() == SKIP_GID):
        assert isinstance(text, Text)
        return text.get_text().removeprefix("skipped: ")
    return None


def skipped_figure(title: str, reason: str) -> Figure:
    fig = Figure(figsize=(FIGSIZE_IN[0], 2.0), layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    fig.suptitle(title, fontsize=11)
    note = ax.text(
        0.5,
        0.5,
        f"skipped: {reason}",
        ha="center",
        va="center",
        fontsize=10,
        transform=ax.transAxes,
    )
    note.set_gid(SKIP_GID)
    return fig


def add_legend(fig: Figure, axes: Sequence[Axes], title: str | None = None) -> None:
    """One legend outside the plotting area (right), labels deduplicated across axes."""
    seen: dict[str, Any] = {}
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        for handle, label in zip(handles, labels, strict=True):
            seen.setdefault(label, handle)
    order = transport_order(transport_of(label) for label in seen)
    labels = sorted(seen, key=lambda label: _legend_rank(label, order))
    if labels:
        legend_right(axes[-1], [seen[label] for label in labels], labels, title)


def _legend_rank(label: str, order: Sequence[str]) -> int:
    """Transports in the usual order; other entries (reference lines) after them."""
    name = transport_of(label)
    return order.index(name) if name in TRANSPORT_STYLES else len(order)


def legend_right(
    ax: Axes, handles: Sequence[Any], labels: Sequence[str], title: str | None
) -> None:
    """A legend beside the axes (outside the data area; constrained layout makes room)."""
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize=8,
        title=title,
        title_fontsize=8,
        frameon=False,
        borderaxespad=0.0,
    )


def compact(value: float) -> str:
    if value == 0 or not np.isfinite(value):
        return "0"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:g}{suffix}"
    return f"{value:g}"


def log_y(ax: Axes, label: str) -> None:
    """Log y axis with plain numbers (1k, 10M); spans under two decades also label 2x and 5x."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: _minor_label(ax, v)))
    ax.set_ylabel(label)
    ax.grid(True, which="major", alpha=0.3)


def _minor_label(ax: Axes, value: float) -> str:
    low, high = ax.get_ylim()
    narrow = low > 0 and high / low < 100
    lead = round(value / 10 ** np.floor(np.log10(value))) if value > 0 else 0
    return compact(value) if narrow and lead in (2, 5) else ""


def size_axis(ax: Axes, sizes: Iterable[int]) -> None:
    """Log2 x axis with human size labels (64 B, 4 KiB, 1 MiB) at the measured sizes."""
    ticks = spaced_ticks(sorted({int(s) for s in sizes if s and s > 0}))
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: human_size(max(1, round(x)))))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("payload size")


def spaced_ticks(sizes: Sequence[int], max_ticks: int = 12) -> list[int]:
    """Sizes to label, from the largest down, so neighbouring labels never collide."""
    if len(sizes) < 2:
        return list(sizes)
    gap = max(np.log2(sizes[-1] / sizes[0]) / max_ticks, 1.5 if len(sizes) > 8 else 0.0)
    kept = [sizes[-1]]
    for size in reversed(sizes[:-1]):
        if np.log2(kept[-1] / size) >= gap - 1e-9:
            kept.append(size)
    return kept[::-1]


def linear_y(ax: Axes, label: str) -> None:
    """Linear y from zero (bars must start at zero to be read by length)."""
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    ax.set_ylabel(label)
    ax.grid(True, axis="y", alpha=0.3)


CHAR_WIDTH_IN = 0.09  # one tick-label character at the default font size, with spacing


def _crowded(ax: Axes, labels: Sequence[str]) -> bool:
    """Whether the labels, side by side with a gap each, are wider than the axes."""
    width_in = ax.get_window_extent().width / ax.figure.dpi
    needed_in = sum(len(label) + 2 for label in labels) * CHAR_WIDTH_IN
    return needed_in > width_in


def category_axis(ax: Axes, labels: Sequence[str], xlabel: str) -> None:
    """Categories at 0, 1, 2, ...; long label rows are tilted so neighbours never overlap."""
    ax.set_xticks(range(len(labels)), labels)
    if _crowded(ax, labels):
        ax.tick_params(axis="x", labelrotation=45 if len(labels) > 8 else 25)
        for text in ax.get_xticklabels():
            text.set_horizontalalignment("right")
            text.set_rotation_mode("anchor")
    ax.set_xlabel(xlabel)


def tag(container: Container, gid: str) -> None:
    """Set the gid of every artist of a container (bars, error bars), for tests and SVG ids."""
    for artist in container.get_children():
        artist.set_gid(gid)


def _label(transport: str) -> str:
    return legend_label(transport)


def plot_line(ax: Axes, transport: str, x: Any, y: Any, band: tuple[Any, Any] | None) -> None:
    """A transport's line (dashed without markers for floors) and an optional CI band."""
    style = style_for(transport)
    marker = None if transport in FLOORS else style.marker
    (line,) = ax.plot(
        x,
        y,
        color=style.color,
        marker=marker,
        markersize=5,
        linestyle=style.linestyle,
        label=_label(transport),
        linewidth=1.6,
    )
    line.set_gid(transport)
    if band is not None and transport not in FLOORS:
        poly = ax.fill_between(x, band[0], band[1], color=style.color, alpha=0.18, linewidth=0)
        poly.set_gid(f"{transport}:ci")


def grouped_bars(ax: Axes, table: pd.DataFrame, categories: Sequence[str]) -> None:
    """Bars with one group per category and one bar (coloured by transport) per transport.

    ``table`` has columns category, transport, median, lo, hi.
    """
    transports = transport_order(table["transport"])
    width = 0.8 / max(len(transports), 1)
    for i, transport in enumerate(transports):
        part = table[table["transport"] == transport]
        pos = [categories.index(c) - 0.4 + width * (i + 0.5) for c in part["category"]]
        err = [part["median"] - part["lo"], part["hi"] - part["median"]]
        bars = ax.bar(
            pos,
            part["median"],
            width,
            yerr=err,
            capsize=2,
            label=_label(transport),
            color=style_for(transport).color,
            hatch="///" if transport in LANES else None,  # lanes apart from the seed's channels
            edgecolor="white",
            linewidth=0.5,
            error_kw={"elinewidth": 0.8},
        )
        tag(bars, transport)
    category_axis(ax, categories, "")


RATIO_TICKS = (
    0.05,
    0.1,
    0.2,
    0.25,
    0.33,
    0.5,
    0.67,
    0.8,
    0.9,
    1.0,
    1.1,
    1.25,
    1.5,
    2.0,
    3.0,
    4.0,
    5.0,
    10.0,
    20.0,
)


def ratio_axis(ax: Axes, label: str) -> None:
    """Log y axis for ratios: readable ticks (0.5x, 0.8x, 1x, 1.25x, 2x) and a line at 1x."""
    ax.axhline(1.0, color="#000000", linewidth=0.8)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(FixedLocator(list(RATIO_TICKS)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}\u00d7"))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylabel(label)
    ax.grid(True, axis="y", alpha=0.3)


def metric_label(metric: str) -> str:
    labels = {
        "lat_p50_us": "round-trip latency p50 (\u00b5s)",
        "mb_per_s": "throughput (MB/s)",
        "msgs_per_s": "throughput (msgs/s)",
        "elapsed_s": "elapsed (s)",
    }
    return labels.get(metric, metric)
