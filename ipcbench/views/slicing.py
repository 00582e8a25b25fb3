"""Which rows a figure plots, and their medians.

Dimensions a figure does not plot (start method, placement, payload kind, ...) are fixed to
their most common value (``fix_dims``), so no median mixes different cases. Medians and
their intervals come from ``ipcbench.analysis.stats``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ipcbench.analysis import stats
from ipcbench.results import interpreter

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
    "python",
    "placement",
    "payload_bytes",
    "producers",
    "consumers",
)
_PER_TRANSPORT_DIMS = ("maxsize", "op", "offered_load", "call", "call_timeout_s")
_PREFERRED = {
    "payload_kind": ("bytes",),
    "placement": ("unpinned",),
    "call": ("block",),
    "python": (interpreter.tag(),),  # --pythons: figures show the launched one, and say so
}


def dim_keys(series: pd.Series) -> pd.Series:
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

    maxsize, op and the calling style are chosen per transport (they only apply to some
    transports; plain blocking calls when measured). An empty cell
    means "does not apply" (the start method of in-process floors) and matches any choice.
    """
    keep = set(keep)
    chosen: dict[str, str] = {}
    for col in _GLOBAL_DIMS:
        if col in keep or col not in df.columns or df.empty:
            continue
        keys = dim_keys(df[col])
        chosen[col] = _choose(keys, _PREFERRED.get(col, ()))
        df = df[(keys == chosen[col]) | (keys == "")]
        if not chosen[col]:
            del chosen[col]
    for col in _PER_TRANSPORT_DIMS:
        if col in keep or col not in df.columns or df.empty:
            continue
        keys = dim_keys(df[col])
        preferred = _PREFERRED.get(col, ())
        best = keys.groupby(df["transport"]).transform(lambda k, p=preferred: _choose(k, p))
        df = df[keys == best]
    return df, chosen


def pattern_rows(df: pd.DataFrame, *patterns: str) -> pd.DataFrame:
    return df[df["pattern"].isin(patterns)] if "pattern" in df.columns else df.iloc[0:0]


def per_size(
    df: pd.DataFrame, pattern: str, value: str
) -> tuple[pd.DataFrame, dict[str, str], pd.DataFrame]:
    """A pattern's rows with every dimension but transport and payload size fixed, the values
    chosen, and the median (with interval) of ``value`` per transport and payload size."""
    rows, chosen = fix_dims(pattern_rows(df, pattern), keep=("transport", "payload_bytes"))
    return rows, chosen, summarize(rows, ["transport", "payload_bytes"], value)


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


def no_rows_reason(rows: pd.DataFrame, what: str) -> str:
    if rows.empty:
        return f"no '{what}' rows in these results (pattern not run)"
    return f"no successful '{what}' rows ({failure_note(rows)})"
