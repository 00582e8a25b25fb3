"""Thread baselines in the analysis: never ranked as channels, compared with the fastest one."""

from __future__ import annotations

from typing import Any

import fixtures_analysis as fa
import pandas as pd

from ipcbench.analysis import ranking
from ipcbench.views.report.analysis import analyse
from ipcbench.views.report.findings import key_findings


def _rows(thread_figure: float) -> list[dict[str, Any]]:
    rows = fa.case_rows(fa.params("pipe", "stream", 64), 100_000.0, first_row=0)
    rows += fa.case_rows(fa.params("queue", "stream", 64), 40_000.0, first_row=10)
    rows += fa.case_rows(
        fa.params("thread_queue", "stream", 64, start_method=""), thread_figure, first_row=20
    )
    return rows


def test_thread_rows_join_the_groups_of_every_start_method_only_when_asked() -> None:
    rows = _rows(300_000.0)
    spawned = fa.params("pipe", "stream", 64, start_method="spawn")
    rows += fa.case_rows(spawned, 90_000.0, first_row=30)
    plain = ranking.groups(rows, ["stream"])
    assert all("thread_queue" not in g.values for g in plain)
    with_threads = ranking.groups(rows, ["stream"], baselines=True)
    assert {g.get("start_method") for g in with_threads} == {"fork", "spawn"}
    assert all(len(g.values["thread_queue"]) == len(fa.SPREAD) for g in with_threads)
    assert not ranking.pickles("thread_queue") and ranking.in_threads("thread_queue")


def test_the_report_says_what_crossing_a_process_boundary_costs() -> None:
    df = pd.DataFrame(_rows(300_000.0))
    stated = analyse(df).of("threads")
    assert [(s.comparison.first, s.comparison.second) for s in stated] == [("thread_queue", "pipe")]
    text = " ".join(key_findings(df))
    assert (
        "threads of one process (thread_queue) are 3.0\u00d7 faster in throughput than the " in text
    )
    assert "fastest process channel (pipe;" in text


def test_threads_no_faster_than_processes_are_a_tie() -> None:
    text = " ".join(key_findings(pd.DataFrame(_rows(100_000.0))))
    assert (
        "threads of one process (thread_queue) and the fastest process channel (pipe) do " in text
    )
    assert "not differ significantly" in text
