"""ranking.py: like-for-like groups, winner or tie group, one Benjamini-Hochberg family."""

from __future__ import annotations

import fixtures_analysis as fa

from ipcbench.analysis import ranking

FAST = (10.0, 10.1, 10.2, 10.3, 10.4)
SLOW = (20.0, 20.1, 20.2, 20.3, 20.4)


def one(values: dict[str, tuple[float, ...]], pattern: str = "pingpong") -> ranking.Ranking:
    (found,) = ranking.rank_rows(fa.crafted_rows(values, pattern, 64))
    return found


def test_a_winner_beats_the_runner_up() -> None:
    r = one({"pipe": SLOW, "pipe_bytes": FAST})
    assert r.verdict == "winner" and r.winner == "pipe_bytes" and r.tie_group == ("pipe_bytes",)
    assert r.runner_up is not None and r.runner_up.vs_best is not None
    assert r.runner_up.vs_best.time_ratio == 20.2 / 10.2
    assert ranking.verdict_text(r).startswith("pipe_bytes (1.98\u00d7 ahead of pipe, q = ")


def test_p_022_is_a_tie_not_a_best() -> None:
    r = one(dict(fa.TIE_8B_P022))
    assert r.winner is None and r.verdict == "tie"
    assert r.tie_group == ("pipe_bytes", "pipe")
    up = r.runner_up
    assert up is not None and up.vs_best is not None
    assert round(up.vs_best.p_value, 2) == 0.22
    assert ranking.verdict_text(r) == "tie: pipe_bytes, pipe (no significant difference)"


def test_a_winner_must_beat_every_channel_not_only_the_runner_up() -> None:
    # the third channel's median is worst, but its repeats overlap the best one's
    r = one({"a": FAST, "b": SLOW, "c": (10.05, 10.15, 60.0, 61.0, 62.0)})
    assert [e.transport for e in r.entries] == ["a", "b", "c"]
    assert r.winner is None and r.tie_group == ("a", "c")


def test_throughput_higher_is_better() -> None:
    r = one({"queue": (100.0, 101, 102, 103, 104), "pipe": (200.0, 201, 202, 203, 204)}, "stream")
    assert r.winner == "pipe"
    up = r.runner_up
    assert up is not None and up.vs_best is not None and up.vs_best.time_ratio > 1.9


def test_a_small_effect_is_a_tie_even_when_significant() -> None:
    tight = (10.0, 10.01, 10.02, 10.03, 10.04)
    r = one({"a": tight, "b": tuple(v * 1.03 for v in tight)})  # fully separated, 3 % apart
    assert r.runner_up is not None and r.runner_up.vs_best is not None
    assert r.runner_up.vs_best.p_value < 0.01
    assert r.verdict == "tie"


def test_many_comparisons_are_corrected_as_one_family() -> None:
    group = ranking.groups(fa.crafted_rows({"a": FAST, "b": SLOW}, "pingpong", 64))
    alone, _ = ranking.rank_groups(group)
    assert alone[0].winner == "a"  # p = 0.0079 on its own
    nulls = [ranking.compare("x", FAST, "y", FAST, False) for _ in range(9)]
    corrected, extra = ranking.rank_groups(group, nulls)
    assert corrected[0].winner is None  # q = 10 x 0.0079 > 0.05
    assert len(extra) == 9 and all(c.decision == "tie" for c in extra)


def test_one_channel_is_alone_not_a_winner() -> None:
    r = one({"pipe": FAST})
    assert r.verdict == "alone" and r.winner is None


def test_groups_keep_placements_and_start_methods_apart() -> None:
    rows = fa.crafted_rows({"pipe": FAST}, "pingpong", 64, placement="split")
    rows += fa.crafted_rows({"pipe": FAST}, "pingpong", 64, placement="same")
    rows += fa.crafted_rows({"pipe": FAST}, "pingpong", 64, start_method="spawn")
    found = ranking.groups(rows)
    assert len(found) == 3
    assert sorted(g.setting() for g in found) == [
        "bytes, fork, same",
        "bytes, fork, split",
        "bytes, spawn, unpinned",
    ]


def test_unbounded_queue_is_compared_with_a_pipe_bounded_one_is_not() -> None:
    rows = fa.crafted_rows({"pipe": FAST}, "stream", 64)
    rows += fa.crafted_rows({"queue": SLOW}, "stream", 64, maxsize=0)
    rows += fa.crafted_rows({"queue": SLOW}, "stream", 64, maxsize=1)
    found = {g.get("maxsize"): sorted(g.values) for g in ranking.groups(rows)}
    assert found == {"": ["pipe", "queue"], "1": ["queue"]}


def test_floors_only_on_request_in_process_floors_never() -> None:
    rows = fa.crafted_rows({"pipe": FAST, "raw_pipe": FAST, "memcpy": FAST}, "stream", 64)
    assert sorted(ranking.groups(rows)[0].values) == ["pipe"]
    assert sorted(ranking.groups(rows, floors=True)[0].values) == ["pipe", "raw_pipe"]


def test_channel_kinds_come_from_the_registry() -> None:
    assert ranking.is_peer("zmq_ipc") and ranking.is_peer("faster_fifo")
    assert not ranking.is_peer("pipe") and ranking.is_floor("raw_socketpair")
    assert not ranking.pickles("zmq_ipc") and not ranking.pickles("pipe_bytes")
    assert ranking.pickles("pipe") and ranking.pickles("queue") and ranking.pickles("faster_fifo")


def test_numbers_are_readable() -> None:
    assert ranking.fmt_metric(1660.0, "lat_p50_us") == "1,660 \u00b5s"
    assert ranking.fmt_metric(26200.0, "lat_p50_us") == "26.2 ms"
    assert ranking.fmt_metric(74.5, "lat_p50_us") == "74.5 \u00b5s"
    assert ranking.fmt_metric(175_000.0, "msgs_per_s") == "175k msgs/s"
    assert ranking.fmt_factor(1.034) == "1.03\u00d7" and ranking.fmt_factor(4.71) == "4.7\u00d7"
