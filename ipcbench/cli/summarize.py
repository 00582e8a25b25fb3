"""``ipcbench summarize RESULTS... [-o out.csv]``: one line per case.

Also home of the small table/CSV output helpers shared with ``ipcbench compare``.
pandas is imported inside functions only, so ``ipcbench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipcbench.analysis import stats
from ipcbench.cli.common import SubParsers, add_command, add_out_argument
from ipcbench.errors import IpcbenchError
from ipcbench.results.loader import SOURCE_COLUMN, load_all, load_samples, sort_cases, typed_params
from ipcbench.results.schema import PARAM_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

METRIC_UNITS = {"lat_p50_us": "lat p50 [us]", "msgs_per_s": "msgs/s"}
ALWAYS_SHOWN = ("transport", "pattern", "payload_bytes")
WARNING_SEP = " | "
MAX_WARNINGS_SHOWN = 20


HELP = "one line per case: median, interval, p99, CV, failed repeats, warnings"
# argparse re-wraps a description: its line breaks here do not show
DESCRIPTION = """\
Summarise result files, one line per case. 'median' is the median over ok repeats of the case's
primary figure (latency p50 in us for pingpong/proxy_ops, msgs/s otherwise) with its exact
order-statistic interval and that interval's real confidence level (a 'range' when too few
repeats reach 95%: 5 repeats give min-max at 93.8%); p50/p99 [us] pool every message's latency
from the samples file and stay empty when too few samples support them (p99 needs 1000: at least
10 beyond it); CV is stdev/mean over repeats."""


def register(sub: SubParsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = add_command(sub, "summarize", main, HELP, DESCRIPTION, results="+")
    add_output_arguments(parser)
    return parser


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    add_out_argument(parser, "also write the table as CSV here", metavar="FILE.csv", dest="output")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help=argparse.SUPPRESS,  # unused: intervals are exact; kept so old command lines work
    )


def main(args: argparse.Namespace) -> int:
    check_output(args.output, args.force)
    frame = load_all(args.results)
    samples, notes = run_samples(frame)
    summary = summarize_frame(frame, samples, seed=args.seed)
    print(render_summary(summary))
    print_warnings(notes + percentile_notes(summary) + case_warnings(summary))
    if args.output is not None:
        write_csv(summary, args.output, force=args.force)
    return 0


def print_warnings(warnings: Sequence[str], limit: int = MAX_WARNINGS_SHOWN) -> None:
    """One ``warning:`` line each on stderr, at most ``limit`` of them plus a count."""
    for warning in warnings[:limit]:
        print(f"warning: {warning}", file=sys.stderr)
    if len(warnings) > limit:
        print(
            f"warning: ... {len(warnings) - limit} more; see the warnings column of the CSV (-o)",
            file=sys.stderr,
        )


# --- computation -------------------------------------------------------------------------------


def run_samples(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Samples of every run in ``frame`` and a note for each latency run without any."""
    import pandas as pd

    parts, notes = [], []
    for csv_path in frame[SOURCE_COLUMN].unique():
        part = load_samples(csv_path, missing_ok=True)
        run = frame[frame[SOURCE_COLUMN] == csv_path]
        if part.empty and run["pattern"].isin(stats.LATENCY_PATTERNS).any():
            notes.append(f"{csv_path} has no samples file: pooled p50/p99 not shown")
        parts.append(part)
    return pd.concat(parts, ignore_index=True), notes


def summarize_frame(
    frame: pd.DataFrame, samples: pd.DataFrame | None = None, *, seed: int = 0
) -> pd.DataFrame:
    """One row per (machine, case): ``stats.summarize_case`` plus ``machine_id``; runs of one
    machine are pooled. ``warnings`` are joined by ``WARNING_SEP``."""
    import pandas as pd

    by_row = _samples_by_row(samples)
    rows = []
    for machine, machine_rows in frame.groupby("machine_id", sort=True, dropna=False):
        for case_rows in stats.group_cases(machine_rows.to_dict("records")).values():
            lat = [
                by_row[key]
                for r in stats.ok_rows(case_rows)
                if (key := (str(r[SOURCE_COLUMN]), str(r["row_id"]))) in by_row
            ]
            row = stats.summarize_case(case_rows, lat, seed=seed)
            rows.append(
                {"machine_id": machine, **row, "warnings": WARNING_SEP.join(row["warnings"])}
            )
    return sort_cases(typed_params(pd.DataFrame(rows)), ["machine_id"])


def _samples_by_row(samples: pd.DataFrame | None) -> dict[tuple[str, str], Any]:
    """``{(source_csv, row_id): lat_ns array}``. The runner writes each row's samples as one
    block, so blocks are found by comparing neighbours (much faster than a groupby)."""
    import numpy as np

    if samples is None or samples.empty:
        return {}
    sources = samples[SOURCE_COLUMN].to_numpy(dtype=object)
    row_ids = samples["row_id"].to_numpy(dtype=object)
    lat_ns = samples["lat_ns"].to_numpy()
    changed = (sources[1:] != sources[:-1]) | (row_ids[1:] != row_ids[:-1])
    starts = [0, *(np.flatnonzero(changed) + 1), len(row_ids)]
    blocks: dict[tuple[str, str], list[Any]] = {}
    for begin, end in itertools.pairwise(starts):
        key = (str(sources[begin]), str(row_ids[begin]))
        blocks.setdefault(key, []).append(lat_ns[begin:end])
    return {key: np.concatenate(parts) for key, parts in blocks.items()}


def case_warnings(summary: pd.DataFrame) -> list[str]:
    """The summary's per-case warnings as labelled one-line messages."""
    multi = summary["machine_id"].nunique() > 1
    out = []
    for row in summary.to_dict("records"):
        where = f"{row['machine_id']}: " if multi else ""
        out += [f"{where}{stats.case_label(row)}: {w}" for w in split_warnings(row["warnings"])]
    return out


def percentile_notes(summary: pd.DataFrame) -> list[str]:
    """One note when some cases with samples have an empty pooled p99 (too few samples)."""
    if "n_samples" not in summary:
        return []
    have = summary[summary["n_samples"] > 0]
    short = int(have["lat_p99_us"].isna().sum())
    if not short:
        return []
    need = stats.min_samples_for_percentile(99)
    return [
        f"{short} case(s) have fewer than {need} pooled samples: p99 left empty (a percentile "
        f"needs >= {stats.MIN_TAIL_SAMPLES} samples beyond it); take more messages or repeats"
    ]


def split_warnings(joined: Any) -> list[str]:
    return [] if stats.is_na(joined) else str(joined).split(WARNING_SEP)


# --- rendering -----------------------------------------------------------------------------


def render_summary(summary: pd.DataFrame) -> str:
    records = summary.to_dict("records")
    params, constant = shown_params(records)
    columns: list[tuple[str, Callable[[Mapping[str, Any]], str]]] = [
        *param_cells(params),
        ("metric", lambda r: METRIC_UNITS.get(r["metric"], r["metric"])),
        ("median", lambda r: fmt_number(r["median"])),
        ("interval", lambda r: fmt_range(r["ci_lo"], r["ci_hi"])),
        ("level", lambda r: fmt_level(r["ci_level"], r["ci_is_range"])),
        ("CV [%]", lambda r: fmt_number(r["cv_pct"], digits=2)),
        ("p50 [us]", lambda r: fmt_number(r["lat_p50_us"])),
        ("p99 [us]", lambda r: fmt_number(r["lat_p99_us"])),
        ("ok", lambda r: str(r["n_ok"])),
        ("failed", lambda r: str(r["n_failed"])),
        ("warnings", lambda r: str(len(split_warnings(r["warnings"])))),
    ]
    if summary["machine_id"].nunique() > 1:
        columns.insert(0, ("machine", lambda r: str(r["machine_id"])))
    return constant_line(constant) + format_table(columns, records)


def shown_params(records: Sequence[Mapping[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """Parameter columns worth a table column (varying or always shown), and the constant rest."""
    shown, constant = [], {}
    for column in PARAM_COLUMNS:
        values = {param_text(column, r.get(column)) for r in records}
        if column in ALWAYS_SHOWN or len(values) > 1:
            shown.append(column)
        elif values != {"-"}:
            constant[column] = values.pop()
    return shown, constant


def param_text(column: str, value: Any) -> str:
    if column == "payload_bytes":
        return stats.format_bytes(value)
    return "-" if stats.is_na(value) else str(value)


def param_cells(params: Sequence[str]) -> list[tuple[str, Callable[[Mapping[str, Any]], str]]]:
    def cell(column: str) -> Callable[[Mapping[str, Any]], str]:
        return lambda r: param_text(column, r.get(column))

    return [("payload" if c == "payload_bytes" else c, cell(c)) for c in params]


def constant_line(constant: Mapping[str, str]) -> str:
    if not constant:
        return ""
    return "all cases: " + " ".join(f"{k}={v}" for k, v in constant.items()) + "\n"


def format_table(
    columns: Sequence[tuple[str, Callable[[Mapping[str, Any]], str]]],
    records: Sequence[Mapping[str, Any]],
) -> str:
    """An aligned plain-text table: text left-aligned, numbers right-aligned."""
    cells = [[fn(r) for _, fn in columns] for r in records]
    headers = [name for name, _ in columns]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    numeric = [all(_is_numeric(row[i]) for row in cells) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def _is_numeric(text: str) -> bool:
    """Numbers (with separators, a trailing significance mark or as ranges) and '-'."""
    parts = text.rstrip("* ").split(" - ")
    return all(
        p == "-" or p.replace(",", "").replace(".", "", 1).lstrip("-").isdigit() for p in parts
    )


def fmt_number(value: Any, digits: int = 4) -> str:
    """4 significant digits below 1000, thousands separators above; '-' for missing."""
    number = stats.to_float(value)
    if number is None or math.isinf(number):
        return "-"
    if abs(number) >= 1000:
        return f"{number:,.0f}"
    return f"{number:.{digits}g}"


def fmt_ratio(value: Any) -> str:
    """Ratios with two decimals ('2.00'); '-' for missing."""
    number = stats.to_float(value)
    return "-" if number is None or math.isinf(number) else f"{number:.2f}"


def fmt_level(level: Any, is_range: Any = False) -> str:
    """An interval's real confidence level: '96.9%', or '93.8% range' when it falls short of
    the 95 % aimed at; '-' when missing."""
    number = stats.to_float(level)
    if number is None:
        return "-"
    text = f"{number * 100:.3g}%"
    return f"{text} range" if bool(is_range) else text


def fmt_range(lo: Any, hi: Any, fmt: Callable[[Any], str] = fmt_number) -> str:
    if stats.to_float(lo) is None:
        return "-"
    return f"{fmt(lo)} - {fmt(hi)}"


# --- CSV output ------------------------------------------------------------------------------


def check_output(path: Path | None, force: bool) -> None:
    """Refuse before any work if ``path`` exists (without --force) or its folder is missing."""
    if path is None:
        return
    if path.exists() and not force:
        raise IpcbenchError(
            f"{path} already exists; pass --force to overwrite it or pick another -o"
        )
    if not path.parent.is_dir():
        raise IpcbenchError(f"folder {path.parent} does not exist; create it or pick another -o")


def write_csv(frame: pd.DataFrame, path: Path, *, force: bool) -> None:
    check_output(path, force)
    try:
        frame.to_csv(path, index=False)
    except OSError as exc:
        raise IpcbenchError(f"cannot write {path}: {exc.strerror}; pick another -o") from None
