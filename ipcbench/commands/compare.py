"""``ipcbench compare A B [C ...] [--normalize BASELINE] [-o out.csv]``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipcbench.commands.summarize import (
    METRIC_UNITS,
    SubParsers,
    add_output_arguments,
    check_output,
    constant_line,
    fmt_number,
    fmt_range,
    fmt_ratio,
    format_table,
    param_cells,
    print_warnings,
    shown_params,
    write_csv,
)
from ipcbench.compare import ALPHA, Comparison, compare
from ipcbench.loader import load

if TYPE_CHECKING:
    import pandas as pd

SET_HELP = "a run's .csv or a machine folder (results/<machine-id>/: all its runs pooled)"
Columns = list[tuple[str, Callable[[Mapping[str, Any]], str]]]


def register(sub: SubParsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "compare",
        help="compare result sets case by case (time ratios with 95%% CI and significance)",
        description=(
            "Match cases across result sets by their parameters and show, for each set after "
            "the first (A), the time ratio to A: > 1 means slower than A (latency ratio, or "
            "inverse throughput ratio). 95% CI: seeded bootstrap of the ratio of medians; "
            "'*': Mann-Whitney U p < 0.05 on the repeats (with 3 repeats each p cannot go "
            "below 0.1: take 5 or more)."
        ),
    )
    parser.add_argument("a", metavar="A", type=Path, help=f"reference set: {SET_HELP}")
    parser.add_argument("others", metavar="B", type=Path, nargs="+", help="sets compared to A")
    parser.add_argument(
        "--normalize",
        metavar="BASELINE",
        help="divide each set's figures by its own BASELINE transport (e.g. os_pipe) at the "
        "same pattern and payload size first: compares the shape, not the raw speed",
    )
    add_output_arguments(parser)
    parser.set_defaults(func=main)
    return parser


def main(args: argparse.Namespace) -> int:
    check_output(args.output, args.force)
    paths = [args.a, *args.others]
    frames = [load(p) for p in paths]
    result = compare(frames, set_labels(paths), normalize=args.normalize, seed=args.seed)
    print(render_comparison(result, args.normalize))
    print_warnings(result.warnings)
    if args.output is not None:
        write_csv(result.cases, args.output, force=args.force)
    return 0


def set_labels(paths: Sequence[Path]) -> list[str]:
    """A folder is named by itself (the machine id); a run CSV by ``<machine-id>/<stamp>``."""
    labels: list[str] = []
    for path in paths:
        resolved = path.resolve()
        if path.is_dir():
            label = resolved.name
        else:
            label = f"{resolved.parent.name}/{resolved.name.removesuffix('.csv')}"
        labels.append(label if label not in labels else f"{label}#{len(labels) + 1}")
    return labels


def render_comparison(result: Comparison, normalize: str | None) -> str:
    if result.cases.empty:
        return "no cases in common: nothing to compare"
    return "\n\n".join(
        [
            _legend(result, normalize),
            _cases_table(result.cases),
            _transport_table(result.by_transport),
        ]
    )


def _legend(result: Comparison, normalize: str | None) -> str:
    a_set = result.cases["a_set"].iloc[0]
    text = (
        f"A = {a_set}. time ratio > 1: slower than A. 95% CI: bootstrap of the ratio of medians. "
        f"*: Mann-Whitney U p < {ALPHA}."
    )
    if normalize:
        text += (
            f"\nShape comparison: ratios use each set's figures divided by its own {normalize} "
            "at the same pattern and payload size (medians shown are raw)."
        )
    return text


def _cases_table(cases: pd.DataFrame) -> str:
    records = cases.to_dict("records")
    params, constant = shown_params(records)
    columns: Columns = [
        *param_cells(params),
        ("set", lambda r: str(r["b_set"])),
        ("metric", lambda r: METRIC_UNITS.get(r["metric"], str(r["metric"]))),
        ("A median", lambda r: fmt_number(r["a_median"])),
        ("set median", lambda r: fmt_number(r["b_median"])),
        ("time ratio", lambda r: fmt_ratio(r["time_ratio"]) + _mark(r)),
        ("95% CI", lambda r: fmt_range(r["ci95_lo"], r["ci95_hi"], fmt_ratio)),
        ("p", lambda r: fmt_number(r["p_value"], digits=2)),
        ("n A/B", lambda r: f"{r['a_n']}/{r['b_n']}"),
    ]
    return constant_line(constant) + format_table(columns, records)


def _mark(row: Mapping[str, Any]) -> str:
    return "*" if row["significant"] else " "


def _transport_table(summary: pd.DataFrame) -> str:
    columns: Columns = [
        ("set", lambda r: str(r["b_set"])),
        ("transport", lambda r: str(r["transport"])),
        ("cases", lambda r: str(r["n_cases"])),
        ("geomean time ratio", lambda r: fmt_ratio(r["geomean_time_ratio"])),
        ("min", lambda r: fmt_ratio(r["min_time_ratio"])),
        ("max", lambda r: fmt_ratio(r["max_time_ratio"])),
        ("slower*", lambda r: str(r["n_slower"])),
        ("faster*", lambda r: str(r["n_faster"])),
    ]
    return "per transport:\n" + format_table(columns, summary.to_dict("records"))
