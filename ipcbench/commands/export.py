"""``ipcbench export --format pyperf RESULTS... -o out.json [--force]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ipcbench.export import FORMATS, export_pyperf

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
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="file to write (.json, or .json.gz)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite the -o file if it exists")
    parser.set_defaults(func=main)
    return parser


def main(args: argparse.Namespace) -> int:
    count = export_pyperf(args.results, args.output, force=args.force)
    print(f"wrote {count} benchmark(s) to {args.output} (pyperf JSON)")
    return 0
