"""Key findings: sentences that each follow from a test in the report's analysis."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from ipcbench.analysis import ranking, stats
from ipcbench.results.schema import human_size
from ipcbench.views.report.analysis import (
    Analysis,
    Stated,
    analyse,
    headline_groups,
)
from ipcbench.views.slicing import pattern_rows

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
    findings += thread_findings(analysis.of("threads"))
    return findings or ["no finding: no successful pingpong, stream or proxy_ops rows"]


def _ends(items: Sequence[ranking.Group]) -> list[ranking.Group]:
    return list(items[:1]) + list(items[-1:]) if len(items) > 1 else list(items)


def _at(group: ranking.Group) -> str:
    return f"At {human_size(group.payload_bytes)} ({group.setting()})"


def figure_text(entry: ranking.Entry, metric: str) -> str:
    return ranking.fmt_metric(entry.median, metric)


def pq_text(c: ranking.Comparison) -> str:
    return f"p = {c.p_value:.2g}, {ranking.fmt_q(c.q_value)}"


def ranking_sentence(r: ranking.Ranking) -> str:
    """'X has the best ...' only for a winner; otherwise the tie group as a tie."""
    g, metric = r.group, r.group.metric
    what = WHAT.get(g.pattern, metric)
    if r.winner is not None:
        up = r.runner_up
        assert up is not None and up.vs_best is not None
        return (
            f"{_at(g)}, {r.winner} has the best {what} ({figure_text(r.best, metric)}; "
            f"{ranking.interval_text(r.best, metric)}), {ranking.fmt_factor(up.vs_best.factor)} "
            f"faster than the runner-up {up.transport} ({figure_text(up, metric)}; "
            f"{pq_text(up.vs_best)})."
        )
    tied = [e for e in r.entries if e.transport in r.tie_group]
    figures = ranking.names_text([figure_text(e, metric) for e in tied])
    tests = "; ".join(
        f"{e.transport} vs {r.best.transport}: {ranking.fmt_factor(e.vs_best.factor)}, "
        f"{pq_text(e.vs_best)}"
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
            f"({ranking.fmt_factor(first.vs_best.factor)}, {pq_text(first.vs_best)}){more}."
        )
    return text


def pair_sentence(s: Stated) -> str:
    c, g = s.comparison, s.group
    faster, slower = (c.first, c.second) if c.time_ratio < 1 else (c.second, c.first)
    where = f"at {human_size(g.payload_bytes)} on this CPU ({g.pattern}; {g.setting()}"
    if not c.differs:
        return (
            f"{faster} and {slower} do not differ significantly {where}: medians "
            f"{ranking.fmt_factor(c.factor)} apart, {pq_text(c)})."
        )
    return (
        f"{faster} is {ranking.fmt_factor(c.factor)} faster than {slower} {where}; {pq_text(c)})."
    )


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
                f"{share:.0%} of the {floor} floor's throughput ({pq_text(best)}): the other "
                f"{1 - share:.0%} is what multiprocessing adds on top of the bare kernel "
                "copy at this size."
            )
        elif best.decision == "tie":
            out.append(
                f"{_at(g)}, the fastest multiprocessing channel ({best.first}) does not "
                f"differ significantly from the {floor} floor ({share:.0%} of its throughput, "
                f"{pq_text(best)}): no cost of multiprocessing is measurable at this size."
            )
        else:
            out.append(
                f"{_at(g)}, {best.first} moves {share:.0%} of the {floor} floor's throughput "
                f"({pq_text(best)}): above 100%, so {floor} is not a floor here and says "
                "nothing about multiprocessing's cost."
            )
    for c in stated:
        peer = c.comparison
        if ranking.is_peer(peer.first) and peer.decision == "faster":
            out.append(
                f"{_at(g)}, {peer.first} (a peer library, not multiprocessing) moves "
                f"{1 / peer.time_ratio:.0%} of the {floor} floor's throughput "
                f"({pq_text(peer)}): {floor} is not a floor for it, so no cost is read from it."
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


def thread_findings(stated: Sequence[Stated]) -> list[str]:
    """Threads of one process against the fastest process channel: a factor only where the
    difference is significant, a tie said as a tie."""
    out = []
    for s in stated:
        c, g = s.comparison, s.group
        what = WHAT.get(g.pattern, g.metric)
        if not c.differs:
            out.append(
                f"{_at(g)}, threads of one process ({c.first}) and the fastest process channel "
                f"({c.second}) do not differ significantly in {what} ({pq_text(c)}): processes "
                "cost nothing measurable here."
            )
            continue
        faster = c.decision == "faster"
        out.append(
            f"{_at(g)}, threads of one process ({c.first}) are {ranking.fmt_factor(c.factor)} "
            f"{'faster' if faster else 'slower'} in {what} than the fastest process channel "
            f"({c.second}; {pq_text(c)})"
            + (
                ": that is what crossing a process boundary costs at this size (with the GIL)."
                if faster
                else "."
            )
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
