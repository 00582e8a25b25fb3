"""One machine's results as a self-contained HTML page and a Markdown version.

Sections: machine metadata, key findings (computed from the data), a recommendation table (best
transport per pattern, payload size and process count, with its margin and whether the margin
is significant), every figure, stability warnings, failed cases. The report is built as a list
of blocks rendered twice (``to_html``, ``to_markdown``), so both versions say the same thing.
Figures are written beside the report as PNG + SVG (the Markdown links the PNGs; the HTML embeds
them as base64, so the .html file alone is complete).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ipcbench import plots, stats
from ipcbench.params import human_size

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
    "cost_breakdown": "Where the time per message goes: pickling, the kernel's copy, and the "
    "rest (locks, feeder threads, framing) at one payload size.",
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
# Case tables: per (size, processes) the ok-repeat values of each transport


@dataclass(frozen=True)
class Ranked:
    """Transports at one (pattern, size, producers, consumers), best first."""

    pattern: str
    payload_bytes: int
    producers: int
    consumers: int
    metric: str
    higher_is_better: bool
    values: dict[str, list[float]]  # transport -> ok repeat values, best median first


def ranked_cases(df: pd.DataFrame, pattern: str, floors: bool = False) -> list[Ranked]:
    """Rank transports by the pattern's primary metric at every size and process count."""
    metric, higher = stats.primary_metric(pattern)
    rows, _ = plots.fix_dims(
        plots.pattern_rows(df, pattern),
        keep=("transport", "payload_bytes", "producers", "consumers"),
    )
    if not floors:
        rows = rows[~rows["transport"].isin(plots.FLOORS)]
    rows = rows[(rows["status"] == "ok") & rows[metric].notna()] if metric in rows else rows[:0]
    out = []
    for (size, prod, cons), grp in rows.groupby(["payload_bytes", "producers", "consumers"]):
        values = {str(t): [float(v) for v in g[metric]] for t, g in grp.groupby("transport")}
        order = sorted(values, key=lambda t: stats.median(values[t]), reverse=higher)
        out.append(
            Ranked(
                pattern,
                int(size),
                int(prod),
                int(cons),
                metric,
                higher,
                {t: values[t] for t in order},
            )
        )
    return out


def margin(ranked: Ranked, better: str, worse: str) -> tuple[float, float]:
    """(factor by which ``better`` beats ``worse`` (>= 1 if it does), Mann-Whitney p)."""
    a, b = stats.median(ranked.values[better]), stats.median(ranked.values[worse])
    factor = (a / b if ranked.higher_is_better else b / a) if a and b else math.nan
    p_value = stats.mann_whitney_u(ranked.values[better], ranked.values[worse]).p_value
    return factor, p_value


def fmt_metric(value: float, metric: str) -> str:
    if metric.endswith("_us"):
        return f"{_num(value)} \u00b5s"
    if metric == "mb_per_s":
        return f"{_num(value)} MB/s"
    if metric == "msgs_per_s":
        return f"{_si(value)} msgs/s"
    return _num(value)


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _si(value: float) -> str:
    for factor, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def _significance(p_value: float) -> str:
    return f"p = {p_value:.2g}" if p_value < ALPHA else f"not significant, p = {p_value:.2g}"


# ---------------------------------------------------------------------------------------------
# Key findings


def key_findings(df: pd.DataFrame) -> list[str]:
    """Short sentences computed from the data (comparisons at the smallest and largest sizes)."""
    findings: list[str] = []
    for pattern, what in (("pingpong", "round-trip latency"), ("stream", "throughput")):
        ranked = ranked_cases(df, pattern)
        ranked = [r for r in ranked if (r.producers, r.consumers) == (1, 1)] or ranked
        if not ranked:
            continue
        ends = [ranked[0], ranked[-1]] if len(ranked) > 1 else ranked[:1]
        findings.extend(_best_worst(r, what) for r in ends if len(r.values) > 1)
        findings.extend(
            _pair_sentence(r, a, b)
            for r in ends[:1]
            for a, b in HEADLINE_PAIRS
            if a in r.values and b in r.values
        )
    findings.extend(_floor_finding(df))
    findings.extend(_proxy_finding(df))
    findings.extend(_placement_finding(df))
    return findings or ["no finding: no successful pingpong, stream or proxy_ops rows"]


def _best_worst(r: Ranked, what: str) -> str:
    names = list(r.values)
    best, worst = names[0], names[-1]
    factor, p_value = margin(r, best, worst)
    return (
        f"At {human_size(r.payload_bytes)}, {best} has the best {what} "
        f"({fmt_metric(stats.median(r.values[best]), r.metric)}), {factor:.1f}\u00d7 "
        f"{'faster' if factor >= 1 else 'slower'} than {worst} "
        f"({fmt_metric(stats.median(r.values[worst]), r.metric)}; {_significance(p_value)})."
    )


def _pair_sentence(r: Ranked, a: str, b: str) -> str:
    factor, p_value = margin(r, a, b)
    if factor < 1:
        a, b, factor = b, a, 1 / factor
    if not p_value < ALPHA:  # a difference the repeats cannot tell from noise is no finding
        return (
            f"{a} and {b} do not differ significantly at {human_size(r.payload_bytes)} on "
            f"this CPU ({r.pattern}: medians {factor:.1f}\u00d7 apart, p = {p_value:.2g})."
        )
    return (
        f"{a} is {factor:.1f}\u00d7 faster than {b} at {human_size(r.payload_bytes)} on "
        f"this CPU ({r.pattern}, {_significance(p_value)})."
    )


def _floor_finding(df: pd.DataFrame) -> list[str]:
    ranked = ranked_cases(df, "stream", floors=True)
    ranked = [r for r in ranked if (r.producers, r.consumers) == (1, 1)]
    if not ranked:
        return []
    r = ranked[-1]
    floors = [f for f in ("raw_socketpair", "raw_pipe") if f in r.values]
    real = [t for t in r.values if t not in plots.FLOORS]
    if not floors or not real:
        return []
    best, floor = real[0], max(floors, key=lambda f: stats.median(r.values[f]))
    share = stats.median(r.values[best]) / stats.median(r.values[floor])
    return [
        f"At {human_size(r.payload_bytes)}, the fastest transport ({best}) reaches "
        f"{share:.0%} of the {floor} floor's throughput: the rest is the cost of the "
        "multiprocessing machinery."
    ]


def _proxy_finding(df: pd.DataFrame) -> list[str]:
    pings = {r.payload_bytes: r for r in ranked_cases(df, "pingpong")}
    rows, _ = plots.fix_dims(plots.pattern_rows(df, "proxy_ops"), keep=("transport", "op"))
    ok = rows[(rows["status"] == "ok") & rows["lat_p50_us"].notna()]
    if ok.empty:
        return []
    per_op = ok.groupby(["transport", "op"])["lat_p50_us"].median().sort_values()
    (transport, op), cheapest = next(iter(per_op.items()))
    (t_max, op_max), dearest = list(per_op.items())[-1]
    text = (
        f"Manager proxy operations cost {cheapest:.3g} \u00b5s ({transport} {op}) to "
        f"{dearest:.3g} \u00b5s ({t_max} {op_max}) each (p50)"
    )
    size = int(ok["payload_bytes"].iloc[0])
    ping = pings.get(size)
    if ping is not None and "pipe" in ping.values:
        rtt = stats.median(ping.values["pipe"])
        text += f", {cheapest / rtt:.1f}\u00d7 to {dearest / rtt:.1f}\u00d7 a Pipe round trip"
    return [text + f" at {human_size(size)}."]


def _placement_finding(df: pd.DataFrame) -> list[str]:
    """Split (parent and child on different CPUs) vs same CPU (else unpinned) round trips."""
    rows = plots.pattern_rows(df, "pingpong")
    rows = rows[(rows["status"] == "ok") & ~rows["transport"].isin(plots.IN_PROCESS_FLOORS)]
    placements = set(rows["placement"])
    other = next((p for p in ("same", "unpinned") if p in placements), None)
    if "split" not in placements or other is None:
        return []
    rows = rows[rows["placement"].isin(["split", other])]
    size = plots.nearest_size(rows["payload_bytes"], 64)
    rows, _ = plots.fix_dims(rows[rows["payload_bytes"] == size], keep=("transport", "placement"))
    p50 = rows.groupby(["transport", "placement"])["lat_p50_us"].median().unstack().dropna()
    if p50.empty or not {other, "split"} <= set(p50.columns):
        return []
    ratio = (p50["split"] / p50[other]).sort_values()
    where = "on one CPU ('same')" if other == "same" else "unpinned"
    return [
        f"CPU placement matters: at {human_size(int(size or 0))} a round trip across CPUs "
        f"('split') takes {ratio.iloc[0]:.1f}\u00d7 ({ratio.index[0]}) to "
        f"{ratio.iloc[-1]:.1f}\u00d7 ({ratio.index[-1]}) as long as {where}."
    ]


# ---------------------------------------------------------------------------------------------
# Recommendations


def fixed_dims_text(df: pd.DataFrame) -> str:
    """The parameter values the rankings hold fixed (the most common ones), as a phrase."""
    _, chosen = plots.fix_dims(
        plots.pattern_rows(df, *RECOMMEND_PATTERNS),
        keep=("transport", "payload_bytes", "producers", "consumers"),
    )
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in chosen.items()) or "none"


def recommendation_table(df: pd.DataFrame) -> Table:
    """Best transport per pattern, payload size and producers x consumers, with its margin over
    the runner-up and whether that margin is significant (Mann-Whitney U, p < 0.05)."""
    headers = [
        "pattern (metric)",
        "payload",
        "producers \u00d7 consumers",
        "best",
        "median",
        "runner-up",
        "margin",
        "significant",
    ]
    rows = []
    for pattern in RECOMMEND_PATTERNS:
        for r in ranked_cases(df, pattern):
            rows.append(_recommendation_row(r))
    return Table(headers, rows)


def _recommendation_row(r: Ranked) -> list[str]:
    names = list(r.values)
    best = names[0]
    cells = [
        f"{r.pattern} ({r.metric})",
        human_size(r.payload_bytes),
        f"{r.producers}\u00d7{r.consumers}",
        best,
        fmt_metric(stats.median(r.values[best]), r.metric),
    ]
    if len(names) < 2:
        return [*cells, "\u2014", "\u2014", "only one transport"]
    factor, p_value = margin(r, best, names[1])
    verdict = f"yes (p = {p_value:.2g})" if p_value < ALPHA else f"no (p = {p_value:.2g})"
    return [*cells, names[1], f"{factor:.2f}\u00d7", verdict]


# ---------------------------------------------------------------------------------------------
# Warnings and failures


def stability_lines(df: pd.DataFrame, meta: Mapping[str, Any]) -> list[str]:
    """Run warnings from the metadata, then per-case problems (CV, too few repeats, short runs)
    of cases with at least one ok repeat (cases that all failed are listed as failed cases)."""
    lines = [str(w) for w in meta.get("warnings") or []]
    cases = stats.group_cases(df.to_dict("records")).values()
    measured = [row for rows in cases if stats.ok_rows(rows) for row in rows]
    lines += stats.stability_warnings(measured)
    return list(dict.fromkeys(lines))


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
        reason = plots.skip_reason(fig)
        if reason is not None:
            skipped.append(f"{name}: {reason}")
            continue
        title = fig.get_suptitle().split("\n")[0]
        blocks.append(
            FigureBlock(name, title, pngs[name], CAPTIONS.get(name, ""), plots.figure_notes(fig))
        )
    if skipped:
        blocks += [Paragraph("Figures not drawn:"), Bullets(skipped)]
    return blocks


def report_blocks(
    machine: plots.MachineResults,
    figures: Mapping[str, Figure],
    pngs: Mapping[str, bytes],
    notes: Sequence[str] = (),
) -> list[Block]:
    df, meta = machine.df, machine.meta
    failed = failed_table(df)
    warnings = stability_lines(df, meta)
    recommendations = recommendation_table(df)
    return [
        Heading(f"ipcbench report: {machine.machine_id}", 1),
        Heading("Machine"),
        machine_table(meta, df),
        Heading("Key findings"),
        Bullets(key_findings(df)),
        Heading("Recommendations"),
        Paragraph(
            "Best transport per pattern, payload size and producers \u00d7 consumers (floors "
            "excluded), by median over ok repeats of the pattern's primary metric. Margin: "
            "how much better than the runner-up; significant: Mann-Whitney U on the "
            "repeats, p < 0.05 (needs at least 4 repeats each). Other parameters fixed "
            f"at their most common values: {fixed_dims_text(df)}."
        ),
        recommendations if recommendations.rows else Paragraph("No successful rows to rank."),
        Heading("Figures"),
        *figure_blocks(figures, pngs),
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
    machine: plots.MachineResults,
    out_dir: Path,
    others: Sequence[plots.MachineResults] = (),
    names: Sequence[str] = tuple(plots.FIGURES),
) -> ReportFiles:
    """Draw the figures, save them (PNG + SVG) and write report.html and report.md to out_dir.

    ``others``: further machines; adds the cross-CPU comparison figure (this machine = A).
    """
    samples, samples_note = machine.samples()
    figures = plots.render(machine.df, names, machine.meta, samples)
    if others:
        figures[plots.COMPARISON_FIGURE] = plots.comparison_figure([machine, *others])
    paths, pngs = _save_figures(figures, out_dir)
    blocks = report_blocks(machine, figures, pngs, [samples_note] if samples_note else [])
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
        if plots.skip_reason(fig) is None:
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
