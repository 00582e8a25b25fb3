"""Repeats run in rounds: each repeat of a case in fresh processes, every case once per round."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from conftest import FAST, run_with_fault

from ipcbench.harness.resume import load_resume
from ipcbench.harness.runner import Runner, schedule
from ipcbench.harness.settings import build_settings
from ipcbench.params import Case
from ipcbench.results.store import read_rows

CASES = [Case(transport=t, pattern="stream", payload_bytes=64) for t in ("a", "b", "c", "d")]


def test_schedule_is_round_major_and_shuffled_per_round() -> None:
    runs = schedule(CASES, repeats=3, seed=7)
    rounds = [runs[i * 4 : (i + 1) * 4] for i in range(3)]
    for repeat, chunk in enumerate(rounds):
        assert {r for _, r in chunk} == {repeat}
        assert sorted(c.transport for c, _ in chunk) == ["a", "b", "c", "d"]
    orders = {tuple(c.transport for c, _ in chunk) for chunk in rounds}
    assert len(orders) > 1  # a new order each round (seed 7 gives three different ones)
    assert schedule(CASES, repeats=3, seed=7) == runs  # the seed reproduces it


class PidRunner(Runner):
    """Records the driver of every case run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order: list[tuple[str, int]] = []

    def run_case(self, case: Case, repeat: int = 0) -> Any:
        self.order.append((case.transport, repeat))
        return super().run_case(case, repeat)


def test_each_repeat_runs_in_fresh_processes_with_one_message_count(tmp_path: Path) -> None:
    settings = build_settings(
        {
            **FAST,
            "repeats": 3,
            "transports": "pipe,queue",
            "patterns": "stream",
            "sizes": "64",
            "out": str(tmp_path),
        }
    )
    runner = PidRunner(settings)
    rows = runner.run().rows
    assert [r for _, r in runner.order] == [0, 0, 1, 1, 2, 2]  # rounds
    for transport in ("pipe", "queue"):
        mine = [r for r in rows if r["transport"] == transport]
        assert sorted(r["repeat"] for r in mine) == [0, 1, 2]
        assert {r["status"] for r in mine} == {"ok"}
        assert len({r["n_messages"] for r in mine}) == 1  # calibrated once, reused


def test_a_failed_case_is_not_run_again(tmp_path: Path) -> None:
    rows = run_with_fault(
        tmp_path, "raise", transports="pipe", patterns="stream", sizes="64", repeats=3
    )
    assert [(r["status"], r["repeat"]) for r in rows] == [("error", 0)]


def _cut_and_resume(
    tmp_path: Path, keep_lines: int, **options: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """A 3-repeat run of ``options`` at 64 B, its CSV cut to its first ``keep_lines`` lines,
    then resumed: (the rows kept, the resumed run's rows, the CSV's rows after)."""
    settings = build_settings(
        {**FAST, "repeats": 3, "sizes": "64", "out": str(tmp_path), **options}
    )
    first = Runner(settings).run()
    lines = first.paths.csv.read_text().splitlines(keepends=True)
    first.paths.csv.write_text("".join(lines[:keep_lines]))
    kept = read_rows(first.paths.csv)
    resumed = Runner(settings, resume=load_resume(first.paths.csv)).run()
    return kept, resumed.rows, read_rows(first.paths.csv)


def test_resume_runs_only_the_missing_repeats(tmp_path: Path) -> None:
    kept, resumed, rows = _cut_and_resume(  # header + rounds 0 and half of 1
        tmp_path, 4, transports="pipe,queue", patterns="stream", seed=3
    )
    assert len(resumed) == 3
    counts = Counter((r["transport"], r["repeat"]) for r in rows)
    assert set(counts.values()) == {1} and len(counts) == 6
    for transport in ("pipe", "queue"):
        n_messages = {r["n_messages"] for r in rows if r["transport"] == transport}
        assert len(n_messages) == 1, n_messages  # the resumed repeats reuse the calibration
    assert rows[:3] == kept


def test_noise_reasons() -> None:
    from ipcbench.results.metadata import noise_reasons

    assert noise_reasons(3.0, [0.1, 0.1, 0.1], 2, None) == []
    assert noise_reasons(5.0, [1.9, 1.0, 0.5], 2, "performance") == []  # our own past load
    busy = noise_reasons(85.0, [1.9, 1.0, 0.5], 2, None)
    assert busy == ["other programs use 85% of the 2 CPUs, load average 1.9"]
    gov = noise_reasons(None, None, 4, "powersave")
    assert gov == ["CPU frequency governor is 'powersave', not 'performance'"]


def test_a_busy_machine_gets_one_warning_line_at_the_start(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    from ipcbench.results import metadata

    monkeypatch.setattr(metadata, "busy_percent", lambda sample_s=0.0: 90.0)
    settings = build_settings(
        {
            **FAST,
            "quiet": False,
            "repeats": 1,
            "transports": "memcpy",
            "sizes": "64",
            "out": str(tmp_path),
        }
    )
    result = Runner(settings).run()
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("warning: this machine looks noisy (other programs use 90%")
    assert sum("looks noisy" in line for line in err) == 1
    import json

    meta = json.loads(result.paths.meta.read_text())
    assert meta["noise_warning"].startswith("this machine looks noisy")
    assert meta["warnings"][0] == meta["noise_warning"]


def test_driver_unlinks_its_semaphores_before_closing_the_session() -> None:
    """Named semaphores (spawn/forkserver queues) are unlinked by the driver's cleanup itself,
    first, so a driver killed later leaves nothing for the resource tracker; the objects stay
    usable by whoever has them open."""
    import multiprocessing
    import os

    from ipcbench.harness.driver import unlink_semaphores

    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    names = {f"sem.{lock._semlock.name.lstrip('/')}" for lock in (q._rlock, q._wlock, q._sem)}
    assert names <= set(os.listdir("/dev/shm"))
    assert unlink_semaphores() >= 3
    assert not names & set(os.listdir("/dev/shm"))
    q.put("still works")
    assert q.get(timeout=5) == "still works"
    q.close()
    q.join_thread()


def test_a_relative_rate_load_offers_its_first_runs_rate_in_every_repeat(tmp_path: Path) -> None:
    """The maximum a relative load is a share of is measured in the case's first run only
    (measured again per run, it varied by 20% between repeats, and so did the load), also
    when the run is resumed; an absolute load is what it says."""
    _, _, rows = _cut_and_resume(  # header + round 0
        tmp_path, 3, transports="pipe", patterns="rate", rates="50%,20000", seed=5
    )
    assert len(rows) == 6 and {r["status"] for r in rows} == {"ok"}
    offered = {
        load: {r["offered_per_s"] for r in rows if r["offered_load"] == load}
        for load in ("50%", "20000")
    }
    assert offered["20000"] == {"20000.0"}
    assert len(offered["50%"]) == 1, offered  # the resumed repeat reuses it too
