"""The report's "CPython versions" section (runs with --pythons): each channel's headline
figures per interpreter as time ratios to the oldest one measured, the seed's Pipe-vs-Queue
ratio per interpreter, and start-up costs per interpreter. The comparisons are the report's
("python", "python_seed": one Benjamini-Hochberg family with everything else it says); a
sentence names a difference only where it is significant, and counts the ties as ties."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ipcbench.analysis import ranking, stats
from ipcbench.results.schema import human_size
from ipcbench.views.report.analysis import Analysis, Stated, version_order
from ipcbench.views.report.blocks import Block, Bullets, Heading, Paragraph, Table

VERSIONS_TEXT = (
    "The same cases under each interpreter, in interleaved rounds (plain 1\u00d71 pingpong and "
    "stream, {setting}). Time vs {oldest}: the ratio of the medians of each channel's primary "
    "metric against the same channel under Python {oldest} (> 1: slower there; throughput "
    "counts as time per message), with its Hodges-Lehmann interval; q: Benjamini-Hochberg over "
    "everything this report states."
)
SEED_TEXT = (
    "The seed's question per interpreter: how much longer Queue takes per message than Pipe "
    "(> 1: Queue slower), same size, pattern and setting."
)
VERSION_HEADERS = ["channel", "pattern", "size", "Python", "median", "time vs {oldest}", "q",
                   "verdict"]  # fmt: skip
SEED_HEADERS = ["pattern", "size", "Python", "Queue time / Pipe time", "q", "verdict"]


def python_blocks(df: pd.DataFrame, analysis: Analysis) -> list[Block]:
    """The section, or nothing when the run compared no interpreters."""
    versus, seed = analysis.of("python"), analysis.of("python_seed")
    if not versus and not seed:
        return []
    oldest = _oldest(versus) if versus else min((s.group.get("python") for s in seed),
                                                 key=version_order)  # fmt: skip
    setting = _setting_text(versus or seed)
    blocks: list[Block] = [Heading("CPython versions")]
    blocks.append(Paragraph(VERSIONS_TEXT.format(setting=setting, oldest=oldest)))
    blocks.append(Bullets([*version_sentences(versus), *seed_sentences(seed)]))
    if versus:
        headers = [h.format(oldest=oldest) for h in VERSION_HEADERS]
        blocks.append(Table(headers, version_rows(versus)))
    if seed:
        blocks += [
            Paragraph(SEED_TEXT),
            Table(SEED_HEADERS, [_seed_row(s) for s in _ordered(seed)]),
        ]
    return blocks


def version_sentences(stated: Sequence[Stated]) -> list[str]:
    """Per newer interpreter: in how many channel figures it was significantly slower or
    faster than the oldest (with the range of factors), and how many were ties."""
    by_version: dict[str, list[ranking.Comparison]] = {}
    for s in stated:
        by_version.setdefault(s.group.get("python"), []).append(s.comparison)
    out = []
    oldest = _oldest(stated) if stated else ""
    for version in sorted(by_version, key=version_order):
        compared = by_version[version]
        slower = [c for c in compared if c.decision == "slower"]
        faster = [c for c in compared if c.decision == "faster"]
        ties = [c for c in compared if not c.differs]
        parts = []
        if faster:
            parts.append(f"faster in {len(faster)} ({_span(faster)}: {_names(faster)})")
        if slower:
            parts.append(f"slower in {len(slower)} ({_span(slower)}: {_names(slower)})")
        if ties:
            parts.append(f"not significantly different in {len(ties)}")
        out.append(
            f"Python {version} against {oldest}: of {_figures(len(compared))}, {'; '.join(parts)}."
        )
    return out


def seed_sentences(stated: Sequence[Stated]) -> list[str]:
    """Per interpreter: where Queue was significantly slower (or faster) than Pipe, and the
    ties; no factor is named for a tie."""
    by_version: dict[str, list[Stated]] = {}
    for s in stated:
        by_version.setdefault(s.group.get("python"), []).append(s)
    out = []
    for version in sorted(by_version, key=version_order):
        found = by_version[version]
        named = [
            f"{'slower' if s.comparison.decision == 'slower' else 'faster'} by "
            f"{ranking.fmt_factor(s.comparison.factor)} at {_where(s)}"
            for s in found
            if s.comparison.differs
        ]
        ties = [_where(s) for s in found if not s.comparison.differs]
        parts = [f"Queue {', '.join(named)}"] if named else []
        if ties:
            parts.append(f"no significant difference at {', '.join(ties)}")
        out.append(f"Python {version}, Queue against Pipe: {'; '.join(parts)}.")
    return out


def _oldest(stated: Sequence[Stated]) -> str:
    return stated[0].comparison.second.rsplit("@", 1)[1]


def _setting_text(stated: Sequence[Stated]) -> str:
    g = stated[0].group
    parts = [g.get("payload_kind"), g.get("start_method"), g.get("placement")]
    return ", ".join(p for p in parts if p)


def _ordered(stated: Sequence[Stated]) -> list[Stated]:
    def key(s: Stated) -> tuple[object, ...]:
        g = s.group
        channel = s.comparison.first.rsplit("@", 1)[0]
        return (channel, g.pattern, g.payload_bytes, version_order(g.get("python")))

    return sorted(stated, key=key)


def _where(s: Stated) -> str:
    return f"{human_size(s.group.payload_bytes)} {s.group.pattern}"


def _names(comparisons: Sequence[ranking.Comparison]) -> str:
    """'pipe 64 B pingpong' style is too long for a sentence: the channels, each once."""
    channels = sorted({c.first.rsplit("@", 1)[0] for c in comparisons})
    return ", ".join(channels)


def _span(comparisons: Sequence[ranking.Comparison]) -> str:
    factors = sorted(c.factor for c in comparisons)
    lo, hi = ranking.fmt_factor(factors[0]), ranking.fmt_factor(factors[-1])
    return lo if lo == hi else f"{lo} to {hi}"


def _figures(n: int) -> str:
    return "1 channel figure" if n == 1 else f"{n} channel figures"


def _verdict(c: ranking.Comparison) -> str:
    return {"slower": "slower", "faster": "faster"}.get(c.decision, "tie")


def version_rows(stated: Sequence[Stated]) -> list[list[str]]:
    """The table: per channel, pattern and size the oldest interpreter's median (the
    reference), then each newer one's with its time ratio to it."""
    out: list[list[str]] = []
    seen: set[tuple[str, str, int]] = set()
    for s in _ordered(stated):
        c, g = s.comparison, s.group
        channel, oldest = c.second.rsplit("@", 1)
        if (channel, g.pattern, g.payload_bytes) not in seen:
            seen.add((channel, g.pattern, g.payload_bytes))
            reference = _reference_median(s)
            out.append([channel, g.pattern, human_size(g.payload_bytes), oldest,
                        ranking.fmt_metric(reference, g.metric), "reference", "", ""])  # fmt: skip
        out.append(_version_row(s))
    return out


def _reference_median(s: Stated) -> float:
    """The oldest interpreter's median, from the newer one's and their ratio of medians (time
    ratio: latency new / old; throughput old / new)."""
    c, g = s.comparison, s.group
    median = stats.median(g.values[c.first.rsplit("@", 1)[0]])
    return median * c.time_ratio if g.higher_is_better else median / c.time_ratio


def _version_row(s: Stated) -> list[str]:
    c, g = s.comparison, s.group
    channel = c.first.rsplit("@", 1)[0]
    median = stats.median(g.values[channel])
    return [
        channel,
        g.pattern,
        human_size(g.payload_bytes),
        g.get("python"),
        ranking.fmt_metric(median, g.metric),
        f"{c.time_ratio:.2f} [{c.interval.lo:.2f}, {c.interval.hi:.2f}]",
        ranking.fmt_q(c.q_value),
        _verdict(c),
    ]


def _seed_row(s: Stated) -> list[str]:
    c, g = s.comparison, s.group
    return [
        g.pattern,
        human_size(g.payload_bytes),
        g.get("python"),
        f"{c.time_ratio:.2f} [{c.interval.lo:.2f}, {c.interval.hi:.2f}]",
        ranking.fmt_q(c.q_value),
        _verdict(c),
    ]
