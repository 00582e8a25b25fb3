"""One machine's results as a self-contained HTML page and a Markdown version.

Sections: first the decision map (winner or tie group per payload size and shape, crossovers
that are significant at both neighbouring sizes, Pipe vs Queue vs Manager ratios: see
``advise``), machine metadata, key findings (computed from the data), a recommendation table
(best transport per pattern, payload size and process count, with its margin and whether the
margin is significant), with several machines a Machines section (headline figures per machine,
absolute and relative to its own raw_pipe floor, and where they or the advice differ), every
figure, stability warnings, failed cases. Every statement about one machine is one
Benjamini-Hochberg family (``analyse``). The report is built as a list
of blocks rendered twice (``to_html``, ``to_markdown``), so both versions say the same thing.
Figures are written beside the report as PNG + SVG (the Markdown links the PNGs; the HTML embeds
them as base64, so the .html file alone is complete).
"""

from __future__ import annotations

import base64
import html
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ipcbench.analysis import advise, ranking, stats, summary
from ipcbench.errors import IpcbenchError
from ipcbench.params import human_size
from ipcbench.views import plots
from ipcbench.views.axes import figure_notes, skip_reason
from ipcbench.views.figures.comparison import comparison_figure
from ipcbench.views.figures.decision_map import figure_decision_map
from ipcbench.views.figures.machines import figure_machines
from ipcbench.views.inputs import MachineResults
from ipcbench.views.slicing import nearest_size, pattern_rows

ALPHA = 0.05
MAX_LISTED = 40
HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"
RECOMMEND_PATTERNS: tuple[str, ...] = ("pingpong", "stream", "fan", "taskqueue")
HEADLINE_PAIRS: tuple[tuple[str, str], ...] = (("pipe", "queue"), ("pipe_bytes", "pipe"))
CAPTIONS: dict[str, str] = {
    "throughput": "Stream throughput per payload size; shaded: exact order-statistic interval "
    "of the median over repeats (at least 95%; with 5 or fewer repeats only the min-max range, "
    "93.8% at 5); dashed: floors (no multiprocessing machinery).",
    "latency": "Round-trip latency (pingpong): median p50 over repeats, whisker up to p99.",
    "latency_distribution": "Latency percentiles at one payload size; the log tail scale "
    "spreads p90 ... p99.9 so the tail is visible.",
    "scaling": "Aggregate throughput as producers and consumers are added; the dotted line "
    "marks where the processes outnumber the logical CPUs.",
    "backpressure": "Bounded queues: throughput and time producers spend blocked per maxsize.",
    "proxy": "Manager proxies: operations per second by object and operation, for one client "
    "(proxy_ops) and for K processes updating at once (shared_state; hatch = K).",
    "start_method_placement": "Effect of the start method and CPU placement at one size.",
    "cost_breakdown": "Each channel's time per message (stream) beside the floors it contains, "
    "measured alone: the pickle floor (only for channels that pickle) and the raw pipe / "
    "socketpair its bytes pass through. Side by side, not stacked: inside a channel the stages "
    "overlap in time, so they do not add up.",
    "decision_map": "Winner per payload size and shape (round-trip latency, one-way stream, "
    "fan at each producers \u00d7 consumers measured) with its margin over the runner-up; "
    "hatched cells are tie groups, not winners.",
    "machines": "Each channel's time per message as a multiple of its own machine's raw_pipe "
    "floor (lower is better), per machine, at the smallest size measured on every machine.",
    "comparison": "This machine (A) against the others: time ratios with 95% CIs (pale bars "
    "are not significant) and the shape after normalising by a baseline transport.",
}


# ---------------------------------------------------------------------------------------------
# Blocks


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class FigureBlock:
    name: str
    title: str
    png: bytes
    caption: str
    notes: list[str] = field(default_factory=list)


Block = Heading | Paragraph | Bullets | Table | FigureBlock


# ---------------------------------------------------------------------------------------------
# Machine metadata


def machine_table(meta: Mapping[str, Any], df: pd.DataFrame) -> Table:
    """Key facts of the machine and runs, one row each (missing facts are left out)."""
    ok = int((df["status"] == "ok").sum())
    facts = [
        ("machine id", meta.get("machine_id") or _mode(df, "machine_id")),
        ("CPU model", meta.get("cpu_model")),
        ("logical CPUs", meta.get("logical_cpus") or _mode(df, "logical_cpus")),
        ("physical cores", meta.get("physical_cores")),
        ("CPU frequency (MHz)", meta.get("cpu_freq_mhz")),
        ("governor", meta.get("governor")),
        ("OS / kernel / arch", _join(meta.get(k) for k in ("os", "kernel", "arch"))),
        ("Python", _join(meta.get(k) for k in ("python_implementation", "python_version"))),
        ("start methods used", _join(meta.get("start_methods_used") or [], ", ")),
        ("runs (UTC)", _join(meta.get("runs") or [meta.get("timestamp_utc")], ", ")),
        ("ipcbench commit", meta.get("git_commit")),
        (
            "library versions",
            _join((f"{k} {v}" for k, v in (meta.get("versions") or {}).items() if v), ", "),
        ),
        ("result rows", f"{len(df)} ({ok} ok, {len(df) - ok} not ok)"),
    ]
    return Table(["", ""], [[k, str(v)] for k, v in facts if v not in (None, "", [])])


def _mode(df: pd.DataFrame, column: str) -> Any:
    if column not in df.columns or not df[column].notna().any():
        return None
    return df[column].dropna().mode().iloc[0]


def _join(values: Iterable[Any], sep: str = " ") -> str:
    return sep.join(str(v) for v in values if v not in (None, ""))


# ---------------------------------------------------------------------------------------------
# Analysis: every ranking and every comparison a sentence states, tested as one family


SETTING_DIMS: tuple[str, ...] = ("payload_kind", "start_method", "placement")
PREFERRED_SETTING: dict[str, str] = {"payload_kind": "bytes", "placement": "unpinned"}
PROXY_TARGET_BYTES = 64  # Manager dict/list sharing moves small values
PROXY_MAX_BYTES = 4096
PLACEMENT_TARGET_BYTES = 64


@dataclass(frozen=True)
class Stated:
    """A comparison a finding states, with what it is about (``kind`` and ``about``)."""

    kind: str  # "pair", "floor", "placement", "proxy"
    group: ranking.Group
    comparison: ranking.Comparison


@dataclass(frozen=True)
class Analysis:
    """Rankings of every like-for-like group of the recommended patterns and the extra
    comparisons the findings state: all of them one Benjamini-Hochberg family."""

    rankings: list[ranking.Ranking]
    stated: list[Stated]

    def of(self, kind: str) -> list[Stated]:
        return [s for s in self.stated if s.kind == kind]


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return df.to_dict("records") if not df.empty else []


def analyse(df: pd.DataFrame) -> Analysis:
    """Rank, compare and adjust everything the report says about this machine at once."""
    rows = records(df)
    groups = ranking.groups(rows, RECOMMEND_PATTERNS)
    pending: list[tuple[str, ranking.Group, ranking.Comparison]] = []
    pending += [("pair", g, c) for g, c in _pair_comparisons(groups)]
    pending += [("floor", g, c) for g, c in _floor_comparisons(rows)]
    pending += [("placement", g, c) for g, c in _placement_comparisons(rows)]
    pending += [("proxy", g, c) for g, c in _proxy_comparisons(rows)]
    shown = advise.map_groups(groups, advise.map_setting(rows))
    pending += [("seed", g, c) for g, c in advise.seed_comparisons(shown)]
    rankings, adjusted = ranking.rank_groups(groups, [c for _, _, c in pending])
    stated = [Stated(k, g, c) for (k, g, _), c in zip(pending, adjusted, strict=True)]
    return Analysis(rankings, stated)


def main_setting(groups: Sequence[ranking.Group]) -> dict[str, str]:
    """The setting (payload kind, start method, placement) findings speak about: bytes and
    unpinned when measured, else the most common; the start method most common."""
    chosen: dict[str, str] = {}
    pool = list(groups)
    for dim in SETTING_DIMS:
        counts = Counter(g.get(dim) for g in pool)
        if not counts:
            break
        value = PREFERRED_SETTING.get(dim, "")
        chosen[dim] = value if value and value in counts else counts.most_common(1)[0][0]
        pool = [g for g in pool if g.get(dim) == chosen[dim]]
    return chosen


def _plain(group: ranking.Group, setting: Mapping[str, str]) -> bool:
    """1 x 1, no op, unbounded, no offered load, in ``setting``."""
    return (
        group.shape == (1, 1)
        and not group.get("op")
        and not group.get("maxsize")
        and not group.get("offered_load")
        and all(group.get(d) == v for d, v in setting.items())
    )


def headline_groups(groups: Sequence[ranking.Group], pattern: str) -> list[ranking.Group]:
    """The plain 1 x 1 groups of a pattern in its main setting, smallest size first."""
    mine = [g for g in groups if g.pattern == pattern]
    setting = main_setting(mine)
    return sorted((g for g in mine if _plain(g, setting)), key=lambda g: g.payload_bytes)


def _ends(items: Sequence[ranking.Group]) -> list[ranking.Group]:
    return list(items[:1]) + list(items[-1:]) if len(items) > 1 else list(items)


def _pair_comparisons(
    groups: Sequence[ranking.Group],
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    out = []
    for pattern in ("pingpong", "stream"):
        for g in headline_groups(groups, pattern)[:1]:
            out += [
                (g, ranking.compare_in(g, a, b))
                for a, b in HEADLINE_PAIRS
                if {a, b} <= set(g.values)
            ]
    return out


def _floor_comparisons(
    rows: Sequence[Mapping[str, Any]],
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    """At the largest stream size (main setting, 1 x 1): every channel against the fastest
    raw floor of the same group."""
    heads = headline_groups(ranking.groups(rows, ["stream"], floors=True), "stream")
    if not heads:
        return []
    g = heads[-1]
    floors = [t for t in g.values if ranking.is_floor(t)]
    if not floors:
        return []
    floor = max(floors, key=lambda t: stats.median(g.values[t]))
    return [(g, ranking.compare_in(g, t, floor)) for t in g.values if not ranking.is_floor(t)]


def _placement_comparisons(
    rows: Sequence[Mapping[str, Any]],
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    """Per channel at the pingpong size nearest 64 B: 'split' against 'same' (else
    'unpinned'), everything else equal. The group returned is the split one; ``first`` and
    ``second`` are the two placements' channel names tagged 'transport@placement'."""
    found = ranking.groups(rows, ["pingpong"], floors=True)
    placements = {g.get("placement") for g in found}
    other = next((p for p in ("same", "unpinned") if p in placements), None)
    if "split" not in placements or other is None:
        return []
    sizes = {g.payload_bytes for g in found if g.get("placement") == "split"}
    size = nearest_size(sizes, PLACEMENT_TARGET_BYTES)
    by_key = {(g.key, g.get("placement")): g for g in found}
    out = []
    for g in found:
        if g.get("placement") != "split" or g.payload_bytes != size or g.shape != (1, 1):
            continue
        twin_key = tuple((d, other if d == "placement" else v) for d, v in g.key)
        twin = by_key.get((twin_key, other))
        if twin is None:
            continue
        for t in sorted(set(g.values) & set(twin.values)):
            if t in ranking.IN_PROCESS_FLOORS:
                continue
            c = ranking.compare(t, g.values[t], t, twin.values[t], g.higher_is_better)
            out.append((g, replace(c, second=f"{t}@{other}")))
    return out


def _proxy_comparisons(
    rows: Sequence[Mapping[str, Any]],
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    """Each Manager proxy operation (proxy_ops, one client) at the small size against a Pipe
    round trip of the same size, payload kind, start method and placement. ``first`` is
    'transport op'; the group is the proxy operation's."""
    proxies = ranking.groups(rows, ["proxy_ops"])
    size = _proxy_size(proxies)
    if size is None:
        return []
    pipes = {
        _setting_key(g): g
        for g in ranking.groups(rows, ["pingpong"])
        if g.payload_bytes == size and _plain_shape(g)
    }
    out = []
    setting = main_setting(proxies)
    for g in proxies:
        if g.payload_bytes != size or any(g.get(d) != v for d, v in setting.items()):
            continue
        pipe = pipes.get(_setting_key(g))
        for t, values in g.values.items():
            name = f"{t} {g.get('op')}".strip()
            if pipe is None or "pipe" not in pipe.values:
                out.append(
                    (g, ranking.Comparison(name, "pipe", math.nan, stats.NAN_INTERVAL, math.nan))
                )
                continue
            out.append((g, ranking.compare(name, values, "pipe", pipe.values["pipe"], False)))
    return out


def _proxy_size(proxies: Sequence[ranking.Group]) -> int | None:
    small = [g.payload_bytes for g in proxies if g.payload_bytes <= PROXY_MAX_BYTES]
    return nearest_size(small, PROXY_TARGET_BYTES) if small else None


def _plain_shape(group: ranking.Group) -> bool:
    return group.shape == (1, 1) and not group.get("op") and not group.get("maxsize")


def _setting_key(group: ranking.Group) -> tuple[str, ...]:
    return tuple(group.get(d) for d in SETTING_DIMS)


# ---------------------------------------------------------------------------------------------
# Key findings

TEST_TEXT = "Mann-Whitney on the repeats, Benjamini-Hochberg q < 0.05 over the report, at least 5%"
WHAT: dict[str, str] = {"pingpong": "round-trip latency", "stream": "throughput"}


def key_findings(df: pd.DataFrame, analysis: Analysis | None = None) -> list[str]:
    """Sentences that each follow from a test on the data (see the module's tests)."""
    analysis = analysis or analyse(df)
    findings: list[str] = []
    for pattern in ("pingpong", "stream"):
        heads = headline_groups([r.group for r in analysis.rankings], pattern)
        by_key = {r.group.key: r for r in analysis.rankings}
        findings += [ranking_sentence(by_key[g.key]) for g in _ends(heads) if len(g.values) > 1]
        findings += [pair_sentence(s) for s in analysis.of("pair") if s.group.pattern == pattern]
    findings += floor_findings(analysis.of("floor"))
    findings += proxy_findings(analysis.of("proxy"), df)
    findings += placement_findings(analysis.of("placement"))
    return findings or ["no finding: no successful pingpong, stream or proxy_ops rows"]


def _at(group: ranking.Group) -> str:
    return f"At {human_size(group.payload_bytes)} ({group.setting()})"


def _figure(entry: ranking.Entry, metric: str) -> str:
    return ranking.fmt_metric(entry.median, metric)


def _pq(c: ranking.Comparison) -> str:
    return f"p = {c.p_value:.2g}, {ranking.fmt_q(c.q_value)}"


def ranking_sentence(r: ranking.Ranking) -> str:
    """'X has the best ...' only for a winner; otherwise the tie group as a tie."""
    g, metric = r.group, r.group.metric
    what = WHAT.get(g.pattern, metric)
    if r.winner is not None:
        up = r.runner_up
        assert up is not None and up.vs_best is not None
        return (
            f"{_at(g)}, {r.winner} has the best {what} ({_figure(r.best, metric)}; "
            f"{ranking.interval_text(r.best, metric)}), {ranking.fmt_factor(up.vs_best.factor)} "
            f"faster than the runner-up {up.transport} ({_figure(up, metric)}; {_pq(up.vs_best)})."
        )
    tied = [e for e in r.entries if e.transport in r.tie_group]
    figures = ranking.names_text([_figure(e, metric) for e in tied])
    tests = "; ".join(
        f"{e.transport} vs {r.best.transport}: {ranking.fmt_factor(e.vs_best.factor)}, "
        f"{_pq(e.vs_best)}"
        for e in tied[1:]
        if e.vs_best is not None
    )
    text = (
        f"{_at(g)}, {ranking.names_text(list(r.tie_group))} do not differ significantly in "
        f"{what} ({figures}; {tests}): no single channel is best."
    )
    rest = [e for e in r.entries if e.transport not in r.tie_group and e.vs_best is not None]
    if rest:
        first = rest[0]
        assert first.vs_best is not None
        more = f" and {len(rest) - 1} more" if len(rest) > 1 else ""
        text += (
            f" Significantly slower than {r.best.transport}: {first.transport} "
            f"({ranking.fmt_factor(first.vs_best.factor)}, {_pq(first.vs_best)}){more}."
        )
    return text


def pair_sentence(s: Stated) -> str:
    c, g = s.comparison, s.group
    faster, slower = (c.first, c.second) if c.time_ratio < 1 else (c.second, c.first)
    where = f"at {human_size(g.payload_bytes)} on this CPU ({g.pattern}; {g.setting()}"
    if not c.differs:
        return (
            f"{faster} and {slower} do not differ significantly {where}: medians "
            f"{ranking.fmt_factor(c.factor)} apart, {_pq(c)})."
        )
    return f"{faster} is {ranking.fmt_factor(c.factor)} faster than {slower} {where}; {_pq(c)})."


def floor_findings(stated: Sequence[Stated]) -> list[str]:
    """The best multiprocessing channel against the raw floor; peers above the floor said
    plainly (the floor is no floor for them); nothing claimed above 100 %."""
    if not stated:
        return []
    g = stated[0].group
    floor = stated[0].comparison.second
    out = []
    mp = [s.comparison for s in stated if not ranking.is_peer(s.comparison.first)]
    if mp:
        best = min(mp, key=lambda c: c.time_ratio)
        share = 1 / best.time_ratio
        if best.decision == "slower":
            out.append(
                f"{_at(g)}, the fastest multiprocessing channel ({best.first}) reaches "
                f"{share:.0%} of the {floor} floor's throughput ({_pq(best)}): the other "
                f"{1 - share:.0%} is what multiprocessing adds on top of the bare kernel "
                "copy at this size."
            )
        elif best.decision == "tie":
            out.append(
                f"{_at(g)}, the fastest multiprocessing channel ({best.first}) does not "
                f"differ significantly from the {floor} floor ({share:.0%} of its throughput, "
                f"{_pq(best)}): no cost of multiprocessing is measurable at this size."
            )
        else:
            out.append(
                f"{_at(g)}, {best.first} moves {share:.0%} of the {floor} floor's throughput "
                f"({_pq(best)}): above 100%, so {floor} is not a floor here and says "
                "nothing about multiprocessing's cost."
            )
    for c in stated:
        peer = c.comparison
        if ranking.is_peer(peer.first) and peer.decision == "faster":
            out.append(
                f"{_at(g)}, {peer.first} (a peer library, not multiprocessing) moves "
                f"{1 / peer.time_ratio:.0%} of the {floor} floor's throughput "
                f"({_pq(peer)}): {floor} is not a floor for it, so no cost is read from it."
            )
    return out


def proxy_findings(stated: Sequence[Stated], df: pd.DataFrame) -> list[str]:
    """Manager proxy operations at a small size, against a Pipe round trip of the same
    setting; said plainly when proxies were measured only at large sizes."""
    if not stated:
        sizes = sorted({int(s) for s in pattern_rows(df, "proxy_ops")["payload_bytes"].dropna()})
        if not sizes:
            return []
        return [
            f"Manager proxy operations were measured only at {human_size(sizes[0])} and above; "
            "dict/list sharing moves small values, so no proxy cost is stated."
        ]
    g = stated[0].group
    costs = []
    for s in stated:
        transport = s.comparison.first.split(" ")[0]
        values = s.group.values.get(transport, ())
        costs.append((stats.median(values) if values else math.nan, s))
    costs.sort(key=lambda item: item[0])
    (low, s_low), (high, s_high) = costs[0], costs[-1]
    span = (
        f"{ranking.fmt_metric(low, 'lat_p50_us')} ({s_low.comparison.first})"
        if len(costs) == 1
        else f"{ranking.fmt_metric(low, 'lat_p50_us')} ({s_low.comparison.first}) to "
        f"{ranking.fmt_metric(high, 'lat_p50_us')} ({s_high.comparison.first})"
    )
    text = (
        f"At {human_size(g.payload_bytes)} ({g.setting()}), one Manager proxy operation takes "
        f"{span} (p50, median over repeats)"
    )
    tested = [s.comparison for _, s in costs if math.isfinite(s.comparison.time_ratio)]
    if not tested:
        return [text + "; no Pipe round trip was measured in the same setting to compare with."]
    ratios = [c.time_ratio for c in tested if c.differs]
    ties = [c.first for c in tested if not c.differs]
    if ratios:
        lo, hi = min(ratios), max(ratios)
        scale = (
            ranking.fmt_factor(lo)
            if ranking.fmt_factor(lo) == ranking.fmt_factor(hi)
            else f"{ranking.fmt_factor(lo)} to {ranking.fmt_factor(hi)}"
        )
        text += f": {scale} a Pipe round trip of the same size"
    if ties:
        text += (
            "; " if ratios else ": "
        ) + f"{ranking.names_text(ties)} not significantly different from a Pipe round trip"
    return [text + f" ({TEST_TEXT})."]


def placement_findings(stated: Sequence[Stated]) -> list[str]:
    """'split' against 'same' (or 'unpinned') per channel: only significant differences of at
    least 5 % are called, one factor per channel, never a '1.0x to 1.0x' range."""
    if not stated:
        return []
    other = stated[0].comparison.second.split("@")[1]
    where = "on one CPU ('same')" if other == "same" else "unpinned"
    by_setting: dict[tuple[str, str], list[Stated]] = {}
    for s in stated:
        key = (s.group.get("payload_kind"), s.group.get("start_method"))
        by_setting.setdefault(key, []).append(s)
    out = []
    for (kind, method), items in by_setting.items():
        size = human_size(items[0].group.payload_bytes)
        compared = [s.comparison for s in items]
        slower = [c for c in compared if c.decision == "slower"]
        faster = [c for c in compared if c.decision == "faster"]
        ties = [c.first for c in compared if not c.differs]
        parts = []
        if slower:
            parts.append(f"is significantly slower than {where} for {_factors(slower)}")
        if faster:
            parts.append(f"is significantly faster than {where} for {_factors(faster)}")
        if ties and parts:
            parts.append(f"does not differ significantly for {ranking.names_text(ties)}")
        elif ties:
            parts.append(
                f"does not differ significantly from one {where} for "
                f"{ranking.names_text(ties)}: placement makes no measurable difference here"
            )
        out.append(
            f"At {size} ({kind}, {method}), a round trip across CPUs ('split') "
            f"{'; '.join(parts)} ({TEST_TEXT})."
        )
    return out


MAX_NAMED = 4


def _factors(comparisons: Sequence[ranking.Comparison]) -> str:
    """Each channel with its factor; more than ``MAX_NAMED`` as a count and a range."""
    ordered = sorted(comparisons, key=lambda c: -c.factor)
    if len(ordered) > MAX_NAMED:
        hi, lo = ordered[0], ordered[-1]
        worst_q = max(c.q_value for c in ordered)
        return (
            f"{len(ordered)} channels, from {ranking.fmt_factor(lo.factor)} ({lo.first}) to "
            f"{ranking.fmt_factor(hi.factor)} ({hi.first}), each q \u2264 {worst_q:.2g}"
        )
    return ranking.names_text(
        [f"{c.first} ({ranking.fmt_factor(c.factor)}, {ranking.fmt_q(c.q_value)})" for c in ordered]
    )


# ---------------------------------------------------------------------------------------------
# Recommendations

RECOMMENDATION_HEADERS: list[str] = [
    "pattern (metric)",
    "payload",
    "setting",
    "producers \u00d7 consumers",
    "verdict",
    "best median (interval)",
    "runner-up",
    "margin",
    "beats runner-up",
]


def recommendation_table(df: pd.DataFrame, analysis: Analysis | None = None) -> Table:
    """Per like-for-like group (pattern, size, setting, P x C): the winner when it beats every
    other channel, else the tie group; the best median with its interval, the runner-up, the
    margin and the test (Mann-Whitney, Benjamini-Hochberg over the report, 5 % minimum)."""
    analysis = analysis or analyse(df)
    ordered = sorted(analysis.rankings, key=lambda r: RECOMMEND_PATTERNS.index(r.group.pattern))
    return Table(list(RECOMMENDATION_HEADERS), [_recommendation_row(r) for r in ordered])


def _recommendation_row(r: ranking.Ranking) -> list[str]:
    g, best = r.group, r.best
    op = f"/{g.get('op')}" if g.get("op") else ""
    cells = [
        f"{g.pattern}{op} ({g.metric})",
        human_size(g.payload_bytes),
        g.setting(),
        f"{g.shape[0]}\u00d7{g.shape[1]}",
    ]
    figure = f"{_figure(best, g.metric)} ({ranking.interval_text(best, g.metric)})"
    if r.verdict == "alone":
        return [
            *cells,
            f"{best.transport} (only channel)",
            figure,
            "\u2014",
            "\u2014",
            "only one channel",
        ]
    up = r.runner_up
    assert up is not None and up.vs_best is not None
    verdict = best.transport if r.winner else "tie: " + ", ".join(r.tie_group)
    tested = ("yes" if up.vs_best.differs else "no") + f" ({_pq(up.vs_best)})"
    return [*cells, verdict, figure, up.transport, ranking.fmt_factor(up.vs_best.factor), tested]


# ---------------------------------------------------------------------------------------------
# Stability warnings, grouped by cause and pattern, worst first (summary.grouped_warnings)


def stability_lines(df: pd.DataFrame, meta: Mapping[str, Any]) -> list[str]:
    """Run-level warnings from the metadata, then per-case problems grouped by cause and
    pattern, worst group first (``summary.grouped_warnings``). Per-case lines in the metadata
    are recomputed from the rows (cases that all failed are failed cases, not instability)."""
    return summary.grouped_warnings(records(df), meta.get("warnings") or [])


def failed_table(df: pd.DataFrame) -> Table:
    """Cases with rows that are not ok: how many repeats, their status and error text."""
    bad = df[df["status"] != "ok"]
    rows = []
    for case_rows in stats.group_cases(bad.to_dict("records")).values():
        first = case_rows[0]
        errors = sorted({str(r.get("error") or "").strip() for r in case_rows} - {""})
        rows.append(
            [
                stats.case_label(first),
                str(first.get("status")),
                str(len(case_rows)),
                "; ".join(errors) or "(no error text)",
            ]
        )
    return Table(["case", "status", "repeats", "reason"], rows)


def _capped(items: Sequence[str]) -> list[str]:
    if len(items) <= MAX_LISTED:
        return list(items)
    return [*items[:MAX_LISTED], f"... and {len(items) - MAX_LISTED} more"]


# ---------------------------------------------------------------------------------------------
# Assembly


def figure_blocks(figures: Mapping[str, Figure], pngs: Mapping[str, bytes]) -> list[Block]:
    """One FigureBlock per drawn figure; skipped figures listed with their reasons."""
    blocks: list[Block] = []
    skipped = []
    for name, fig in figures.items():
        reason = skip_reason(fig)
        if reason is not None:
            skipped.append(f"{name}: {reason}")
            continue
        title = fig.get_suptitle().split("\n")[0]
        blocks.append(
            FigureBlock(name, title, pngs[name], CAPTIONS.get(name, ""), figure_notes(fig))
        )
    if skipped:
        blocks += [Paragraph("Figures not drawn:"), Bullets(skipped)]
    return blocks


DECISION_TEXT = (
    "Per shape and payload size (main setting; floors excluded): the winner when it beats every "
    f"other channel ({TEST_TEXT}), else the tie group. A "
    "crossover is named only where the leader changes and each leader beats the other "
    "significantly at its own size."
)
SEED_TEXT = (
    "The seed's question: time ratios of the medians (> 1: the first channel takes longer per "
    "message) with their Hodges-Lehmann interval and its real level; n.s.: not significant."
)


def decision_map(df: pd.DataFrame, analysis: Analysis) -> advise.DecisionMap:
    """The map from the report's own rankings and seed comparisons (one family)."""
    seed = [(s.group, s.comparison) for s in analysis.of("seed")]
    return advise.decision_map(records(df), analysis.rankings, seed)


def decision_blocks(
    dmap: advise.DecisionMap, figures: Mapping[str, Figure], pngs: Mapping[str, bytes]
) -> list[Block]:
    """The decision map section: figure, crossover sentences, the Pipe/Queue/Manager table."""
    blocks: list[Block] = [Heading("Decision map"), Paragraph(DECISION_TEXT)]
    fig = figures.get(plots.DECISION_MAP_FIGURE)
    if fig is not None:
        blocks += figure_blocks({plots.DECISION_MAP_FIGURE: fig}, pngs)
    sentences = advise.crossovers(dmap)
    blocks.append(
        Bullets(sentences)
        if sentences
        else Paragraph("No crossover: no change of leader is significant at both sizes.")
    )
    headers, rows = advise.seed_table(dmap)
    blocks.append(Heading("Pipe vs Queue vs Manager", 3))
    blocks += (
        [Paragraph(SEED_TEXT), Table(headers, rows)]
        if rows
        else [Paragraph("Not measured: needs pipe, queue or manager_queue at the same size.")]
    )
    return blocks


MACHINES_TEXT = (
    "Every machine against the first, channel by channel (pingpong and stream, main setting, "
    "1\u00d71): time ratios tested per case (Mann-Whitney, Benjamini-Hochberg per machine, at "
    "least 5%), in absolute terms and relative to each machine's own raw_pipe floor. Figures: "
    "medians, with the multiple of that machine's raw_pipe time."
)


def machines_blocks(
    machines: Sequence[MachineResults],
    figures: Mapping[str, Figure],
    pngs: Mapping[str, bytes],
) -> list[Block]:
    """Several machines: headline figures per machine, the figure, where they differ."""
    labelled = [(m.machine_id, m.df) for m in machines]
    blocks: list[Block] = [Heading("Machines"), Paragraph(MACHINES_TEXT)]
    try:
        found = advise.machine_differences(labelled)
    except IpcbenchError as exc:  # e.g. sets of different schema versions
        blocks.append(Paragraph(f"Not compared: {exc}"))
    else:
        blocks.append(Bullets(list(found.sentences)))
    headers, rows = advise.machine_table(labelled)
    if rows:
        blocks.append(Table(headers, rows[:MAX_LISTED]))
    fig = figures.get(plots.MACHINES_FIGURE)
    if fig is not None:
        blocks += figure_blocks({plots.MACHINES_FIGURE: fig}, pngs)
    return blocks


SECTION_FIGURES = (plots.DECISION_MAP_FIGURE, plots.MACHINES_FIGURE)


def report_blocks(
    machine: MachineResults,
    figures: Mapping[str, Figure],
    pngs: Mapping[str, bytes],
    notes: Sequence[str] = (),
    others: Sequence[MachineResults] = (),
    analysis: Analysis | None = None,
) -> list[Block]:
    df, meta = machine.df, machine.meta
    rest = {n: f for n, f in figures.items() if n not in SECTION_FIGURES}
    failed = failed_table(df)
    warnings = stability_lines(df, meta)
    analysis = analysis or analyse(df)
    recommendations = recommendation_table(df, analysis)
    return [
        Heading(f"ipcbench report: {machine.machine_id}", 1),
        *decision_blocks(decision_map(df, analysis), figures, pngs),
        Heading("Machine"),
        machine_table(meta, df),
        Heading("Key findings"),
        Bullets(key_findings(df, analysis)),
        Heading("Recommendations"),
        Paragraph(
            "Per pattern, payload size, setting (payload kind, start method, placement) and "
            "producers \u00d7 consumers, floors excluded, by median over ok repeats of the "
            "pattern's primary metric. A channel is named only when it beats every other "
            f"channel of its row ({TEST_TEXT}); otherwise the row lists the tie group: every "
            "channel not significantly slower than the best. Interval: exact order-statistic "
            "interval of the median with its real level (a range below 6 repeats)."
        ),
        recommendations if recommendations.rows else Paragraph("No successful rows to rank."),
        *(machines_blocks([machine, *others], figures, pngs) if others else []),
        Heading("Figures"),
        *figure_blocks(rest, pngs),
        Heading("Stability warnings"),
        Bullets(_capped([*notes, *warnings])) if warnings or notes else Paragraph("None."),
        Heading("Failed cases"),
        Table(failed.headers, failed.rows[:MAX_LISTED]) if failed.rows else Paragraph("None."),
        *(
            [Paragraph(f"... and {len(failed.rows) - MAX_LISTED} more failed cases.")]
            if len(failed.rows) > MAX_LISTED
            else []
        ),
    ]


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    markdown: Path
    figures: list[Path]


def write_report(
    machine: MachineResults,
    out_dir: Path,
    others: Sequence[MachineResults] = (),
    names: Sequence[str] = tuple(plots.FIGURES),
) -> ReportFiles:
    """Draw the figures, save them (PNG + SVG) and write report.html and report.md to out_dir.

    ``others``: further machines; adds the cross-CPU comparison figure (this machine = A).
    """
    samples, samples_note = machine.samples()
    analysis = analyse(machine.df)
    dmap = decision_map(machine.df, analysis)
    figures = {plots.DECISION_MAP_FIGURE: figure_decision_map(machine.df, machine.meta, dmap)}
    figures.update(plots.render(machine.df, names, machine.meta, samples))
    if others:
        figures[plots.COMPARISON_FIGURE] = comparison_figure([machine, *others])
        figures[plots.MACHINES_FIGURE] = figure_machines([machine, *others])
    paths, pngs = _save_figures(figures, out_dir)
    notes = [samples_note] if samples_note else []
    blocks = report_blocks(machine, figures, pngs, notes, others, analysis)
    html_path, md_path = out_dir / HTML_NAME, out_dir / MARKDOWN_NAME
    html_path.write_text(to_html(blocks), encoding="utf-8")
    md_path.write_text(to_markdown(blocks), encoding="utf-8")
    return ReportFiles(html_path, md_path, paths)


def _save_figures(
    figures: Mapping[str, Figure], out_dir: Path
) -> tuple[list[Path], dict[str, bytes]]:
    paths: list[Path] = []
    pngs: dict[str, bytes] = {}
    for name, fig in figures.items():
        if skip_reason(fig) is None:
            saved = plots.save(fig, out_dir, name)
            paths += saved
            pngs[name] = saved[0].read_bytes()
    return paths, pngs


# ---------------------------------------------------------------------------------------------
# Rendering

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1150px; margin: 2em auto; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #444; } .note { color: #8a4b00; }
nav a { margin-right: 1em; }
"""


def to_html(blocks: Sequence[Block]) -> str:
    """A complete, self-contained HTML page (inline CSS, figures as base64 PNG)."""
    title = next((b.text for b in blocks if isinstance(b, Heading)), "ipcbench report")
    sections = [b.text for b in blocks if isinstance(b, Heading) and b.level == 2]
    nav = "".join(f'<a href="#{_anchor(s)}">{html.escape(s)}</a>' for s in sections)
    body = "\n".join(_html_block(b) for b in blocks)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n<nav>{nav}</nav>\n{body}\n</body></html>\n"
    )


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower())


def _html_block(block: Block) -> str:
    esc = html.escape
    if isinstance(block, Heading):
        return f'<h{block.level} id="{_anchor(block.text)}">{esc(block.text)}</h{block.level}>'
    if isinstance(block, Paragraph):
        return f"<p>{esc(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        head = "".join(f"<th>{esc(h)}</th>" for h in block.headers) if any(block.headers) else ""
        rows = "".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in block.rows
        )
        return f"<table>{f'<tr>{head}</tr>' if head else ''}{rows}</table>"
    data = base64.b64encode(block.png).decode("ascii")
    notes = "".join(f'<br><span class="note">{esc(n)}</span>' for n in block.notes)
    return (
        f'<figure id="fig-{block.name}"><img alt="{esc(block.title)}" '
        f'src="data:image/png;base64,{data}"><figcaption><b>{esc(block.title)}.</b> '
        f"{esc(block.caption)}{notes}</figcaption></figure>"
    )


def to_markdown(blocks: Sequence[Block]) -> str:
    """The same report as Markdown; figures link the PNG files written beside it."""
    return "\n\n".join(_md_block(b) for b in blocks) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_block(block: Block) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + " " + block.text
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {i}" for i in block.items)
    if isinstance(block, Table):
        headers = [h or " " for h in block.headers]
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in block.rows]
        return "\n".join(lines)
    notes = "".join(f"\n\n> {n}" for n in block.notes)
    return f"![{block.title}]({block.name}.png)\n\n*{block.title}.* {block.caption}{notes}"
