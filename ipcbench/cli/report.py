"""``ipcbench report RESULTS... [-o/--out DIR]``: a self-contained HTML page and a Markdown version.

One report per machine in ``plots/<machine-id>/`` (report.html, report.md and the figures they
show). With results of several machines every report also compares its machine with the others.
pandas and matplotlib are imported inside ``main`` only.
"""

from __future__ import annotations

import argparse

from ipcbench.cli.common import SubParsers, add_command, add_out_argument
from ipcbench.cli.plot import out_dir_for

HELP = "write an HTML + Markdown report (findings, recommendations, figures) per machine"
# argparse re-wraps a description: its line breaks here do not show
DESCRIPTION = """\
Write report.html (self-contained: figures embedded) and report.md (figures as PNG files beside
it) with the machine's metadata, key findings computed from the data, the best transport per
payload size and process count with its margin and significance, all figures, stability warnings
and failed cases."""


def register(sub: SubParsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = add_command(sub, "report", main, HELP, DESCRIPTION, results="+")
    add_out_argument(
        parser,
        "output folder (default: plots/<machine-id>/; with several "
        "machines one subfolder per machine)",
        metavar="DIR",
    )
    return parser


def main(args: argparse.Namespace) -> int:
    from ipcbench.views import plots, report

    machines = plots.load_machines(args.results)
    for i, machine in enumerate(machines):
        out = out_dir_for(args.out, machine.machine_id, len(machines))
        others = machines[:i] + machines[i + 1 :]
        files = report.write_report(machine, out, others)
        print(files.html)
        print(files.markdown)
    return 0
