"""The short table printed after a run: per like-for-like group the fastest channel or the tie
group (``ranking``), and where each channel saturates under an offered load (rate)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from math import nan
from typing import Any

from ipcbench.analysis import ranking, stats
from ipcbench.results import schema
from ipcbench.results.schema import human_size

SUMMARY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("pingpong", "p50 round trip"),
    ("stream", "one way"),
)


def best_per_size(rows: list[dict[str, Any]]) -> list[ranking.Ranking]:
    """The ranking of every like-for-like group of pingpong and stream rows (floors excluded):
    one group per pattern, size, payload kind, start method, Python, placement and P x C,
    never a minimum across them. All groups' comparisons are one Benjamini-Hochberg family."""
    found = ranking.groups(rows, [p for p, _ in SUMMARY_PATTERNS])
    return ranking.rank_groups(found)[0]


def format_ranking(r: ranking.Ranking) -> str:
    """One summary line: the winner with its margin, the tie group, or the only channel."""
    what = dict(SUMMARY_PATTERNS).get(r.group.pattern, "")
    shape = "" if r.group.shape == (1, 1) else f" {r.group.shape[0]}x{r.group.shape[1]}"
    head = (
        f"  {r.group.pattern:<9} {human_size(r.group.payload_bytes):>9}  "
        f"{r.group.setting() + shape:<26}"
    )
    best = r.best
    figure = f"{ranking.fmt_metric(best.median, r.group.metric)} {what}".strip()
    if r.verdict == "alone":
        return f"{head} only {best.transport} measured: {figure}"
    if r.verdict == "tie":
        tied = r.tie_group
        last = r.entry(tied[-1])
        assert last is not None
        spread = ranking.fmt_metric(last.median, r.group.metric)
        return f"{head} tie: {', '.join(tied)} ({figure} to {spread}; no significant difference)"
    up = r.runner_up
    assert up is not None and up.vs_best is not None
    return (
        f"{head} fastest: {best.transport} {figure} "
        f"({ranking.fmt_factor(up.vs_best.factor)} ahead of {up.transport}, "
        f"{ranking.fmt_q(up.vs_best.q_value)})"
    )


KEEPS_UP_SHARE = 0.95  # delivered / offered at or above this: the channel keeps up
P50_GROWTH_LIMIT = 3.0  # p50 latency more than this × its lowest-load value: queueing


@dataclass(frozen=True)
class LoadPoint:
    offered_per_s: float
    achieved_per_s: float
    lat_p50_us: float
    lat_p99_us: float

    def keeps_up(self, base_p50_us: float) -> bool:
        return (
            self.achieved_per_s >= KEEPS_UP_SHARE * self.offered_per_s
            and self.lat_p50_us <= P50_GROWTH_LIMIT * base_p50_us
        )


@dataclass(frozen=True)
class Saturation:
    """The rate pattern's knee for one channel: the last offered load it kept up with, and
    the first it did not (None: it kept up with every load offered)."""

    transport: str
    payload_bytes: int
    kept_up: LoadPoint | None
    saturated: LoadPoint | None


def _channel(row: dict[str, Any]) -> str:
    """The transport, with start method and placement when they are not the defaults, and the
    interpreter where the run chose one (--pythons)."""
    extra = [
        str(row.get(c) or "")
        for c in ("start_method", "placement", "payload_kind")
        if str(row.get(c) or "") not in ("", "fork", "unpinned", "bytes")
    ]
    if str(row.get("python") or ""):
        extra.insert(0, f"Python {row['python']}")
    return f"{row['transport']} ({', '.join(extra)})" if extra else str(row["transport"])


LoadKey = tuple[str, int, schema.CaseKey]  # channel, payload size, the case key but its load
_LOAD = schema.PARAM_COLUMNS.index("offered_load")


def _load_points(rows: Iterable[dict[str, Any]]) -> dict[LoadKey, list[LoadPoint]]:
    """Per case but its offered load (``schema.case_key``: producers, consumers, maxsize and
    op stay apart): medians over repeats at each offered load, lowest load first."""
    cells: dict[schema.CaseKey, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("pattern") == "rate" and row.get("status") == "ok":
            cells[schema.case_key(row)].append(row)
    points: dict[LoadKey, list[LoadPoint]] = defaultdict(list)
    for key, cell in cells.items():
        shape = key[:_LOAD] + key[_LOAD + 1 :]
        med = {
            # a percentile too few samples support is None (schema.percentile_supported)
            c: statistics.median([float(r[c]) for r in cell if r.get(c) is not None] or [nan])
            for c in ("offered_per_s", "msgs_per_s", "lat_p50_us", "lat_p99_us")
        }
        points[(_channel(cell[0]), int(cell[0]["payload_bytes"]), shape)].append(
            LoadPoint(med["offered_per_s"], med["msgs_per_s"], med["lat_p50_us"], med["lat_p99_us"])
        )
    return {key: sorted(v, key=lambda p: p.offered_per_s) for key, v in points.items()}


def saturation_points(rows: Iterable[dict[str, Any]]) -> list[Saturation]:
    """The saturation point of every channel run with the rate pattern.

    A load is kept up with when at least 95% of the offered messages per second were
    delivered and the p50 latency stayed within 3× its value at the lowest load; the first
    load that fails either test (past the last one that passed) is the saturation point."""
    found = []
    for (transport, size, _), points in sorted(_load_points(rows).items()):
        base_p50_us = min(p.lat_p50_us for p in points)
        kept_up, saturated = None, None
        for point in points:
            if point.keeps_up(base_p50_us):
                kept_up, saturated = point, None
            elif saturated is None:
                saturated = point
        found.append(Saturation(transport, size, kept_up, saturated))
    return found


def _p99_text(p99_us: float) -> str:
    return "- (too few samples)" if p99_us != p99_us else f"{p99_us:,.1f} µs"  # NaN: unsupported


def format_saturation(s: Saturation) -> str:
    head = f"  rate      {human_size(s.payload_bytes):>9}  {s.transport:<14}"
    kept = (
        f"keeps up to {s.kept_up.offered_per_s:,.0f} msgs/s (p50 {s.kept_up.lat_p50_us:,.1f} µs, "
        f"p99 {_p99_text(s.kept_up.lat_p99_us)})"
        if s.kept_up
        else "kept up with no offered load"
    )
    if s.saturated is None:
        return f"{head} {kept}; no saturation up to the highest load offered"
    return (
        f"{head} {kept}; saturated at {s.saturated.offered_per_s:,.0f} msgs/s offered "
        f"({s.saturated.achieved_per_s:,.0f} delivered, p50 {s.saturated.lat_p50_us:,.1f} µs)"
    )


SUMMARY_HEADER = (
    "Fastest channel per pattern, size, payload kind, start method, Python (with --pythons),\n"
    "placement and P x C (median of ok repeats; floors excluded; never a minimum across\n"
    "settings). A channel is named fastest only when it beats every other one (Mann-Whitney U\n"
    "on the repeats, Benjamini-Hochberg q < 0.05 over all lines, at least 5% faster);\n"
    "otherwise the tie group is listed. Then where each channel saturates under an offered\n"
    "load (rate):"
)


def format_summary(rows: list[dict[str, Any]]) -> str:
    lines = [format_ranking(r) for r in best_per_size(rows)]
    lines += [format_saturation(s) for s in saturation_points(rows)]
    if not lines:
        return "No successful pingpong/stream/rate cases to summarize."
    return SUMMARY_HEADER + "\n" + "\n".join(lines)


# --- stability warnings, grouped by cause and pattern, worst first ------------------------------

WORST_LISTED = 3


@dataclass(frozen=True)
class Problem:
    cause: str  # "repeats", "spread", "short"
    pattern: str
    label: str
    severity: float  # larger is worse
    detail: str


CAUSE_TEXT: dict[str, tuple[str, str]] = {  # cause -> (what, for one case; what to do)
    "repeats": ("has fewer than {min_ok} ok repeats", "run more repeats or fix the failures"),
    "spread": (
        "varies more than {cv:.0%} between repeats",
        "quiet the machine, pin CPUs or take more repeats",
    ),
    "short": (
        "has a timed region below {short_ms:.3g} ms",
        "too short for the clock: raise the target time or message count",
    ),
}
CAUSE_ORDER: tuple[str, ...] = ("repeats", "spread", "short")


def case_problems(rows: Sequence[Mapping[str, Any]], limit_s: float) -> list[Problem]:
    """The stability problems of one case with at least one ok repeat."""
    good = stats.ok_rows(rows)
    if not good:
        return []
    first = rows[0]
    pattern, label = str(first.get("pattern") or ""), stats.case_label(first)
    out = []
    if len(good) < stats.MIN_OK_REPEATS:
        detail = f"{len(good)} of {len(rows)} ok"
        out.append(
            Problem(
                "repeats",
                pattern,
                label,
                1 - len(good) / max(len(rows), stats.MIN_OK_REPEATS),
                detail,
            )
        )
    column, _ = stats.rows_metric(rows)
    spread = stats.cv(stats.metric_values(good, column))
    if not math.isnan(spread) and spread > stats.CV_LIMIT:
        out.append(Problem("spread", pattern, label, spread, f"CV {spread:.0%}"))
    elapsed = stats.metric_values(good, "elapsed_s")
    if elapsed and min(elapsed) < limit_s:
        out.append(
            Problem(
                "short",
                pattern,
                label,
                limit_s / max(min(elapsed), 1e-12),
                f"{min(elapsed) * 1e3:.3g} ms",
            )
        )
    return out


def grouped_problems(problems: Sequence[Problem], limit_s: float) -> list[str]:
    groups: dict[tuple[str, str], list[Problem]] = {}
    for p in problems:
        groups.setdefault((p.cause, p.pattern), []).append(p)
    ordered = sorted(
        groups.items(),
        key=lambda kv: (CAUSE_ORDER.index(kv[0][0]), -max(p.severity for p in kv[1]), kv[0][1]),
    )
    lines = []
    for (cause, pattern), items in ordered:
        items = sorted(items, key=lambda p: -p.severity)
        what, advice = CAUSE_TEXT[cause]
        what = what.format(min_ok=stats.MIN_OK_REPEATS, cv=stats.CV_LIMIT, short_ms=limit_s * 1e3)
        if len(items) > 1:
            what = what.replace("has ", "have ", 1).replace("varies ", "vary ", 1)
        worst = "; ".join(f"{p.label} ({p.detail})" for p in items[:WORST_LISTED])
        more = f"; and {len(items) - WORST_LISTED} more" if len(items) > WORST_LISTED else ""
        noun = "case" if len(items) == 1 else "cases"
        lines.append(f"{pattern}: {len(items)} {noun} {what} ({worst}{more}); {advice}.")
    return lines


def grouped_warnings(
    rows: Iterable[Mapping[str, Any]], run_warnings: Iterable[Any] = ()
) -> list[str]:
    """Run-level warnings (``run_warnings`` minus per-case lines, which are recomputed), then
    the per-case problems of cases with at least one ok repeat, one line per (cause, pattern):
    its count, its worst few cases and what to do. Groups of fewer ok repeats come first, then
    spread, then short timed regions; within a cause the worst group first."""
    limit_s = stats.timer_min_elapsed_s()
    cases = stats.group_cases(rows).values()
    labels = {stats.case_label(case[0]) for case in cases}
    run_lines = [str(w) for w in run_warnings if str(w).split(": ", 1)[0] not in labels]
    problems = [p for case in cases for p in case_problems(case, limit_s)]
    return list(dict.fromkeys(run_lines)) + grouped_problems(problems, limit_s)
