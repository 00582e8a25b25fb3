"""The report's put/get calling styles section: what a timeout or nowait costs against plain
blocking calls, per channel, pattern, size and shape (comparisons of the report's family)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ipcbench.analysis import ranking, stats
from ipcbench.results.schema import human_size
from ipcbench.views.report.analysis import Analysis, Stated, records
from ipcbench.views.report.blocks import Block, Bullets, Heading, Paragraph, Table

CALLS_TEXT = (
    "Each calling style that retries, against plain blocking put/get on the same channel, "
    "pattern, size and setting: time ratio of the medians (> 1: the style takes longer per "
    "message) with its Hodges-Lehmann interval; retries: expired timeouts and Full/Empty "
    "retries per message (median over repeats)."
)
HEADERS = ["channel", "pattern", "size", "P\u00d7C", "style", "time vs block", "q", "verdict",
           "retries/msg"]  # fmt: skip


def call_blocks(df: pd.DataFrame, analysis: Analysis) -> list[Block]:
    """The section, or nothing when no calling style was compared."""
    stated = analysis.of("call")
    if not stated:
        return []
    rows = records(df)
    return [
        Heading("put/get calling styles"),
        Paragraph(CALLS_TEXT),
        Bullets(call_sentences(stated)),
        Table(HEADERS, [_row(s, rows) for s in stated]),
    ]


def call_sentences(stated: Sequence[Stated]) -> list[str]:
    """One sentence per style and pattern: in how many cases it was significantly slower or
    faster than blocking calls (with the range of factors), and how many were ties."""
    by_style: dict[tuple[str, str], list[ranking.Comparison]] = {}
    for s in stated:
        style = s.comparison.first.split(" ", 1)[1]
        by_style.setdefault((style, s.group.pattern), []).append(s.comparison)
    out = []
    for (style, pattern), compared in by_style.items():
        slower = [c for c in compared if c.decision == "slower"]
        faster = [c for c in compared if c.decision == "faster"]
        ties = [c for c in compared if not c.differs]
        parts = []
        if slower:
            parts.append(f"slower than blocking calls in {len(slower)} ({_span(slower)})")
        if faster:
            parts.append(f"faster in {len(faster)} ({_span(faster)})")
        if ties:
            parts.append(f"not significantly different in {len(ties)}")
        out.append(
            f"{pattern} pattern, {style} calls: of {_cases(len(compared))}, {'; '.join(parts)} "
            "(Mann-Whitney on the repeats, Benjamini-Hochberg over the report, at least 5%)."
        )
    return out


def _span(comparisons: Sequence[ranking.Comparison]) -> str:
    factors = sorted(c.factor for c in comparisons)
    lo, hi = ranking.fmt_factor(factors[0]), ranking.fmt_factor(factors[-1])
    return lo if lo == hi else f"{lo} to {hi}"


def _row(s: Stated, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    c, g = s.comparison, s.group
    transport, style = c.first.split(" ", 1)
    lo, hi = c.interval.lo, c.interval.hi
    verdict = {"slower": "slower", "faster": "faster"}.get(c.decision, "tie")
    return [
        transport,
        g.pattern,
        human_size(g.payload_bytes),
        f"{g.shape[0]}\u00d7{g.shape[1]}",
        style,
        f"{c.time_ratio:.2f} [{lo:.2f}, {hi:.2f}]",
        ranking.fmt_q(c.q_value),
        verdict,
        _retries_per_message(rows, g, transport),
    ]


def _retries_per_message(
    rows: Sequence[Mapping[str, Any]], g: ranking.Group, transport: str
) -> str:
    """Median over the group's ok repeats of this channel of retries / messages."""
    per: list[float] = []
    for row in rows:
        if str(row.get("transport")) != transport or str(row.get("status")) != "ok":
            continue
        if ranking.group_key(row) != g.key:
            continue
        retries, n = stats.to_float(row.get("retries")), stats.to_float(row.get("n_messages"))
        if retries is not None and n:
            per.append(retries / n)
    return f"{stats.median(per):.3g}" if per else "-"


def _cases(n: int) -> str:
    return "1 case" if n == 1 else f"{n} cases"
