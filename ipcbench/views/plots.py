"""Figures from result rows: one ``figure_*(df) -> Figure`` per question, plus ``save``.

Every figure function takes the tidy result DataFrame (one row per case and repeat, see
``results.COLUMNS``), never raises on missing data and returns a Figure:

* nothing to show -> a placeholder whose note starts with "skipped:" (see ``skip_reason``);
* part of the data missing (a transport failed, a column absent) -> the figure carries a note
  (see ``figure_notes``).

Dimensions a figure does not plot (start method, placement, payload kind, ...) are fixed to their
most common value and named in the subtitle, so no median mixes different cases.
Figures use ``matplotlib.figure.Figure`` directly (no pyplot state, any backend works).
"""

from __future__ import annotations

import math
import textwrap
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.container import Container
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from ipcbench.analysis import ranking, stats
from ipcbench.params import human_size

Meta = Mapping[str, Any]

# ---------------------------------------------------------------------------------------------
# Style: one mapping, so a transport has the same colour and marker in every figure.
# Colours: Okabe-Ito and Paul Tol "muted" (colour-blind safe); markers add a second cue.


@dataclass(frozen=True)
class Style:
    color: str
    marker: str
    linestyle: Any = "-"  # a matplotlib line style: name or (offset, dash pattern)


FLOORS: tuple[str, ...] = ("memcpy", "pickle", "raw_pipe", "raw_socketpair")
IN_PROCESS_FLOORS: tuple[str, ...] = ("memcpy", "pickle")

TRANSPORT_STYLES: dict[str, Style] = {
    "pipe": Style("#0072B2", "o"),
    "pipe_bytes": Style("#56B4E9", "s"),
    "pipe_oneway": Style("#6699CC", "d"),
    "queue": Style("#D55E00", "^"),
    "simplequeue": Style("#E69F00", "v"),
    "joinablequeue": Style("#CC79A7", "D"),
    "manager_queue": Style("#009E73", "P"),
    "manager_dict": Style("#332288", "X"),
    "manager_list": Style("#882255", "*"),
    "faster_fifo": Style("#999933", "h"),
    "zmq_ipc": Style("#44AA99", "p"),
    "memcpy": Style("#000000", "x", "--"),
    "pickle": Style("#777777", "+", ":"),
    "raw_pipe": Style("#444444", "1", "-."),
    "raw_socketpair": Style("#999999", "2", (0, (6, 2))),
}
_FALLBACK_COLORS = ("#DDCC77", "#88CCEE", "#CC6677", "#AA4499", "#661100", "#117733")
_FALLBACK_MARKERS = ("<", ">", "d", "H", "8", "1")

# Cost breakdown components that are not transports.
SERIALIZATION_COLOR = "#BBBBBB"
KERNEL_COLOR = "#555555"

NOTE_GID = "ipcbench-note"
SKIP_GID = "ipcbench-skipped"
FIGSIZE_IN = (10.0, 5.4)


def style_for(transport: str) -> Style:
    """The style of a transport; unknown names get a stable colour from a spare palette."""
    if transport in TRANSPORT_STYLES:
        return TRANSPORT_STYLES[transport]
    i = zlib.crc32(transport.encode()) % len(_FALLBACK_COLORS)
    return Style(_FALLBACK_COLORS[i], _FALLBACK_MARKERS[i])


def transport_order(names: Iterable[str]) -> list[str]:
    """Known transports in mapping order, then unknown ones, floors last."""
    known = list(TRANSPORT_STYLES)
    unique = set(names)

    def key(name: str) -> tuple[int, int, str]:
        rank = known.index(name) if name in known else len(known)
        return (name in FLOORS, rank, name)

    return sorted(unique, key=key)


# ---------------------------------------------------------------------------------------------
# Statistics (definitions live in ipcbench.analysis.stats)


def median_ci(values: Iterable[float]) -> tuple[float, float, float]:
    """(median, lo, hi): the median and its exact order-statistic interval
    (``stats.median_interval``: ~95 %, or the min-max range with fewer than 6 values)."""
    finite = [float(v) for v in values if np.isfinite(v)]
    if not finite:
        return (float("nan"),) * 3
    interval = stats.median_interval(finite)
    return stats.median(finite), interval.lo, interval.hi


def summarize(df: pd.DataFrame, by: Sequence[str], value: str) -> pd.DataFrame:
    """Median and 95% CI of ``value`` over the ok rows of each group (columns by + stats)."""
    columns = [*by, "median", "lo", "hi", "n"]
    if value not in df.columns:
        return pd.DataFrame(columns=columns)
    numbers = pd.to_numeric(df[value], errors="coerce")  # new columns may still load as str
    ok = df.assign(**{value: numbers})[(df["status"] == "ok") & numbers.notna()]
    rows = []
    for key, grp in ok.groupby(list(by), sort=True, dropna=False):
        med, lo, hi = median_ci(grp[value].to_numpy(dtype=float))
        rows.append(
            {**dict(zip(by, key, strict=True)), "median": med, "lo": lo, "hi": hi, "n": len(grp)}
        )
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------------------------
# Slicing: fix the dimensions a figure does not plot to their most common value

_GLOBAL_DIMS = (
    "payload_kind",
    "start_method",
    "placement",
    "payload_bytes",
    "producers",
    "consumers",
)
_PER_TRANSPORT_DIMS = ("maxsize", "op", "offered_load")
_PREFERRED = {"payload_kind": ("bytes",), "placement": ("unpinned",)}


def _keys(series: pd.Series) -> pd.Series:
    return series.astype("string").fillna("")


def _choose(keys: pd.Series, preferred: Sequence[str] = ()) -> str:
    """The preferred value if present, else the most common; "" (not applicable) only if alone."""
    counts = keys.value_counts(sort=True)
    if len(counts) > 1:
        counts = counts.drop("", errors="ignore")
    for value in preferred:
        if value in counts.index:
            return value
    return str(counts.index[0])


def fix_dims(df: pd.DataFrame, keep: Iterable[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rows of the most common value of every parameter not in ``keep``; and the chosen values.

    maxsize and op are chosen per transport (they only apply to some transports). An empty cell
    means "does not apply" (the start method of in-process floors) and matches any choice.
    """
    keep = set(keep)
    chosen: dict[str, str] = {}
    for col in _GLOBAL_DIMS:
        if col in keep or col not in df.columns or df.empty:
            continue
        keys = _keys(df[col])
        chosen[col] = _choose(keys, _PREFERRED.get(col, ()))
        df = df[(keys == chosen[col]) | (keys == "")]
        if not chosen[col]:
            del chosen[col]
    for col in _PER_TRANSPORT_DIMS:
        if col in keep or col not in df.columns or df.empty:
            continue
        keys = _keys(df[col])
        best = keys.groupby(df["transport"]).transform(lambda k: _choose(k))
        df = df[keys == best]
    return df, chosen


def pattern_rows(df: pd.DataFrame, *patterns: str) -> pd.DataFrame:
    return df[df["pattern"].isin(patterns)] if "pattern" in df.columns else df.iloc[0:0]


def failure_note(df: pd.DataFrame) -> str | None:
    """'not ok: queue 3x timeout, ...' for the rows of a figure, or None when all are ok."""
    bad = df[df["status"] != "ok"]
    if bad.empty:
        return None
    counts = bad.groupby(["transport", "status"], sort=True).size()
    parts = [f"{t} {n}\u00d7 {s}" for (t, s), n in counts.items()]
    return "not plotted (failed or skipped rows): " + ", ".join(parts)


def nearest_size(sizes: Iterable[int], target: int) -> int | None:
    """The size closest to target on a log scale."""
    values = sorted({int(s) for s in sizes if s and s > 0})
    if not values:
        return None
    return min(values, key=lambda s: (abs(np.log2(s) - np.log2(target)), s))


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


def _meta(df: pd.DataFrame, meta: Meta | None) -> Meta:
    return meta if meta is not None else frame_meta(df)


def subtitle(meta: Meta, chosen: Mapping[str, str]) -> str:
    """CPU model, Python version, start method and the fixed parameters of a figure."""
    parts = [
        str(meta.get("cpu_model") or "unknown CPU"),
        f"Python {meta.get('python_version') or '?'}",
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
    order = transport_order(label.removesuffix(" (floor)") for label in seen)
    labels = sorted(seen, key=lambda label: _legend_rank(label, order))
    if labels:
        legend_right(axes[-1], [seen[label] for label in labels], labels, title)


def _legend_rank(label: str, order: Sequence[str]) -> int:
    """Transports in the usual order; other entries (reference lines) after them."""
    name = label.removesuffix(" (floor)")
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


def _compact(value: float) -> str:
    if value == 0 or not np.isfinite(value):
        return "0"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:g}{suffix}"
    return f"{value:g}"


def log_y(ax: Axes, label: str) -> None:
    """Log y axis with plain numbers (1k, 10M); spans under two decades also label 2x and 5x."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: _minor_label(ax, v)))
    ax.set_ylabel(label)
    ax.grid(True, which="major", alpha=0.3)


def _minor_label(ax: Axes, value: float) -> str:
    low, high = ax.get_ylim()
    narrow = low > 0 and high / low < 100
    lead = round(value / 10 ** np.floor(np.log10(value))) if value > 0 else 0
    return _compact(value) if narrow and lead in (2, 5) else ""


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
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
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
    return f"{transport} (floor)" if transport in FLOORS else transport


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
            edgecolor="white",
            linewidth=0.5,
            error_kw={"elinewidth": 0.8},
        )
        tag(bars, transport)
    category_axis(ax, categories, "")


# ---------------------------------------------------------------------------------------------
# 1. Throughput vs payload size


def figure_throughput(df: pd.DataFrame, meta: Meta | None = None) -> Figure:
    """Stream throughput (MB/s) vs payload size, log-log, 95% CI bands, floors dashed."""
    title = "Throughput vs payload size (stream)"
    rows, chosen = fix_dims(pattern_rows(df, "stream"), keep=("transport", "payload_bytes"))
    table = summarize(rows, ["transport", "payload_bytes"], "mb_per_s")
    if table.empty:
        return skipped_figure(title, _no_rows_reason(rows, "stream"))
    fig, (ax,) = new_figure(title, subtitle(_meta(df, meta), chosen))
    for transport in transport_order(table["transport"]):
        part = table[table["transport"] == transport].sort_values("payload_bytes")
        plot_line(ax, transport, part["payload_bytes"], part["median"], (part["lo"], part["hi"]))
    size_axis(ax, table["payload_bytes"])
    log_y(ax, "throughput (MB/s)")
    add_legend(fig, [ax], "median, 95% CI band")
    set_notes(fig, [failure_note(rows)])
    return fig


def _no_rows_reason(rows: pd.DataFrame, what: str) -> str:
    if rows.empty:
        return f"no '{what}' rows in these results (pattern not run)"
    return f"no successful '{what}' rows ({failure_note(rows)})"


# ---------------------------------------------------------------------------------------------
# 2. Latency vs payload size


def figure_latency(df: pd.DataFrame, meta: Meta | None = None) -> Figure:
    """Round-trip latency vs payload size: p50 line with whiskers up to p99, log-log."""
    title = "Round-trip latency vs payload size (pingpong)"
    rows, chosen = fix_dims(pattern_rows(df, "pingpong"), keep=("transport", "payload_bytes"))
    p50 = summarize(rows, ["transport", "payload_bytes"], "lat_p50_us")
    if p50.empty:
        return skipped_figure(title, _no_rows_reason(rows, "pingpong"))
    p99 = summarize(rows, ["transport", "payload_bytes"], "lat_p99_us")
    table = p50.merge(p99, on=["transport", "payload_bytes"], how="left", suffixes=("", "_p99"))
    fig, (ax,) = new_figure(title, subtitle(_meta(df, meta), chosen))
    transports = transport_order(table["transport"])
    for i, transport in enumerate(transports):
        part = table[table["transport"] == transport].sort_values("payload_bytes")
        dodge = 2.0 ** (0.06 * (i - (len(transports) - 1) / 2))  # keep whiskers apart
        x = part["payload_bytes"] * dodge
        plot_line(ax, transport, x, part["median"], None)
        upper = (part["median_p99"] - part["median"]).clip(lower=0).fillna(0)
        bars = ax.errorbar(
            x,
            part["median"],
            yerr=[np.zeros(len(part)), upper],
            fmt="none",
            color=style_for(transport).color,
            elinewidth=0.9,
            capsize=2,
        )
        tag(bars, f"{transport}:p99")
    size_axis(ax, table["payload_bytes"])
    log_y(ax, "round-trip latency (\u00b5s)")
    add_legend(fig, [ax], "p50, whisker to p99")
    set_notes(fig, [failure_note(rows)])
    return fig


# ---------------------------------------------------------------------------------------------
# 3. Latency distribution at one payload size

QUANTILES: tuple[float, ...] = (50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99)
_COLUMN_QUANTILES = {
    "lat_p50_us": 50.0,
    "lat_p90_us": 90.0,
    "lat_p99_us": 99.0,
    "lat_p999_us": 99.9,
}
_TICK_QUANTILES = (50.0, 90.0, 99.0, 99.9, 99.99)


def _tail_x(q: float) -> float:
    return 1.0 / (1.0 - q / 100.0)


def tail_percentiles_us(lat_ns: np.ndarray) -> dict[float, float]:
    """Percentiles (us) of pooled samples, only as deep into the tail as their number supports."""
    qs = [q for q in QUANTILES if stats.percentile_supported(lat_ns.size, q)]
    pooled = stats.pooled_percentiles([lat_ns.tolist()], qs)
    return {q: v / 1000.0 for q, v in pooled.items()}


def _column_percentiles(rows: pd.DataFrame) -> dict[float, float]:
    ok = rows[rows["status"] == "ok"]
    return {
        q: float(ok[col].median())
        for col, q in _COLUMN_QUANTILES.items()
        if col in ok.columns and ok[col].notna().any()
    }


def pooled_samples(rows: pd.DataFrame, samples: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Raw latencies (ns) of ``rows`` pooled per transport (one pass over the samples)."""
    if samples is None or samples.empty or "row_id" not in rows.columns:
        return {}
    owner = pd.Series(rows["transport"].astype(str).to_numpy(), index=rows["row_id"].astype(str))
    row_ids = samples["row_id"].astype(str)
    hit = row_ids.isin(owner.index)
    transport = row_ids[hit].map(owner)
    lat = samples.loc[hit, "lat_ns"].astype(float)
    return {str(t): group.to_numpy() for t, group in lat.groupby(transport)}


def _distribution_curves(
    rows: pd.DataFrame, samples: pd.DataFrame | None
) -> tuple[dict[str, dict[float, float]], bool]:
    """Per transport: {quantile: us}; and whether raw samples were used for all of them."""
    ok = rows[rows["status"] == "ok"]
    pooled = pooled_samples(ok, samples)
    curves: dict[str, dict[float, float]] = {}
    for transport, grp in ok.groupby("transport"):
        raw = pooled.get(str(transport))
        if raw is not None and raw.size:
            curves[str(transport)] = tail_percentiles_us(raw)
        else:
            curves[str(transport)] = _column_percentiles(grp)
    all_raw = all(t in pooled for t in curves)
    return {t: c for t, c in curves.items() if c}, all_raw


def figure_latency_distribution(
    df: pd.DataFrame,
    samples: pd.DataFrame | None = None,
    payload_bytes: int | None = None,
    meta: Meta | None = None,
) -> Figure:
    """Percentile curve (p50 ... p99.99) per transport at one size, log axes so the tail shows.

    ``samples`` (columns row_id, lat_ns) are pooled across repeats; without them the per-row
    percentile columns are used (p50, p90, p99, p99.9).
    """
    title = "Round-trip latency distribution (pingpong)"
    rows = pattern_rows(df, "pingpong")
    size = payload_bytes or nearest_size(rows["payload_bytes"].dropna(), 64)
    if size is None:
        return skipped_figure(title, _no_rows_reason(rows, "pingpong"))
    rows, chosen = fix_dims(rows[rows["payload_bytes"] == size], keep=("transport",))
    curves, all_raw = _distribution_curves(rows, samples)
    if not curves:
        return skipped_figure(title, _no_rows_reason(rows, f"pingpong at {human_size(size)}"))
    chosen["payload_bytes"] = str(size)
    fig, (ax,) = new_figure(title, subtitle(_meta(df, meta), chosen))
    for transport in transport_order(curves):
        qs = sorted(curves[transport])
        plot_line(ax, transport, [_tail_x(q) for q in qs], [curves[transport][q] for q in qs], None)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([_tail_x(q) for q in _TICK_QUANTILES]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"p{100 - 100 / x:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("percentile (log tail scale)")
    log_y(ax, "round-trip latency (\u00b5s)")
    add_legend(fig, [ax])
    source = (
        "percentiles of raw samples pooled across repeats"
        if all_raw
        else "no raw samples for some transports: their curves use the median of the per-repeat "
        "p50/p90/p99/p99.9 columns"
    )
    set_notes(fig, [source, failure_note(rows)])
    return fig


# ---------------------------------------------------------------------------------------------
# 4. Scaling with producers x consumers


def _scaling_panel(ax: Axes, rows: pd.DataFrame, pattern: str, cpus: int | None) -> None:
    table = summarize(rows, ["transport", "producers", "consumers"], "msgs_per_s")
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
        plot_line(ax, transport, part["x"], part["median"], (part["lo"], part["hi"]))
    category_axis(ax, labels, "producers \u00d7 consumers")
    log_y(ax, "aggregate throughput (msgs/s)")
    ax.set_title(pattern, fontsize=10)
    if cpus:
        fits = [i for i, total in enumerate(combos["total"]) if total <= cpus]
        x = (fits[-1] if fits else -1) + 0.5
        ax.axvline(
            x, color="#000000", linewidth=0.8, linestyle=":", label=f"P+C = {cpus} logical CPUs"
        )


def _logical_cpus(df: pd.DataFrame, meta: Meta) -> int | None:
    if meta.get("logical_cpus"):
        return int(meta["logical_cpus"])
    if "logical_cpus" in df.columns and df["logical_cpus"].notna().any():
        return int(df["logical_cpus"].mode().iloc[0])
    return None


def figure_scaling(df: pd.DataFrame, meta: Meta | None = None) -> Figure:
    """Aggregate throughput vs producers x consumers (fan, taskqueue); logical CPUs marked."""
    title = "Scaling with producers \u00d7 consumers"
    panels = []
    for pattern in ("fan", "taskqueue"):
        rows, chosen = fix_dims(
            pattern_rows(df, pattern), keep=("transport", "producers", "consumers")
        )
        if not summarize(rows, ["transport"], "msgs_per_s").empty:
            panels.append((pattern, rows, chosen))
    if not panels:
        return skipped_figure(
            title, _no_rows_reason(pattern_rows(df, "fan", "taskqueue"), "fan/taskqueue")
        )
    info = _meta(df, meta)
    fig, axes = new_figure(title, subtitle(info, panels[0][2]), ncols=len(panels))
    for ax, (pattern, rows, _) in zip(axes, panels, strict=True):
        _scaling_panel(ax, rows, pattern, _logical_cpus(df, info))
    add_legend(fig, axes, "median, 95% CI band")
    missing = [p for p in ("fan", "taskqueue") if p not in [x[0] for x in panels]]
    notes = [
        f"{pattern}: {failure_note(rows)}" for pattern, rows, _ in panels if failure_note(rows)
    ]
    set_notes(fig, [f"no successful rows for: {', '.join(missing)}" if missing else None, *notes])
    return fig


# ---------------------------------------------------------------------------------------------
# 5. Backpressure: throughput and blocked time vs maxsize


def _maxsize_labels(values: Iterable[float]) -> list[tuple[float, str]]:
    """Sorted (value, label) with unbounded (<= 0 or missing) last as infinity."""
    bounded = sorted({float(v) for v in values if pd.notna(v) and v > 0})
    pairs = [(v, f"{int(v)}") for v in bounded]
    if any(pd.isna(v) or v <= 0 for v in values):
        pairs.append((float("inf"), "\u221e"))
    return pairs


def _maxsize_key(series: pd.Series) -> pd.Series:
    """maxsize as float with unbounded (0 or empty) as infinity (works for nullable Int64)."""
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    return values.where(values > 0, float("inf")).fillna(float("inf"))


def figure_backpressure(df: pd.DataFrame, meta: Meta | None = None) -> Figure:
    """Throughput and producer blocked time vs maxsize, one line per queue type."""
    title = "Backpressure: bounded queues"
    rows, chosen = fix_dims(pattern_rows(df, "backpressure"), keep=("transport", "maxsize"))
    if summarize(rows, ["transport"], "msgs_per_s").empty:
        return skipped_figure(title, _no_rows_reason(rows, "backpressure"))
    rows = rows.assign(maxsize_key=_maxsize_key(rows["maxsize"]))
    pairs = _maxsize_labels(rows["maxsize"])
    positions = {v: i for i, (v, _) in enumerate(pairs)}
    fig, axes = new_figure(title, subtitle(_meta(df, meta), chosen), ncols=2)
    panels = (("msgs_per_s", "throughput (msgs/s)"), ("blocked_s", "producer blocked time (s)"))
    notes = [failure_note(rows)]
    for ax, (column, ylabel) in zip(axes, panels, strict=True):
        table = summarize(rows, ["transport", "maxsize_key"], column)
        if table.empty:
            notes.append(f"'{column}' not recorded in these results")
        for transport in transport_order(table["transport"]):
            part = table[table["transport"] == transport].sort_values("maxsize_key")
            x = [positions[v] for v in part["maxsize_key"]]
            plot_line(ax, transport, x, part["median"], (part["lo"], part["hi"]))
        category_axis(ax, [label for _, label in pairs], "maxsize (messages)")
        log_y(ax, ylabel)
        positive = table.loc[table["median"] > 0, "median"]
        if (table["median"] <= 0).any() and len(positive):
            ax.set_yscale("symlog", linthresh=float(positive.min()))  # zero stays visible
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
    add_legend(fig, axes, "median, 95% CI band")
    set_notes(fig, notes)
    return fig


# ---------------------------------------------------------------------------------------------
# 6. Manager proxy cost

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
    rows, chosen = fix_dims(pattern_rows(df, pattern), keep=("transport", "op", "producers"))
    op = rows["op"].astype("string").fillna("")
    rows = rows.assign(
        ops_per_s=_ops_per_s(rows) if not rows.empty else np.nan,
        category=rows["transport"].astype("string") + "." + op,
    )
    return rows, summarize(rows, ["transport", "category", "producers"], "ops_per_s"), chosen


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
            tag(bars, transport)
    category_axis(ax, categories, "manager object . operation")


def figure_proxy(df: pd.DataFrame, meta: Meta | None = None) -> Figure:
    """Manager proxy cost: ops/s by object.operation (x) and process count (hatch); one panel
    for a single client (proxy_ops), one for K processes updating at once (shared_state)."""
    title = "Manager proxy cost"
    panels = []
    for pattern, panel_title, ylabel in _PROXY_PANELS:
        rows, table, chosen = _proxy_table(df, pattern)
        if not table.empty:
            panels.append((rows, table, chosen, panel_title, ylabel))
    if not panels:
        reason = _no_rows_reason(pattern_rows(df, "proxy_ops", "shared_state"), "proxy_ops")
        return skipped_figure(title, reason.replace("'proxy_ops'", "'proxy_ops'/'shared_state'"))
    chosen = {k: v for k, v in panels[0][2].items() if k != "payload_bytes"}
    fig, axes = new_figure(title, subtitle(_meta(df, meta), chosen), ncols=len(panels))
    procs = sorted({int(p) for panel in panels for p in panel[1]["producers"]})
    transports = transport_order(t for panel in panels for t in panel[1]["transport"])
    for ax, (_, table, panel_chosen, panel_title, ylabel) in zip(axes, panels, strict=True):
        _proxy_bars(ax, table, procs)
        linear_y(ax, ylabel)
        size = panel_chosen.get("payload_bytes")
        where = f", {human_size(int(float(size)))}" if size else ""
        ax.set_title(panel_title.replace(")", where + ")"), fontsize=10)
    _proxy_legend(axes[-1], transports, procs)
    set_notes(fig, [failure_note(rows) for rows, *_ in panels])
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
    legend_right(
        ax, handles, [str(h.get_label()) for h in handles], "colour = object, hatch = processes"
    )


# ---------------------------------------------------------------------------------------------
# 7. Start method and placement


def _dimension_table(rows: pd.DataFrame, dim: str, metric: str) -> pd.DataFrame:
    sliced, _ = fix_dims(rows, keep=("transport", dim))
    table = summarize(sliced, ["transport", dim], metric)
    return table.assign(category=table[dim].astype("string").fillna("?"))


def figure_start_method_placement(
    df: pd.DataFrame, payload_bytes: int | None = None, meta: Meta | None = None
) -> Figure:
    """Grouped bars at one payload size: pingpong p50 (or stream MB/s) by start method and by
    placement, one bar per transport (in-process floors left out)."""
    title = "Start method and CPU placement"
    pattern = "pingpong" if not pattern_rows(df, "pingpong").empty else "stream"
    metric, higher_better = stats.primary_metric(pattern)
    rows = pattern_rows(df, pattern)
    rows = rows[~rows["transport"].isin(IN_PROCESS_FLOORS)]
    size = payload_bytes or nearest_size(rows["payload_bytes"].dropna(), 64)
    if size is None:
        return skipped_figure(title, _no_rows_reason(rows, "pingpong/stream"))
    rows = rows[rows["payload_bytes"] == size]
    tables = [(dim, _dimension_table(rows, dim, metric)) for dim in ("start_method", "placement")]
    if all(t.empty for _, t in tables):
        return skipped_figure(title, _no_rows_reason(rows, f"{pattern} at {human_size(size)}"))
    _, chosen = fix_dims(rows, keep=("transport", "start_method", "placement"))
    chosen["start_method"] = ", ".join(sorted(set(_keys(rows["start_method"])), key=_category_key))
    fig, axes = new_figure(
        f"{title} ({pattern}, {human_size(size)})", subtitle(_meta(df, meta), chosen), ncols=2
    )
    notes = [failure_note(rows)]
    for ax, (dim, table) in zip(axes, tables, strict=True):
        categories = sorted(set(table["category"]), key=_category_key)
        grouped_bars(ax, table, categories)
        ax.set_xlabel(dim.replace("_", " "))
        linear_y(ax, _metric_label(metric))
        if len(categories) == 1:
            notes.append(f"only {dim.replace('_', ' ')} '{categories[0]}' was run")
    add_legend(fig, axes, "median, 95% CI" + ("" if higher_better else " (lower is better)"))
    set_notes(fig, notes)
    return fig


_CATEGORY_ORDER = ("fork", "forkserver", "spawn", "unpinned", "same", "split")


def _category_key(value: str) -> tuple[int, str]:
    order = _CATEGORY_ORDER.index(value) if value in _CATEGORY_ORDER else len(_CATEGORY_ORDER)
    return order, value


def _metric_label(metric: str) -> str:
    labels = {
        "lat_p50_us": "round-trip latency p50 (\u00b5s)",
        "mb_per_s": "throughput (MB/s)",
        "msgs_per_s": "throughput (msgs/s)",
        "elapsed_s": "elapsed (s)",
    }
    return labels.get(metric, metric)


# ---------------------------------------------------------------------------------------------
# 8. Cross-CPU comparison
#
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
MACHINE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
COMPARE_BAR_SIZES = (64, 4096, 262144, 4194304)


def _comparison_slice(cases: pd.DataFrame, pattern: str | None) -> tuple[pd.DataFrame, str]:
    if pattern is None:
        counts = cases["pattern"].value_counts()
        preferred = [p for p in ("stream", "pingpong") if p in counts.index]
        pattern = preferred[0] if preferred else str(counts.index[0])
    rows, _ = fix_dims(cases[cases["pattern"] == pattern], keep=("transport", "payload_bytes"))
    return rows, pattern


def _ratio_bars(ax: Axes, rows: pd.DataFrame, machines: Sequence[str]) -> None:
    """Bars grouped by transport; inside a group one bar per (size, machine B)."""
    all_sizes = sorted({int(s) for s in rows["payload_bytes"]})
    sizes = sorted({nearest_size(all_sizes, t) or 0 for t in COMPARE_BAR_SIZES} - {0})
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
    ratio_axis(ax, "time ratio B / A (> 1: B slower)")


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
    tag(bars, f"{row['b_set']}:{transport}")


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
    size_axis(ax, shape["payload_bytes"])
    ratio_axis(ax, "normalised time ratio B / A")


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
    legend_right(ax, handles, [str(h.get_label()) for h in handles], f"A = {a_set}")


def figure_comparison(
    cases: pd.DataFrame,
    shape: pd.DataFrame | None = None,
    pattern: str | None = None,
    meta: Meta | None = None,
) -> Figure:
    """Cross-CPU comparison: time-ratio bars with 95% CIs per transport and size (top; pale bars
    are not significant), and shape-normalised ratio lines vs size (bottom; one colour per
    machine, the marker names the transport). Inputs: ``compare.compare(...).cases``."""
    title = "Cross-CPU comparison"
    missing = [c for c in COMPARE_NEEDS if c not in cases.columns]
    if missing or cases.empty:
        return skipped_figure(
            title,
            f"comparison frame lacks columns {missing}"
            if missing
            else "needs matching cases from two or more machines",
        )
    rows, pattern = _comparison_slice(cases, pattern)
    machines = list(dict.fromkeys(rows["b_set"].astype(str)))
    a_set = str(rows["a_set"].iloc[0])
    fig = Figure(figsize=(FIGSIZE_IN[0], 8.5), layout="constrained")
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
    set_notes(fig, notes)
    return fig


# ---------------------------------------------------------------------------------------------
# 9. Cost breakdown at one payload size: each channel's total beside the floors it contains

# Which raw floor a channel's bytes travel through (Linux); None: no kernel copy to compare
# with (faster_fifo moves messages through shared memory).
KERNEL_FLOOR: dict[str, str | None] = {
    "pipe": "raw_socketpair",
    "pipe_bytes": "raw_socketpair",
    "pipe_oneway": "raw_pipe",
    "queue": "raw_pipe",
    "simplequeue": "raw_pipe",
    "joinablequeue": "raw_pipe",
    "manager_queue": "raw_socketpair",
    "manager_dict": "raw_socketpair",
    "manager_list": "raw_socketpair",
    "zmq_ipc": "raw_socketpair",  # ipc:// is a Unix domain socket
    "faster_fifo": None,
}
BREAKDOWN_COLUMNS: tuple[str, ...] = (
    "transport",
    "total",
    "serialization",
    "kernel",
    "kernel_floor",
    "pickles",
    "largest_floor_share",
)


def _us_per_msg(rows: pd.DataFrame) -> pd.DataFrame:
    """Median per-message time (us) per transport, from stream msgs/s."""
    ok = rows[(rows["status"] == "ok") & rows["msgs_per_s"].notna()]
    per_msg = (1e6 / ok["msgs_per_s"]).groupby(ok["transport"]).median()
    return per_msg.rename("us").reset_index()


def _kernel_floor(transport: str, per_msg: Mapping[str, float]) -> str | None:
    if transport in KERNEL_FLOOR:
        floor = KERNEL_FLOOR[transport]
        return floor if floor in per_msg else None
    present = [f for f in ("raw_pipe", "raw_socketpair") if f in per_msg]
    return min(present, key=lambda f: per_msg[f]) if present else None


def breakdown_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per non-floor channel (us per message, stream): its total; the pickle floor only if it
    pickles (NaN for bytes channels such as pipe_bytes and zmq_ipc: they pay no pickling); the
    raw floor its bytes travel through (NaN where none applies or it was not measured); and the
    larger floor as a share of the total. Floors are never added up: they overlap in time."""
    per_msg = dict(zip(*(_us_per_msg(rows)[c] for c in ("transport", "us")), strict=True))
    pickle_us = per_msg.get("pickle", np.nan)
    out = []
    for transport in transport_order(t for t in per_msg if t not in FLOORS):
        pickled = ranking.pickles(transport)
        floor = _kernel_floor(transport, per_msg)
        ser = pickle_us if pickled else np.nan
        kernel = per_msg[floor] if floor else np.nan
        total = per_msg[transport]
        largest = np.nanmax([ser, kernel]) if not (np.isnan(ser) and np.isnan(kernel)) else np.nan
        out.append(
            {
                "transport": transport,
                "total": total,
                "serialization": ser,
                "kernel": kernel,
                "kernel_floor": floor or "",
                "pickles": pickled,
                "largest_floor_share": largest / total if total else np.nan,
            }
        )
    return pd.DataFrame(out, columns=list(BREAKDOWN_COLUMNS))


def figure_cost_breakdown(
    df: pd.DataFrame, payload_bytes: int | None = None, meta: Meta | None = None
) -> Figure:
    """Per channel at one size, side by side (never stacked): its time per message (stream),
    the pickle floor (only for channels that pickle) and the raw kernel floor its bytes pass
    through, each measured alone. Stages overlap inside a channel, so they do not add up."""
    title = "Time per message beside the floors it contains (stream)"
    rows = pattern_rows(df, "stream")
    sizes = rows.loc[rows["transport"] == "pickle", "payload_bytes"].dropna()
    size = payload_bytes or nearest_size(sizes if len(sizes) else rows["payload_bytes"], 4096)
    if size is None:
        return skipped_figure(title, _no_rows_reason(rows, "stream"))
    rows, chosen = fix_dims(rows[rows["payload_bytes"] == size], keep=("transport",))
    table = breakdown_table(rows)
    if table.empty:
        return skipped_figure(title, _no_rows_reason(rows, f"stream at {human_size(size)}"))
    chosen["payload_bytes"] = str(size)
    fig, (ax,) = new_figure(title, subtitle(_meta(df, meta), chosen))
    _side_by_side(ax, table)
    add_legend(fig, [ax], "bar")
    set_notes(fig, _breakdown_notes(table, rows))
    return fig


BREAKDOWN_BARS: tuple[tuple[str, str], ...] = (
    ("total", "channel total (colour = channel)"),
    ("serialization", "pickle floor (in-process dumps + loads)"),
    ("kernel", "kernel floor (raw pipe / socketpair)"),
)


def _side_by_side(ax: Axes, table: pd.DataFrame) -> None:
    x = np.arange(len(table))
    width = 0.8 / len(BREAKDOWN_BARS)
    for i, (column, label) in enumerate(BREAKDOWN_BARS):
        pos = x - 0.4 + width * (i + 0.5)
        heights = table[column].fillna(0).to_numpy()  # NaN: not paid / not measured, no bar
        if column == "total":
            colors: Any = [style_for(t).color for t in table["transport"]]
            style: dict[str, Any] = {}
        elif column == "serialization":
            colors, style = SERIALIZATION_COLOR, {"hatch": "//"}
        else:
            colors, style = KERNEL_COLOR, {}
        bars = ax.bar(pos, heights, width, color=colors, edgecolor="white", label=label, **style)
        tag(bars, column)
    for xi, total in zip(x - 0.4 + width / 2, table["total"], strict=True):
        ax.annotate(
            f"{total:.3g}",
            (xi, total),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )
    category_axis(ax, list(table["transport"]), "channel")
    ax.set_ylabel("time per message (\u00b5s)")
    ax.grid(True, axis="y", alpha=0.3)


def _breakdown_notes(table: pd.DataFrame, rows: pd.DataFrame) -> list[str | None]:
    notes: list[str | None] = [
        failure_note(rows),
        "Bars side by side, not stacked: each floor is measured alone, and inside a channel the "
        "stages overlap in time",
        "(a Queue's feeder thread pickles while the reader copies), so the floors do not add up "
        "to the total and the gap is not one stage's cost.",
    ]
    unpickled = list(table.loc[~table["pickles"].astype(bool), "transport"])
    if unpickled:
        notes.append(f"no pickle bar: {', '.join(unpickled)} send bytes frames (no pickling)")
    no_kernel = list(table.loc[table["kernel"].isna(), "transport"])
    shared = [t for t in no_kernel if t in KERNEL_FLOOR and KERNEL_FLOOR[t] is None]
    missing = [t for t in no_kernel if t not in shared]
    if shared:
        notes.append(f"no kernel bar: {', '.join(shared)} (shared memory, no kernel copy)")
    if missing:
        notes.append(f"no kernel bar: {', '.join(missing)} (its raw floor was not measured)")
    if table["pickles"].astype(bool).any() and table["serialization"].isna().all():
        notes.append("pickle floor not measured at this size")
    above = list(table.loc[table["largest_floor_share"] > 1, "transport"])
    if above:
        notes.append(
            f"faster than a floor it contains: {', '.join(above)} (the floor's loop is not the "
            "channel's: batching or a different copy path)"
        )
    return notes


# ---------------------------------------------------------------------------------------------
# Registry and saving

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
}
COMPARISON_FIGURE = "comparison"
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
    info = _meta(df, meta)
    return {name: FIGURES[name](df, info, samples) for name in names}


# ---------------------------------------------------------------------------------------------
# Inputs: result files -> one MachineResults per machine (through ipcbench.results.loader)


@dataclass
class MachineResults:
    """All loaded rows of one machine, its merged run metadata and its run CSVs."""

    machine_id: str
    df: pd.DataFrame
    meta: dict[str, Any]
    csv_paths: list[Path]

    def samples(self) -> tuple[pd.DataFrame | None, str | None]:
        """Pooled raw latency samples of all runs (None if there are none), and a note when a
        samples file could not be read (figures then fall back to percentile columns)."""
        from ipcbench.errors import IpcbenchError
        from ipcbench.results import loader

        frames = []
        for path in self.csv_paths:
            try:
                frames.append(loader.load_samples(path, missing_ok=True))
            except IpcbenchError as exc:
                return None, f"raw samples not used: {exc}"
        frames = [f for f in frames if len(f)]
        return (pd.concat(frames, ignore_index=True) if frames else None), None


def load_machines(paths: Sequence[str | Path]) -> list[MachineResults]:
    """Load result CSVs or folders and split them by machine (in order of first appearance).

    Raises IpcbenchError (one line naming the fix) for missing, empty, foreign or damaged input.
    """
    from ipcbench.results import loader

    df = loader.load_all(paths)
    machines = []
    for machine_id in dict.fromkeys(df["machine_id"].astype("string").fillna("unknown")):
        part = df[df["machine_id"].astype("string").fillna("unknown") == machine_id]
        part = part.reset_index(drop=True)
        csvs = [Path(p) for p in dict.fromkeys(part[loader.SOURCE_COLUMN])]
        metas = [loader.read_meta(p) for p in csvs]
        machines.append(MachineResults(str(machine_id), part, merge_meta(metas), csvs))
    return machines


def merge_meta(metas: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The latest run's facts; warnings, start methods and timestamps of all runs."""
    ordered = sorted(metas, key=lambda m: str(m.get("timestamp_utc", "")))
    merged: dict[str, Any] = {}
    for meta in ordered:
        merged.update(meta)
    merged["warnings"] = [w for m in ordered for w in (m.get("warnings") or [])]
    methods = [x for m in ordered for x in (m.get("start_methods_used") or [])]
    merged["start_methods_used"] = list(dict.fromkeys(methods))
    merged["runs"] = [str(m.get("timestamp_utc", "?")) for m in ordered]
    return merged


SHAPE_BASELINES: tuple[str, ...] = ("raw_pipe", "raw_socketpair", "pipe")


def comparison_figure(machines: Sequence[MachineResults], baseline: str | None = None) -> Figure:
    """Figure 8 for several machines (the first is A), computed with ``ipcbench.analysis.compare``.

    The shape panel normalises by ``baseline`` (default: the first of SHAPE_BASELINES measured
    on every machine). A comparison that cannot be made becomes a skipped figure with the reason.
    """
    from ipcbench.analysis.compare import compare
    from ipcbench.errors import IpcbenchError

    if len(machines) < 2:
        return skipped_figure("Cross-CPU comparison", "needs results of two or more machines")
    frames = [m.df for m in machines]
    labels = [m.machine_id for m in machines]
    common = set.intersection(*(set(f.loc[f["status"] == "ok", "transport"]) for f in frames))
    base = baseline or next((b for b in SHAPE_BASELINES if b in common), None)
    try:
        cases = compare(frames, labels).cases
        shape = compare(frames, labels, normalize=base).cases if base else None
    except IpcbenchError as exc:
        return skipped_figure("Cross-CPU comparison", str(exc))
    return figure_comparison(cases, shape, meta=machines[0].meta)


# ---------------------------------------------------------------------------------------------
# The decision map (ipcbench.analysis.advise.decision_map) and several machines side by side

DECISION_MAP_FIGURE = "decision_map"
MACHINES_FIGURE = "machines"
TIE_HATCH = "///"


def figure_decision_map(df: pd.DataFrame, meta: Meta | None = None, dmap: Any = None) -> Figure:
    """Payload size across, shape down (pingpong latency, stream throughput, fan at each P x C
    measured); each cell coloured by its winner, hatched for a tie group (coloured by its
    lowest-time channel), labelled with the channel(s) and the margin over the runner-up."""
    from ipcbench.analysis import advise

    title = "Decision map: which channel, per payload size and shape"
    if dmap is None:  # ranked here; the report passes its own (one family with its tables)
        dmap = advise.decision_map(df.to_dict("records") if len(df) else [])
    if not dmap.cells:
        return skipped_figure(title, "no ok pingpong, stream or fan rows of two channels")
    chosen = {k: v for k, v in dmap.setting.items() if k != "start_method"}
    chosen["start_method"] = dmap.setting.get("start_method", "")
    fig = Figure(figsize=(FIGSIZE_IN[0], 1.6 + 0.75 * len(dmap.shapes)), layout="constrained")
    ax = fig.subplots()
    fig.suptitle(f"{title}\n{subtitle(_meta(df, meta), chosen)}", fontsize=11)
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
    set_notes(
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


def figure_machines(machines: Sequence[MachineResults]) -> Figure:
    """Each channel's headline figure per machine (top: absolute; bottom: time as a multiple of
    its own machine's raw_pipe floor): pingpong and stream at the smallest size measured with
    raw_pipe on every machine."""
    from ipcbench.analysis import advise

    title = "Machines side by side: absolute, and relative to each machine's raw_pipe"
    if len(machines) < 2:
        return skipped_figure(title, "needs results of two or more machines")
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
        return skipped_figure(title, "no pingpong or stream size with raw_pipe on every machine")
    fig = Figure(figsize=(FIGSIZE_IN[0], 7.5), layout="constrained")
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
        log_y(top, _metric_label(metric))
        top.set_title(f"{pattern} {human_size(size)}", fontsize=10)
        _machine_bars(bottom, machines, normalised, (pattern, size), names)
        log_y(bottom, "time \u00d7 own raw_pipe (lower is better)")
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
