"""One machine's results as a self-contained HTML page and a Markdown version.

Sections: first the decision map (winner or tie group per payload size and shape, crossovers
that are significant at both neighbouring sizes, Pipe vs Queue vs Manager ratios: see
``advise``), machine metadata, key findings (computed from the data), a recommendation table
(best transport per pattern, payload size and process count, with its margin and whether the
margin is significant), put/get calling styles against blocking calls (when measured), CPython
versions side by side (with --pythons), with
several machines a Machines section (headline figures per machine, absolute and relative to its
own raw_pipe floor, and where they or the advice differ), every figure, stability warnings,
failed cases. Every statement about one machine is one Benjamini-Hochberg family
(``analyse``). The report is built as a list of blocks rendered twice (``to_html``,
``to_markdown``), so both versions say the same thing. Figures are written beside the report as
PNG + SVG (the Markdown links the PNGs; the HTML embeds them as base64, so the .html file alone
is complete).

This module assembles the sections and writes the files (``write_report``); the parts live
beside it: ``analysis`` (the one tested family), ``findings`` (key-finding sentences),
``calls`` (the put/get calling styles section), ``pythons`` (CPython versions side by side,
with --pythons), ``startup`` (costs paid once), ``tables``
(machine, recommendations, failed cases, stability lines) and ``blocks`` (the block types and
their HTML and Markdown renderings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from ipcbench.analysis import advise
from ipcbench.errors import IpcbenchError
from ipcbench.views import plots
from ipcbench.views.axes import figure_notes, skip_reason
from ipcbench.views.figures.comparison import comparison_figure
from ipcbench.views.figures.decision_map import figure_decision_map
from ipcbench.views.figures.machines import figure_machines
from ipcbench.views.inputs import MachineResults
from ipcbench.views.report.analysis import (
    Analysis,
    analyse,
    records,
)
from ipcbench.views.report.blocks import (
    Block,
    Bullets,
    FigureBlock,
    Heading,
    Paragraph,
    Table,
    to_html,
    to_markdown,
)
from ipcbench.views.report.calls import call_blocks
from ipcbench.views.report.findings import TEST_TEXT, key_findings
from ipcbench.views.report.pythons import python_blocks
from ipcbench.views.report.startup import startup_blocks
from ipcbench.views.report.tables import (
    failed_table,
    machine_table,
    recommendation_table,
    stability_lines,
)

ALPHA = 0.05
MAX_LISTED = 40
HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"
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
    "calls": "Queue-type channels with each put/get calling style: blocking, blocking with a "
    "timeout (retried when it expires) and nowait (retried on Full/Empty), per payload size.",
    "comparison": "This machine (A) against the others: time ratios with 95% CIs (pale bars "
    "are not significant) and the shape after normalising by a baseline transport.",
}


def _capped(items: Sequence[str]) -> list[str]:
    if len(items) <= MAX_LISTED:
        return list(items)
    return [*items[:MAX_LISTED], f"... and {len(items) - MAX_LISTED} more"]


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
            "Per pattern, payload size, setting (payload kind, start method, Python where "
            "several were measured, placement) and "
            "producers \u00d7 consumers, floors excluded, by median over ok repeats of the "
            "pattern's primary metric. A channel is named only when it beats every other "
            f"channel of its row ({TEST_TEXT}); otherwise the row lists the tie group: every "
            "channel not significantly slower than the best. Interval: exact order-statistic "
            "interval of the median with its real level (a range below 6 repeats)."
        ),
        recommendations if recommendations.rows else Paragraph("No successful rows to rank."),
        *call_blocks(df, analysis),
        *python_blocks(df, analysis),
        *startup_blocks(df),
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
    try:
        out_dir.mkdir(parents=True, exist_ok=True)  # also when no figure is drawn
    except OSError as exc:
        raise IpcbenchError(f"cannot write the report to {out_dir}: {exc.strerror}") from None
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
