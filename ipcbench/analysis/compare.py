"""Compare result sets (machines, runs) case by case.

A case is matched across sets by its parameter columns (``PARAM_COLUMNS``). For every case and
every set X after the first (A) we report the **time ratio** X/A of the case's primary metric
(``stats.primary_metric``), oriented so that > 1 means X is slower than A whatever the metric:
``median(X) / median(A)`` for latencies, ``median(A) / median(X)`` for throughputs.

* Interval (``ci_lo``, ``ci_hi``, real level ``ci_level``): the exact Hodges-Lehmann interval
  of the ratio (``stats.ratio_interval``: order statistics of all pairwise ratios, cut by the
  exact Mann-Whitney null distribution), aiming at 95 %. Its level is the real one (5 + 5
  repeats: 96.8 %); with too few repeats (3 + 3: 90 %) it is the widest available and
  ``ci_is_range`` is set. Exact when one set is the other times a factor plus noise of the same
  shape.
* Significance: two-sided Mann-Whitney U on the per-repeat values (``stats.mann_whitney_u``),
  ``p_value``; ``q_value``: Benjamini-Hochberg adjusted over all cases compared with the same
  set B (the false discovery rate is controlled per B, so ``compare A B`` and ``compare A B C``
  agree on B). With 5 repeats each the exact p is never below 0.008, so a family-wise
  correction (Holm, Bonferroni) would hide every real difference; BH does not.
* ``decision``: "slower" / "faster" only when q < alpha, the interval excludes 1 and the ratio
  is at least ``min_effect`` (default 5 %) away from 1 (``stats.decide``); otherwise "tie".
  ``significant`` is ``decision != "tie"``.
* ``normalize=BASELINE``: each repeat of a case is divided by the repeat of the same index of
  its set's own BASELINE transport at the same pattern and payload size (and, where the baseline
  has them, the same other parameters): ``stats.paired_quotients``. The ratio (of the medians of
  these quotients), its interval and the U test all run on the quotients, so both the case's
  and the baseline's noise count, in both sets. (Dividing by one baseline median, as before,
  made a baseline's noise look like a real difference: identical values and baselines that
  differ only by noise came out p = 0.008.)
* Per transport and set: geometric mean of the time ratios over the matched cases, and the
  number of cases decided slower / faster.

Sets must all hold the current schema version (``loader.load`` upgrades older files); metadata
that changes results (Python version and implementation, start methods, placement) is compared
and each difference reported as one warning line. CPU frequency and load average are ignored:
they jitter from run to run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ipcbench.analysis import stats
from ipcbench.errors import IpcbenchError
from ipcbench.results.loader import sort_cases, typed_params
from ipcbench.results.schema import PARAM_COLUMNS, SCHEMA_VERSION, CaseKey

if TYPE_CHECKING:
    import pandas as pd

ALPHA = stats.ALPHA
MIN_EFFECT = stats.MIN_EFFECT
CHECKED_METADATA: tuple[str, ...] = (
    "python_version",
    "python_implementation",
    "start_method_default",
    "start_methods_used",
    "allocator",
)
# runs from before each driver fixed glibc's malloc thresholds (harness.allocator) record none:
# their figures at >= 128 KiB depended on the runner's history
ALLOCATOR_NOT_RECORDED = "not fixed (a run from before ipcbench fixed it)"
CHECKED_PARAMS: tuple[str, ...] = ("start_method", "placement")
IGNORED_METADATA: tuple[str, ...] = ("cpu_freq_mhz", "loadavg")
# Order in which a baseline case is narrowed to the parameters of the case being normalised.
BASELINE_MATCH_ORDER: tuple[str, ...] = (
    "payload_kind",
    "placement",
    "start_method",
    "producers",
    "consumers",
    "op",
    "maxsize",
)

Key = CaseKey  # schema.case_key of a row (stats.group_cases)
_COL = {name: i for i, name in enumerate(PARAM_COLUMNS)}


@dataclass(frozen=True)
class CaseData:
    """The ok-repeat values of one case's primary metric in one set (plus its baseline's)."""

    params: Mapping[str, Any]
    metric: str
    higher_is_better: bool
    values: list[float]
    baseline: list[float] | None = None


@dataclass(frozen=True)
class Comparison:
    """``cases``: one row per (case, set other than A); ``by_transport``: geometric means."""

    cases: pd.DataFrame
    by_transport: pd.DataFrame
    warnings: list[str]


def compare(
    frames: Sequence[pd.DataFrame],
    labels: Sequence[str] | None = None,
    *,
    normalize: str | None = None,
    seed: int = 0,
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
) -> Comparison:
    """Compare every set in ``frames[1:]`` with ``frames[0]`` (frames as from ``loader.load``).

    ``alpha``: false discovery rate for the q-values; ``min_effect``: smallest change of the
    time ratio (0.05 = 5 %) called faster or slower. ``seed`` is unused (intervals are exact)
    and kept for callers."""
    import pandas as pd

    labels = _check_inputs(frames, labels)
    warnings = metadata_warnings(frames, labels)
    sets = [case_data(frame) for frame in frames]
    if normalize is not None:
        sets = _normalized_sets(sets, labels, normalize, warnings)
    rows: list[dict[str, Any]] = []
    for label, other in zip(labels[1:], sets[1:], strict=True):
        warnings.extend(_match_warnings(labels[0], sets[0], label, other))
        family = [
            compare_case(sets[0][key], other[key], seed=seed, alpha=alpha, min_effect=min_effect)
            for key in sorted(sets[0].keys() & other.keys())
        ]
        adjust_family(family, alpha=alpha, min_effect=min_effect)
        rows += [{**row, "a_set": labels[0], "b_set": label} for row in family]
    cases = sort_cases(typed_params(pd.DataFrame(rows, columns=_CASE_COLUMNS)), ["b_set"])
    return Comparison(cases, transport_summary(cases), warnings)


_CASE_COLUMNS = [
    *PARAM_COLUMNS,
    "metric",
    "higher_is_better",
    "a_set",
    "b_set",
    "a_median",
    "b_median",
    "time_ratio",
    "ci_lo",
    "ci_hi",
    "ci_level",
    "ci_is_range",
    "p_value",
    "q_value",
    "decision",
    "significant",
    "a_n",
    "b_n",
]


def _check_inputs(frames: Sequence[pd.DataFrame], labels: Sequence[str] | None) -> list[str]:
    if len(frames) < 2:
        raise IpcbenchError("compare needs at least two result sets (A B [C ...])")
    if any(len(frame) == 0 for frame in frames):
        raise IpcbenchError("a result set is empty; pass CSVs or folders holding results")
    labels = list(labels) if labels is not None else default_labels(frames)
    if len(labels) != len(frames) or len(set(labels)) != len(labels):
        raise IpcbenchError(f"compare needs one distinct label per result set, got {labels}")
    for label, frame in zip(labels, frames, strict=True):
        missing = [c for c in ("schema_version", "status", *PARAM_COLUMNS) if c not in frame]
        if missing:
            raise IpcbenchError(
                f"set {label} lacks columns {', '.join(missing)}; "
                "load it with ipcbench.results.loader"
            )
        versions = sorted({int(v) for v in frame["schema_version"].dropna()})
        if versions != [SCHEMA_VERSION]:
            raise IpcbenchError(
                f"set {label} has schema_version {', '.join(map(str, versions))}, not "
                f"{SCHEMA_VERSION}: cannot compare it with the others; load every set with "
                "ipcbench.results.loader (which upgrades old runs) or re-run the benchmark"
            )
    return labels


def default_labels(frames: Sequence[pd.DataFrame]) -> list[str]:
    """The machine id(s) of each set, suffixed ``#n`` where two sets would share a label."""
    labels: list[str] = []
    for frame in frames:
        ids = (
            sorted(map(str, frame["machine_id"].dropna().unique())) if "machine_id" in frame else []
        )
        label = "+".join(ids) or "set"
        labels.append(label if label not in labels else f"{label}#{len(labels) + 1}")
    return labels


def case_data(frame: pd.DataFrame) -> dict[Key, CaseData]:
    """Per case: ok-repeat values of its primary metric (cases without ok values are left out)."""
    out: dict[Key, CaseData] = {}
    for key, rows in stats.group_cases(frame.to_dict("records")).items():
        good = stats.ok_rows(rows)
        metric, higher = stats.rows_metric(rows)
        values = stats.metric_values(good, metric)
        if values:
            params = {col: rows[0].get(col) for col in PARAM_COLUMNS}
            out[key] = CaseData(params, metric, higher, values)
    return out


def compare_case(
    a: CaseData,
    b: CaseData,
    *,
    seed: int = 0,
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
) -> dict[str, Any]:
    """Time ratio b/a (> 1: b slower) with its exact interval, Mann-Whitney p-value and a
    decision. On its own the case is a family of one (``q_value`` = ``p_value``); ``compare``
    adjusts the q-values and decisions over all cases (``adjust_family``). ``seed`` is unused."""
    del seed
    den, num = oriented_values(a, b)
    ok = bool(den) and bool(num)
    ratio = stats.median(num) / stats.median(den) if ok and stats.median(den) else math.nan
    interval = stats.ratio_interval(num, den) if ok else stats.NAN_INTERVAL
    p_value = stats.mann_whitney_u(den, num).p_value if ok else math.nan
    decision = stats.decide(p_value, ratio, (interval.lo, interval.hi), min_effect, alpha)
    return {
        **a.params,
        "metric": a.metric,
        "higher_is_better": a.higher_is_better,
        "a_median": stats.median(a.values),
        "b_median": stats.median(b.values),
        "time_ratio": ratio,
        "ci_lo": interval.lo,
        "ci_hi": interval.hi,
        "ci_level": interval.level,
        "ci_is_range": interval.is_range,
        "p_value": p_value,
        "q_value": p_value,
        "decision": decision,
        "significant": decision != "tie",
        "a_n": len(a.values),
        "b_n": len(b.values),
    }


def oriented_values(a: CaseData, b: CaseData) -> tuple[list[float], list[float]]:
    """``(denominator, numerator)`` per-repeat values whose median ratio is the time ratio:
    (a, b) for latencies, (b, a) for throughputs; normalised cases use the repeats divided by
    their baseline's repeats (``stats.paired_quotients``)."""
    a_values, b_values = _scaled(a), _scaled(b)
    if a.higher_is_better:
        return b_values, a_values
    return a_values, b_values


def adjust_family(
    rows: list[dict[str, Any]], *, alpha: float = ALPHA, min_effect: float = MIN_EFFECT
) -> None:
    """Benjamini-Hochberg q-values over ``rows`` (one family) and the decisions they imply,
    in place."""
    q_values = stats.benjamini_hochberg([float(r["p_value"]) for r in rows])
    for row, q_value in zip(rows, q_values, strict=True):
        interval = (float(row["ci_lo"]), float(row["ci_hi"]))
        row["q_value"] = q_value
        row["decision"] = stats.decide(
            q_value, float(row["time_ratio"]), interval, min_effect, alpha
        )
        row["significant"] = row["decision"] != "tie"


def _scaled(case: CaseData) -> list[float]:
    """Per-repeat values; when normalising, each divided by its baseline repeat."""
    if case.baseline is None:
        return case.values
    return stats.paired_quotients(case.values, case.baseline)


def transport_summary(cases: pd.DataFrame) -> pd.DataFrame:
    """Per (set, transport): geometric mean, min and max of the time ratios, case counts and
    the number of cases decided slower / faster (after FDR control and the minimum effect)."""
    import numpy as np
    import pandas as pd

    rows = []
    for (label, transport), group in cases.groupby(["b_set", "transport"], sort=True):
        ratios = group["time_ratio"].astype(float).dropna()
        ratios = ratios[ratios > 0]
        decision = group["decision"].astype(str)
        rows.append(
            {
                "b_set": label,
                "transport": transport,
                "n_cases": len(ratios),
                "geomean_time_ratio": float(np.exp(np.log(ratios).mean()))
                if len(ratios)
                else math.nan,
                "min_time_ratio": ratios.min(),
                "max_time_ratio": ratios.max(),
                "n_slower": int((decision == "slower").sum()),
                "n_faster": int((decision == "faster").sum()),
            }
        )
    return pd.DataFrame(rows, columns=_SUMMARY_COLUMNS)


_SUMMARY_COLUMNS = [
    "b_set",
    "transport",
    "n_cases",
    "geomean_time_ratio",
    "min_time_ratio",
    "max_time_ratio",
    "n_slower",
    "n_faster",
]


# --- normalisation to a baseline transport ---------------------------------------------------


def _normalized_sets(
    sets: list[dict[Key, CaseData]], labels: Sequence[str], baseline: str, warnings: list[str]
) -> list[dict[Key, CaseData]]:
    _check_baseline(sets, labels, baseline)
    out = []
    for label, cases in zip(labels, sets, strict=True):
        normalized = {}
        for key, case in cases.items():
            if key[_COL["transport"]] == baseline:
                continue
            base = find_baseline(key, cases, baseline)
            if base is not None:
                normalized[key] = CaseData(
                    case.params, case.metric, case.higher_is_better, case.values, base
                )
        dropped = sum(k[_COL["transport"]] != baseline for k in cases) - len(normalized)
        if dropped:
            warnings.append(
                f"{label}: {dropped} case(s) have no {baseline} case at the same pattern and "
                "payload size; left out of the normalised comparison"
            )
        out.append(normalized)
    return out


def _check_baseline(
    sets: Sequence[Mapping[Key, CaseData]], labels: Sequence[str], name: str
) -> None:
    transports = [{k[_COL["transport"]] for k in cases} for cases in sets]
    for label, have in zip(labels, transports, strict=True):
        if name not in have:
            common = sorted(set.intersection(*transports))
            raise IpcbenchError(
                f"--normalize {name}: set {label} has no ok {name} results; choose a transport "
                f"measured in every set: {', '.join(common) or '(none in common)'}"
            )


def find_baseline(key: Key, cases: Mapping[Key, CaseData], baseline: str) -> list[float] | None:
    """Values of the ``baseline`` transport's case(s) best matching ``key``.

    Candidates share the pattern and payload size; then, column by column in
    ``BASELINE_MATCH_ORDER``, they are narrowed to those with the same value whenever any has
    it. Several remaining candidates are pooled. None if there is no candidate.
    """
    candidates = [
        k
        for k in cases
        if k[_COL["transport"]] == baseline
        and k[_COL["pattern"]] == key[_COL["pattern"]]
        and k[_COL["payload_bytes"]] == key[_COL["payload_bytes"]]
    ]
    for column in BASELINE_MATCH_ORDER:
        same = [k for k in candidates if k[_COL[column]] == key[_COL[column]]]
        candidates = same or candidates
    if not candidates:
        return None
    return [v for k in sorted(candidates) for v in cases[k].values]


# --- warnings ----------------------------------------------------------------------------------


def metadata_warnings(frames: Sequence[pd.DataFrame], labels: Sequence[str]) -> list[str]:
    """One line per metadata field that differs between A and another set, or within a set."""
    warnings: list[str] = []
    if any("allocator" in frame for frame in frames):
        frames = [_allocator_recorded(frame) for frame in frames]
    for column in (*CHECKED_METADATA, *CHECKED_PARAMS):
        values = [_distinct(frame, column) for frame in frames]
        for label, vals in zip(labels, values, strict=True):
            if len(vals) > 1 and column in CHECKED_METADATA:
                warnings.append(f"{label} mixes runs with {column} {', '.join(vals)}")
        for label, vals in zip(labels[1:], values[1:], strict=True):
            if values[0] and vals and vals != values[0]:
                warnings.append(
                    f"{column} differs: {labels[0]} has {', '.join(values[0])}, {label} has "
                    f"{', '.join(vals)}; results may not be comparable"
                )
    return warnings


def _allocator_recorded(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with runs that recorded no malloc state named as such (a copy)."""
    values = frame.get("allocator")
    filled = ALLOCATOR_NOT_RECORDED if values is None else values.fillna(ALLOCATOR_NOT_RECORDED)
    return frame.assign(allocator=filled)


def _distinct(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame:
        return []
    return sorted({str(v) for v in frame[column].dropna().unique()})


def _match_warnings(
    a_label: str, a: Mapping[Key, CaseData], b_label: str, b: Mapping[Key, CaseData]
) -> list[str]:
    out = []
    if only_a := len(a.keys() - b.keys()):
        out.append(f"{only_a} case(s) of {a_label} have no match in {b_label}; left out")
    if only_b := len(b.keys() - a.keys()):
        out.append(f"{only_b} case(s) of {b_label} have no match in {a_label}; left out")
    return out
