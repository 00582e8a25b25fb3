"""``ipcbench plot RESULTS... [--figures NAME,...] [-o/--out DIR] [--formats png,svg]``.

Figures are written to ``plots/<machine-id>/<figure>.<format>`` (regenerated on every call;
result files are only read). pandas and matplotlib are imported inside ``main`` only.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ipcbench.cli.common import SubParsers, add_command, add_out_argument
from ipcbench.errors import IpcbenchError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ipcbench.views.inputs import MachineResults

PLOTS_ROOT = Path("plots")
COMPARISON_DIR = "comparison"
FIGURE_NAMES = (
    "throughput",
    "latency",
    "latency_distribution",
    "scaling",
    "backpressure",
    "proxy",
    "start_method_placement",
    "cost_breakdown",
    "calls",
    "comparison",
)
FORMATS = ("png", "svg", "pdf")


HELP = "draw figures (PNG + SVG) from result files into plots/<machine-id>/"
# argparse re-wraps a description: its line breaks here do not show
DESCRIPTION = """\
Draw figures from result files: throughput and latency vs payload size, latency distribution,
scaling, backpressure, Manager proxy cost, start method and placement, cost breakdown; with
results of several machines also a cross-CPU comparison (the first machine is the reference).
Figures without data are skipped with the reason."""


def register(sub: SubParsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = add_command(sub, "plot", main, HELP, DESCRIPTION, results="+")
    parser.add_argument(
        "--figures",
        action="append",
        metavar="NAME,...",
        help=f"figures to draw (default: all): {', '.join(FIGURE_NAMES)}",
    )
    add_out_argument(
        parser,
        "output folder (default: plots/<machine-id>/; with several "
        "machines one subfolder per machine)",
        metavar="DIR",
    )
    parser.add_argument(
        "--formats",
        default="png,svg",
        metavar="FMT,...",
        help=f"file formats (default: png,svg; valid: {', '.join(FORMATS)})",
    )
    return parser


def split_names(values: Sequence[str] | None, valid: Sequence[str], kind: str) -> list[str]:
    """Comma-separated (and repeated) option values, checked against ``valid``."""
    if not values:
        return list(valid)
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    for name in names:
        if name not in valid:
            raise IpcbenchError(f"unknown {kind} {name!r}; valid: {', '.join(valid)}")
    if not names:
        raise IpcbenchError(f"no {kind} given; valid: {', '.join(valid)}")
    return list(dict.fromkeys(names))


def out_dir_for(out: Path | None, machine_id: str, n_machines: int) -> Path:
    """plots/<machine-id>, or --out itself for one machine, or --out/<machine-id> for several."""
    if out is not None and out.exists() and not out.is_dir():
        raise IpcbenchError(f"--out {out} is a file; pass a folder for the figures")
    if out is None:
        return PLOTS_ROOT / machine_id
    return out if n_machines == 1 else out / machine_id


def main(args: argparse.Namespace) -> int:
    from ipcbench.views import plots

    names = split_names(args.figures, FIGURE_NAMES, "figure")
    formats = split_names([args.formats], FORMATS, "format")
    machines = plots.load_machines(args.results)
    for machine in machines:
        out = out_dir_for(args.out, machine.machine_id, len(machines))
        _plot_machine(machine, [n for n in names if n in plots.FIGURES], out, formats)
    if plots.COMPARISON_FIGURE in names:
        fig = plots.comparison_figure(machines)
        cmp_dir = (args.out or PLOTS_ROOT) / COMPARISON_DIR if len(machines) > 1 else None
        _emit(plots.COMPARISON_FIGURE, fig, cmp_dir, formats, quiet=args.figures is None)
    return 0


def _plot_machine(
    machine: MachineResults, names: list[str], out: Path, formats: Sequence[str]
) -> None:
    from ipcbench.views import plots

    samples, note = machine.samples() if "latency_distribution" in names else (None, None)
    if note:
        print(f"note: {note}")
    for name, fig in plots.render(machine.df, names, machine.meta, samples).items():
        _emit(name, fig, out, formats)


def _emit(
    name: str, fig: Figure, out: Path | None, formats: Sequence[str], quiet: bool = False
) -> None:
    """Save a figure and print its paths, or print why it is skipped (unless quiet)."""
    from ipcbench.views import plots

    reason = plots.skip_reason(fig)
    if reason is not None or out is None:
        if not quiet:
            print(f"skipped {name}: {reason}")
        return
    for path in plots.save(fig, out, name, formats):
        print(path)
