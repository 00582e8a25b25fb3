"""The report's "Costs paid once" section: the startup pattern's figures per operation and
start method (a table of medians with their intervals; no claim, so no test to adjust)."""

from __future__ import annotations

import pandas as pd

from ipcbench.analysis import stats
from ipcbench.views.report.blocks import Block, Heading, Paragraph, Table
from ipcbench.views.slicing import dim_keys, pattern_rows

STARTUP_TEXT = (
    "Once per process or pool, not per message (startup pattern): Process.start() to the "
    "child's first message on a Pipe, for a bare child and for one that imports NumPy; "
    "starting a Manager until its first proxy answers; Pool(2) until its first result. "
    "Median over repeats of each repeat's median start, with the order-statistic interval of "
    "that median (a range below 6 repeats)."
)
OP_TEXT = {
    "process_bare": "Process, bare child",
    "process_numpy": "Process, child imports NumPy",
    "manager": "Manager()",
    "pool": "Pool(2), first result",
}


def startup_blocks(df: pd.DataFrame) -> list[Block]:
    """The section, or nothing without ok startup rows. With several interpreters (--pythons)
    each line is one interpreter's."""
    rows = pattern_rows(df, "startup")
    rows = rows[rows["status"] == "ok"] if "status" in rows else rows
    if rows.empty:
        return []
    rows = rows.assign(python=dim_keys(rows["python"]) if "python" in rows else "")
    versions = rows["python"].nunique() > 1
    table = []
    for (op, method, python, placement), part in rows.groupby(
        ["op", "start_method", "python", "placement"], sort=True, dropna=False
    ):
        values = [v / 1000 for v in part["lat_p50_us"].dropna()]  # ms
        if not values:
            continue
        iv = stats.median_interval(values)
        spread = "range" if iv.is_range else f"{iv.level:.0%}"
        table.append(
            [
                OP_TEXT.get(str(op), str(op)),
                str(method),
                *([str(python)] if versions else []),
                str(placement),
                f"{stats.median(values):.3g} ms",
                f"{iv.lo:.3g} to {iv.hi:.3g} ms ({spread})",
                str(len(values)),
            ]
        )
    headers = ["what starts", "start method", *(["Python"] if versions else []), "placement",
               "median", "interval", "repeats"]  # fmt: skip
    return [Heading("Costs paid once"), Paragraph(STARTUP_TEXT), Table(headers, table)]
