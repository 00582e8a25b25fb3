"""``ipcbench export --format pyperf RESULTS... -o/--out out.json [--force]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ipcbench.analysis.export import FORMATS, export_pyperf
from ipcbench.cli.common import SubParsers, add_command, add_out_argument, require_out

HELP = "convert result CSVs to pyperf JSON (for pyperf stats / compare_to)"
# argparse re-wraps a description: its line breaks here do not show
DESCRIPTION = """\
Convert ipcbench result CSVs into pyperf JSON: one benchmark per case (ok rows), named by its
parameters; values are seconds per message (per round trip for pingpong), one per repeat. Then:
python -m pyperf compare_to a.json b.json"""


def register(sub: SubParsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = add_command(sub, "export", main, HELP, DESCRIPTION, results="+", results_type=Path)
    parser.add_argument(
        "--format", choices=FORMATS, default="pyperf", help="output format (default: pyperf)"
    )
    add_out_argument(
        parser, "file to write (.json, or .json.gz)", metavar="FILE.json", required=True
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    return parser


def main(args: argparse.Namespace) -> int:
    out = require_out(args, "export")
    count = export_pyperf(args.results, out, force=args.force)
    print(f"wrote {count} benchmark(s) to {out} (pyperf JSON)")
    return 0
