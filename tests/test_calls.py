"""put/get calling styles (blocking, with a timeout, nowait): swept, recorded, counted, refused."""

from __future__ import annotations

import multiprocessing
import queue
import threading
from pathlib import Path
from typing import Any

import pytest

from ipcbench.cli import main
from ipcbench.harness.settings import build_settings
from ipcbench.harness.sweep import calls_for, expand
from ipcbench.measure.catalogue import DEFAULT_CALL_TIMEOUTS
from ipcbench.results.schema import case_label
from ipcbench.results.store import upgrade_to_3
from ipcbench.transports import get
from ipcbench.transports.queues import QueueEnd

STYLED = ("queue", "joinablequeue", "manager_queue", "faster_fifo")


def _settings(**options: Any) -> Any:
    return build_settings({"transports": "queue", "patterns": "stream", "sizes": "64", **options})


# --- the sweep --------------------------------------------------------------------------------


def test_each_pattern_sweeps_its_styles_on_the_channels_that_take_them() -> None:
    s = _settings(transports="queue,simplequeue,pipe", patterns="stream,nowait,pingpong")
    calls = {(c.transport, c.pattern, c.call, c.call_timeout_s) for c in expand(s)}
    assert ("queue", "stream", "block", None) in calls  # stream: plain blocking by default
    assert {c for c in calls if c[:2] == ("queue", "nowait")} == {
        ("queue", "nowait", "block", None),
        ("queue", "nowait", "timeout", DEFAULT_CALL_TIMEOUTS[0]),
        ("queue", "nowait", "nowait", None),
    }
    assert ("queue", "pingpong", "", None) in calls  # pingpong takes no style
    assert ("simplequeue", "stream", "", None) in calls  # SimpleQueue has no timeout/nowait
    assert ("pipe", "stream", "", None) in calls


def test_calls_and_timeouts_are_swept_like_maxsize() -> None:
    s = _settings(calls="block,timeout,nowait", call_timeouts="0.01,1")
    pairs = calls_for(s, get("queue"), "stream")
    assert pairs == [("block", None), ("timeout", 0.01), ("timeout", 1.0), ("nowait", None)]
    assert calls_for(s, get("pipe"), "stream") == [("", None)]
    assert calls_for(s, get("queue"), "pingpong") == [("", None)]
    assert {c.call for c in expand(_settings(calls="timeout", patterns="fan,taskqueue"))} == {
        "timeout"
    }


def test_labels_name_the_style_and_old_nowait_rows_are_upgraded() -> None:
    base = {"transport": "queue", "pattern": "stream", "payload_bytes": 64, "producers": 1}
    assert case_label({**base, "call": "timeout", "call_timeout_s": "0.01"}).endswith(
        "timeout=0.01s"
    )
    assert case_label({**base, "call": "nowait"}).endswith("nowait")
    assert "block" not in case_label({**base, "call": "block"})
    rows = [
        {"schema_version": "2", "pattern": "nowait", "op": "nowait"},
        {"schema_version": "2", "pattern": "nowait", "op": "blocking"},
        {"schema_version": "2", "pattern": "lifecycle", "op": "qsize"},
    ]
    assert [(r["op"], r["call"], r["schema_version"]) for r in upgrade_to_3(rows)] == [
        ("", "nowait", "3"),
        ("", "block", "3"),
        ("qsize", "", "3"),
    ]


# --- bad values: one line, exit 2 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--call-timeouts", "-1"], "--call-timeouts must be a positive number of seconds"),
        (["--call-timeouts", "0"], "--call-timeouts must be a positive number of seconds"),
        (["--call-timeouts", "soon"], "--call-timeouts: expected seconds, got 'soon'"),
        (["--calls", "sometimes"], "unknown calling style 'sometimes'"),
        (["-t", "pipe", "--calls", "timeout"], "--calls timeout: put/get calling styles apply"),
        (["-p", "pingpong", "--calls", "nowait"], "--calls nowait: put/get calling styles"),
        (["--call-timeouts", "0.01"], "--call-timeouts needs cases that call with a timeout"),
    ],
)
def test_bad_calls_get_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    base = ["run", "-t", "queue", "-p", "stream", "-s", "64", "-o", str(tmp_path), "-q"]
    code = main([*base, *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_calls_in_toml(tmp_path: Path) -> None:
    from ipcbench.harness.settings import load_config

    config = tmp_path / "c.toml"
    config.write_text('[run]\ncalls = ["timeout", "nowait"]\ncall-timeouts = [0.01, 1]\n')
    s = _settings(**load_config(str(config)))
    assert s.calls == ("timeout", "nowait") and s.call_timeouts == (0.01, 1.0)


# --- the endpoints: expiries and Full/Empty counted, the GIL released ---------------------------


def test_an_expired_get_timeout_is_counted_as_a_retry() -> None:
    """A get with a timeout on a queue that stays empty for longer expires, is retried and
    counted; the item put later still arrives."""
    q = multiprocessing.get_context("fork").Queue()
    end = QueueEnd(None, q, call="timeout", timeout_s=0.01)
    putter = threading.Timer(0.2, q.put, args=("late",))
    putter.start()
    try:
        assert end.recv() == "late"
        assert end.retries >= 5  # 0.2 s of 0.01 s timeouts (at least a few, on a busy machine)
    finally:
        putter.join()
        q.close()
        q.join_thread()


def test_an_expired_put_timeout_is_counted_and_get_nowait_yields() -> None:
    q = multiprocessing.get_context("fork").Queue(maxsize=1)
    sender = QueueEnd(q, None, call="timeout", timeout_s=0.01)
    receiver = QueueEnd(None, q, call="nowait")
    try:
        sender.send("first")
        threading.Timer(0.2, q.get).start()  # makes room after some expiries
        sender.send("second")
        assert sender.retries >= 5
        assert receiver.recv() == "second"
        receiver_thread = threading.Timer(0.1, q.put, args=("third",))
        receiver_thread.start()
        assert receiver.recv() == "third" and receiver.retries > 0
        receiver_thread.join()
    finally:
        q.close()
        q.join_thread()


def test_a_timeout_style_needs_a_positive_timeout() -> None:
    with pytest.raises(ValueError, match="positive timeout"):
        QueueEnd(queue.Queue(), None, call="timeout", timeout_s=0)


def test_styles_survive_pickling_into_a_spawned_child() -> None:
    """What a spawned child rebuilds from the endpoint's state calls in the same style."""
    q = multiprocessing.get_context("spawn").Queue()
    end = QueueEnd(q, q, call="timeout", timeout_s=1)
    rebuilt = QueueEnd.__new__(QueueEnd)
    rebuilt.__setstate__(end.__getstate__())
    assert rebuilt.send == rebuilt._put_timeout and rebuilt.recv == rebuilt._get_timeout
    assert rebuilt.timeout_s == 1
    nowait = QueueEnd.__new__(QueueEnd)
    nowait.__setstate__(QueueEnd(q, q, call="nowait").__getstate__())
    assert nowait.send == nowait._put_nowait and nowait.recv == nowait._get_nowait
    q.close()


# --- real processes -----------------------------------------------------------------------------


def test_every_style_runs_verified_on_real_processes(run_sweep: Any) -> None:
    rows = run_sweep(
        transports=",".join(STYLED),
        patterns="stream,fan,taskqueue",
        sizes="64",
        producers="2",
        consumers="2",
        calls="block,timeout,nowait",
        call_timeouts="0.0001",
        start_methods="fork",
        repeats=1,
    )
    assert [r for r in rows if r["status"] not in ("ok", "skipped")] == []
    got = {(r["transport"], r["pattern"], r["call"]) for r in rows if r["status"] == "ok"}
    for transport in ("queue", "manager_queue"):
        for pattern in ("stream", "fan"):
            assert {(transport, pattern, c) for c in ("block", "timeout", "nowait")} <= got
    assert {("joinablequeue", "taskqueue", c) for c in ("block", "timeout", "nowait")} <= got
    for row in rows:
        if row["status"] != "ok":
            continue
        assert row["msgs_per_s"] > 0
        assert (row["call_timeout_s"] == 0.0001) == (row["call"] == "timeout")
        assert (row.get("retries") is None) == (row["call"] == "block")


def test_styles_reach_spawned_children(run_sweep: Any) -> None:
    """Under spawn the endpoints are pickled into the children: their style goes with them
    (a nowait consumer child counts retries; a timeout producer child runs its retry loop)."""
    rows = run_sweep(
        transports="queue",
        patterns="fan",
        sizes="64",
        producers="2",
        consumers="2",
        calls="timeout,nowait",
        start_methods="spawn",
        repeats=1,
    )
    assert sorted((r["status"], r["call"]) for r in rows) == [("ok", "nowait"), ("ok", "timeout")]
    assert all(r["retries"] >= 0 for r in rows)  # counted in the children, reported


def test_a_fault_under_a_timeout_style_is_still_caught(tmp_path: Path) -> None:
    from conftest import run_with_fault

    rows = run_with_fault(
        tmp_path, "drop", transports="queue", patterns="stream", sizes="64", calls="timeout"
    )
    assert rows and all(r["status"] == "error" and "lost" in r["error"] for r in rows)


# --- analysis, report, advice, figure: crafted data with known answers --------------------------


def _styled_rows(timeout_figure: float, nowait_figure: float) -> list[dict[str, Any]]:
    """queue (stream 64 B) with blocking calls at 100,000 msgs/s, a timeout of 0.01 s and
    nowait at the given figures (7 repeats, +-3 %), and a Pipe at 90,000."""
    import fixtures_analysis as fa

    def case(transport: str, call: str, timeout_s: float | None = None) -> dict[str, Any]:
        return fa.params(transport, "stream", 64, call=call, call_timeout_s=timeout_s)

    rows = fa.case_rows(case("queue", "block"), 100_000.0, first_row=0)
    rows += fa.case_rows(case("queue", "timeout", 0.01), timeout_figure, first_row=10)
    rows += fa.case_rows(case("queue", "nowait"), nowait_figure, first_row=20)
    rows += fa.case_rows(case("pipe", ""), 90_000.0, first_row=30)
    for row in rows:
        row["retries"] = 50 if row["call"] == "timeout" else None
    return rows


def test_plain_blocking_calls_are_ranked_with_pipes_and_styles_apart() -> None:
    from ipcbench.analysis import ranking

    groups = ranking.groups(_styled_rows(70_000.0, 100_000.0), ["stream"])
    by_call = {g.get("call"): sorted(g.values) for g in groups}
    assert by_call == {"": ["pipe", "queue"], "timeout": ["queue"], "nowait": ["queue"]}
    timeout_group = next(g for g in groups if g.get("call") == "timeout")
    assert "timeout=0.01s" in timeout_group.setting()


def test_a_timeout_that_costs_1_43x_is_named_and_an_equal_style_is_a_tie() -> None:
    import pandas as pd

    from ipcbench.views.report.analysis import analyse
    from ipcbench.views.report.calls import call_blocks, call_sentences

    df = pd.DataFrame(_styled_rows(70_000.0, 100_000.0))
    analysis = analyse(df)
    stated = {s.comparison.first: s.comparison for s in analysis.of("call")}
    assert set(stated) == {"queue timeout=0.01s", "queue nowait"}
    slow, same = stated["queue timeout=0.01s"], stated["queue nowait"]
    assert slow.decision == "slower" and slow.time_ratio == pytest.approx(100 / 70, rel=1e-3)
    assert same.decision == "tie"
    sentences = call_sentences(analysis.of("call"))
    assert any(
        "stream pattern, timeout=0.01s calls: of 1 case, slower than blocking calls in 1 (1.43" in s
        for s in sentences
    )
    assert "stream pattern, nowait calls: of 1 case, not significantly different in 1" in " ".join(
        sentences
    )
    table = call_blocks(df, analysis)[-1]
    timeout_row = next(r for r in table.rows if r[4] == "timeout=0.01s")  # type: ignore[attr-defined]
    assert timeout_row[-1] == "0.05" and timeout_row[-2] == "slower"  # 50 retries / 1000 msgs


def test_the_advice_says_what_a_timeout_costs() -> None:
    from ipcbench.analysis import advise

    question = advise.Question(goal="throughput", payload_bytes=64)
    advice = advise.advise(_styled_rows(70_000.0, 100_000.0), question)
    assert {line.transport for line in advice.answers[0].channels} == {"pipe", "queue"}
    text = "\n".join(advice.caveats)
    assert "queue timeout=0.01s at 64 B: 1.43\u00d7 slower than blocking put/get" in text
    assert "queue nowait at 64 B: not significantly different from blocking put/get" in text


def test_the_calls_figure_draws_each_style_and_prefers_block_elsewhere() -> None:
    import pandas as pd

    from ipcbench.views import slicing
    from ipcbench.views.axes import skip_reason
    from ipcbench.views.figures.calls import figure_calls

    df = pd.DataFrame(_styled_rows(70_000.0, 100_000.0))
    assert skip_reason(figure_calls(df)) is None
    rows, _ = slicing.fix_dims(df, keep=("transport", "payload_bytes"))
    assert set(rows[rows["transport"] == "queue"]["call"]) == {"block"}
    plain = df[df["call"].isin(["block", ""])]
    assert skip_reason(figure_calls(plain)) is not None
