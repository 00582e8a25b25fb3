"""``ipcbench export --format pyperf RESULTS... -o/--out out.json [--force]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ipcbench.analysis.export import FORMATS, export_pyperf
from ipcbench.cli.common import add_out_argument, require_out

RESULTS_HELP = "a run's .csv, a machine folder (results/<machine-id>/) or the results folder"


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "export",
        help="convert result CSVs to pyperf JSON (for pyperf stats / compare_to)",
        description=(
            "Convert ipcbench result CSVs into pyperf JSON: one benchmark per case (ok rows), "
            "named by its parameters; values are seconds per message (per round trip for "
            "pingpong), one per repeat. Then: python -m pyperf compare_to a.json b.json"
        ),
    )
    parser.add_argument("results", metavar="RESULTS", type=Path, nargs="+", help=RESULTS_HELP)
    parser.add_argument(
        "--format", choices=FORMATS, default="pyperf", help="output format (default: pyperf)"
    )
    add_out_argument(
        parser, "file to write (.json, or .json.gz)", metavar="FILE.json", required=True
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    parser.set_defaults(func=main)
    return parser


def main(args: argparse.Namespace) -> int:
    out = require_out(args, "export")
    count = export_pyperf(args.results, out, force=args.force)
    print(f"wrote {count} benchmark(s) to {out} (pyperf JSON)")
    return 0
