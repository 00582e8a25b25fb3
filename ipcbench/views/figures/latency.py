"""Figures 2 and 3: round-trip latency vs payload size, and its distribution at one size."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from ipcbench.analysis import stats
from ipcbench.results.schema import human_size
from ipcbench.views import axes, slicing
from ipcbench.views.style import style_for, transport_order


def figure_latency(df: pd.DataFrame, meta: axes.Meta | None = None) -> Figure:
    """Round-trip latency vs payload size: p50 line with whiskers up to p99, log-log."""
    title = "Round-trip latency vs payload size (pingpong)"
    rows, chosen, p50 = slicing.per_size(df, "pingpong", "lat_p50_us")
    if p50.empty:
        return axes.skipped_figure(title, slicing.no_rows_reason(rows, "pingpong"))
    p99 = slicing.summarize(rows, ["transport", "payload_bytes"], "lat_p99_us")
    table = p50.merge(p99, on=["transport", "payload_bytes"], how="left", suffixes=("", "_p99"))
    fig, (ax,) = axes.data_figure(title, df, meta, chosen)
    transports = transport_order(table["transport"])
    for i, transport in enumerate(transports):
        part = table[table["transport"] == transport].sort_values("payload_bytes")
        dodge = 2.0 ** (0.06 * (i - (len(transports) - 1) / 2))  # keep whiskers apart
        x = part["payload_bytes"] * dodge
        axes.plot_line(ax, transport, x, part["median"], None)
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
        axes.tag(bars, f"{transport}:p99")
    axes.size_axis(ax, table["payload_bytes"])
    axes.log_y(ax, "round-trip latency (\u00b5s)")
    axes.add_legend(fig, [ax], "p50, whisker to p99")
    axes.set_notes(fig, [slicing.failure_note(rows)])
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
    meta: axes.Meta | None = None,
) -> Figure:
    """Percentile curve (p50 ... p99.99) per transport at one size, log axes so the tail shows.

    ``samples`` (columns row_id, lat_ns) are pooled across repeats; without them the per-row
    percentile columns are used (p50, p90, p99, p99.9).
    """
    title = "Round-trip latency distribution (pingpong)"
    rows = slicing.pattern_rows(df, "pingpong")
    size = payload_bytes or slicing.nearest_size(rows["payload_bytes"].dropna(), 64)
    if size is None:
        return axes.skipped_figure(title, slicing.no_rows_reason(rows, "pingpong"))
    rows, chosen = slicing.fix_dims(rows[rows["payload_bytes"] == size], keep=("transport",))
    curves, all_raw = _distribution_curves(rows, samples)
    if not curves:
        return axes.skipped_figure(
            title, slicing.no_rows_reason(rows, f"pingpong at {human_size(size)}")
        )
    chosen["payload_bytes"] = str(size)
    fig, (ax,) = axes.data_figure(title, df, meta, chosen)
    for transport in transport_order(curves):
        qs = sorted(curves[transport])
        axes.plot_line(
            ax, transport, [_tail_x(q) for q in qs], [curves[transport][q] for q in qs], None
        )
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([_tail_x(q) for q in _TICK_QUANTILES]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"p{100 - 100 / x:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("percentile (log tail scale)")
    axes.log_y(ax, "round-trip latency (\u00b5s)")
    axes.add_legend(fig, [ax])
    source = (
        "percentiles of raw samples pooled across repeats"
        if all_raw
        else "no raw samples for some transports: their curves use the median of the per-repeat "
        "p50/p90/p99/p99.9 columns"
    )
    axes.set_notes(fig, [source, slicing.failure_note(rows)])
    return fig
