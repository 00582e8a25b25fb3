"""``ipcbench compare A B [C ...] [--normalize BASELINE] [--min-effect PCT] [-o out.csv]``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipcbench.analysis.compare import ALPHA, MIN_EFFECT, Comparison, compare
from ipcbench.cli.common import add_command
from ipcbench.cli.summarize import (
    METRIC_UNITS,
    SubParsers,
    add_output_arguments,
    check_output,
    constant_line,
    fmt_level,
    fmt_number,
    fmt_range,
    fmt_ratio,
    format_table,
    param_cells,
    print_warnings,
    shown_params,
    write_csv,
)
from ipcbench.results.loader import load

if TYPE_CHECKING:
    import pandas as pd

SET_HELP = "a run's .csv or a machine folder (results/<machine-id>/: all its runs pooled)"
Columns = list[tuple[str, Callable[[Mapping[str, Any]], str]]]


HELP = "compare result sets case by case (time ratios, exact intervals, FDR-controlled verdicts)"
# argparse re-wraps a description: its line breaks here do not show
DESCRIPTION = """\
Match cases across result sets by their parameters and show, for each set after the first (A),
the time ratio to A: > 1 means slower than A (latency ratio, or inverse throughput ratio).
Interval: exact Hodges-Lehmann interval of the ratio with its real confidence level (a 'range'
where too few repeats allow 95%). p: Mann-Whitney U on the repeats; q: Benjamini-Hochberg
adjusted over the cases compared with each set. A case is called slower/faster ('*') only when q
< 0.05, the interval excludes 1 and the ratio differs from 1 by at least --min-effect (with 3
repeats each p cannot go below 0.1: take 5 or more)."""


def register(sub: SubParsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = add_command(sub, "compare", main, HELP, DESCRIPTION)
    parser.add_argument("a", metavar="A", type=Path, help=f"reference set: {SET_HELP}")
    parser.add_argument("others", metavar="B", type=Path, nargs="+", help="sets compared to A")
    parser.add_argument(
        "--normalize",
        metavar="BASELINE",
        help="divide each set's figures by its own BASELINE transport (e.g. os_pipe) at the "
        "same pattern and payload size first (repeat by repeat, so both noises count): "
        "compares the shape, not the raw speed",
    )
    parser.add_argument(
        "--min-effect",
        metavar="PCT",
        type=_percent,
        default=MIN_EFFECT,
        help="smallest change of the time ratio called slower or faster, in percent "
        f"(default: {MIN_EFFECT * 100:g}%%)",
    )
    add_output_arguments(parser)
    return parser


def main(args: argparse.Namespace) -> int:
    check_output(args.output, args.force)
    paths = [args.a, *args.others]
    frames = [load(p) for p in paths]
    result = compare(
        frames,
        set_labels(paths),
        normalize=args.normalize,
        seed=args.seed,
        min_effect=args.min_effect,
    )
    print(render_comparison(result, args.normalize, args.min_effect))
    print_warnings(result.warnings)
    if args.output is not None:
        write_csv(result.cases, args.output, force=args.force)
    return 0


def _percent(text: str) -> float:
    """'5' or '5%' -> 0.05 (argparse type of --min-effect)."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0 <= value < 1000:
        raise argparse.ArgumentTypeError(f"--min-effect must be in [0, 1000) %, got {text}")
    return value / 100


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


def render_comparison(
    result: Comparison, normalize: str | None, min_effect: float = MIN_EFFECT
) -> str:
    if result.cases.empty:
        return "no cases in common: nothing to compare"
    return "\n\n".join(
        [
            _legend(result, normalize, min_effect),
            _cases_table(result.cases),
            _transport_table(result.by_transport),
        ]
    )


def _legend(result: Comparison, normalize: str | None, min_effect: float) -> str:
    a_set = result.cases["a_set"].iloc[0]
    text = (
        f"A = {a_set}. time ratio > 1: slower than A. interval: exact (Hodges-Lehmann) interval "
        "of the ratio at its real level ('range': fewer repeats than 95% needs). p: "
        "Mann-Whitney U; q: Benjamini-Hochberg adjusted per set. *: called slower/faster: "
        f"q < {ALPHA}, interval excludes 1 and ratio at least {min_effect:.0%} from 1."
    )
    if normalize:
        text += (
            f"\nShape comparison: ratios use each repeat divided by the same repeat of its "
            f"set's own {normalize} at the same pattern and payload size (medians shown are raw)."
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
        ("interval", lambda r: fmt_range(r["ci_lo"], r["ci_hi"], fmt_ratio)),
        ("level", lambda r: fmt_level(r["ci_level"], r["ci_is_range"])),
        ("p", lambda r: fmt_number(r["p_value"], digits=2)),
        ("q", lambda r: fmt_number(r["q_value"], digits=2)),
        ("verdict", lambda r: str(r["decision"])),
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
