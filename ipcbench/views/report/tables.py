"""The report's tables: machine metadata, recommendations, failed cases; and the stability
warnings (``summary.grouped_warnings``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ipcbench.analysis import ranking, stats, summary
from ipcbench.results.schema import human_size
from ipcbench.views.report.analysis import (
    RECOMMEND_PATTERNS,
    Analysis,
    analyse,
    records,
)
from ipcbench.views.report.blocks import (
    Table,
)
from ipcbench.views.report.findings import figure_text, pq_text


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
        ("Pythons measured (--pythons)", _pythons_text(df)),
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


def _pythons_text(df: pd.DataFrame) -> str:
    """'3.10 (CPython 3.10.13, release), 3.11 (...)' when the rows hold several interpreters."""
    if "python" not in df or "python_version" not in df:
        return ""
    found = df[df["python"].astype("string").fillna("") != ""]
    parts = []
    for tag, part in found.groupby("python", sort=False):
        facts = [_mode(part, c) for c in ("python_implementation", "python_version")]
        build = _mode(part, "python_build")
        parts.append((str(tag), f"{tag} ({_join(facts)}{', ' + str(build) if build else ''})"))
    ordered = sorted(parts, key=lambda p: [int(n) for n in p[0].rstrip("td").split(".")])
    return ", ".join(text for _, text in ordered) if len(ordered) > 1 else ""


def _mode(df: pd.DataFrame, column: str) -> Any:
    if column not in df.columns or not df[column].notna().any():
        return None
    return df[column].dropna().mode().iloc[0]


def _join(values: Iterable[Any], sep: str = " ") -> str:
    return sep.join(str(v) for v in values if v not in (None, ""))


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
    figure = f"{figure_text(best, g.metric)} ({ranking.interval_text(best, g.metric)})"
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
    tested = ("yes" if up.vs_best.differs else "no") + f" ({pq_text(up.vs_best)})"
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
