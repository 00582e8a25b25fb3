"""The run summary: fastest transport per size, and the rate pattern's saturation point."""

from __future__ import annotations

from typing import Any

import fixtures_analysis as fa

from ipcbench.analysis.summary import format_summary, saturation_points

# offered msgs/s -> (delivered msgs/s, p50 µs, p99 µs), hand-made around a knee at 100k
PIPE = {
    10_000: (10_000, 20.0, 50.0),
    50_000: (49_990, 22.0, 60.0),
    90_000: (89_900, 50.0, 130.0),  # p50 2.5x the lowest: still keeps up
    100_000: (97_000, 220.0, 500.0),  # p50 11x: saturated
    110_000: (101_000, 4800.0, 9000.0),
}


def rate_rows(transport: str, table: dict[int, tuple[int, float, float]]) -> list[dict[str, Any]]:
    rows = []
    for offered, (delivered, p50, p99) in table.items():
        for repeat, jitter in enumerate((0.99, 1.0, 1.01)):
            rows.append(
                dict(
                    transport=transport,
                    pattern="rate",
                    payload_bytes=1024,
                    status="ok",
                    offered_load=str(offered),
                    offered_per_s=offered * jitter,
                    msgs_per_s=delivered * jitter,
                    lat_p50_us=p50 * jitter,
                    lat_p99_us=p99 * jitter,
                    start_method="fork",
                    placement="unpinned",
                    payload_kind="bytes",
                    repeat=repeat,
                    maxsize="",
                    op="",
                )
            )
    return rows


def test_saturation_is_the_first_load_past_the_last_one_kept_up_with() -> None:
    (found,) = saturation_points(rate_rows("pipe", PIPE))
    assert found.kept_up is not None and found.saturated is not None
    assert found.kept_up.offered_per_s == 90_000
    assert found.saturated.offered_per_s == 100_000


def test_a_load_delivered_short_is_saturation_even_with_low_latency() -> None:
    short = {10_000: (10_000, 20.0, 40.0), 20_000: (18_000, 21.0, 45.0)}
    (found,) = saturation_points(rate_rows("queue", short))
    assert found.kept_up is not None and found.kept_up.offered_per_s == 10_000
    assert found.saturated is not None and found.saturated.achieved_per_s == 18_000


def test_no_saturation_when_every_load_is_kept_up_with() -> None:
    easy = {10_000: (10_000, 20.0, 40.0), 20_000: (20_000, 21.0, 45.0)}
    (found,) = saturation_points(rate_rows("pipe", easy))
    assert found.saturated is None


def test_summary_prints_one_saturation_line_per_channel() -> None:
    rows = rate_rows("pipe", PIPE) + [{**r, "placement": "same"} for r in rate_rows("pipe", PIPE)]
    lines = [line for line in format_summary(rows).splitlines() if "rate" in line.split()[:1]]
    assert len(lines) == 2
    assert "pipe           keeps up to 90,000 msgs/s" in lines[0]
    assert "saturated at 100,000 msgs/s offered" in lines[0]
    assert lines[1].split()[3:5] == ["pipe", "(same)"]


# --- the fastest table: one like-for-like group per line, winner or tie group -----------------

FAST = (10.0, 10.1, 10.2, 10.3, 10.4)
SLOW = (20.0, 20.1, 20.2, 20.3, 20.4)


def fastest_lines(rows: list[dict[str, Any]]) -> list[str]:
    return [line for line in format_summary(rows).splitlines() if line.startswith("  pingpong")]


def test_fastest_is_never_a_minimum_across_placements_or_start_methods() -> None:
    # the old table printed queue for 64 B: its split figure beat pipe's same-CPU one
    rows = fa.crafted_rows({"queue": FAST, "pipe": SLOW}, "pingpong", 64, placement="split")
    rows += fa.crafted_rows(
        {"pipe": tuple(v * 1.5 for v in SLOW), "queue": (40.0, 41, 42, 43, 44)},
        "pingpong",
        64,
        placement="same",
        run_id="b",
    )
    rows += fa.crafted_rows({"pipe": SLOW}, "pingpong", 64, start_method="spawn", run_id="c")
    lines = fastest_lines(rows)
    assert len(lines) == 3
    settings = ("bytes, fork, same", "bytes, fork, split", "bytes, spawn, unpinned")
    by_setting = {name: line for line in lines for name in settings if f" {name} " in line}
    assert (
        "fastest: pipe 30.3 µs p50 round trip (1.39× ahead of queue"
        in by_setting["bytes, fork, same"]
    )
    assert "fastest: queue 10.2 µs" in by_setting["bytes, fork, split"]
    assert "only pipe measured: 20.2 µs" in by_setting["bytes, spawn, unpinned"]


def test_a_channel_that_does_not_beat_the_runner_up_is_a_tie() -> None:
    (line,) = fastest_lines(fa.crafted_rows(fa.TIE_8B_P022, "pingpong", 8))
    assert "fastest" not in line
    assert (
        "tie: pipe_bytes, pipe (74.5 µs p50 round trip to 80.8 µs; no significant difference)"
        in line
    )


def test_floors_are_left_out_of_the_fastest_table() -> None:
    rows = fa.crafted_rows({"raw_pipe": (1.0, 1.1, 1.2, 1.3, 1.4), "pipe": SLOW}, "stream", 64)
    (line,) = [x for x in format_summary(rows).splitlines() if x.startswith("  stream")]
    assert "only pipe measured" in line and "raw_pipe" not in line


def test_rate_cases_of_different_shapes_are_not_merged() -> None:
    """Named change (issue 13): the load points are grouped by the schema's case key, so rows
    that differ only in producers/consumers (or maxsize) are two channels, not one."""
    easy = {load: (load, 20.0, 50.0) for load in (10_000, 50_000, 100_000)}
    one = [{**r, "producers": 1, "consumers": 1} for r in rate_rows("queue", easy)]
    four = [{**r, "producers": "4", "consumers": "2"} for r in rate_rows("queue", PIPE)]
    found = saturation_points(one + four)
    assert len(found) == 2
    assert sorted(s.saturated is None for s in found) == [False, True]
    merged = saturation_points([{**r, "producers": "1"} for r in one])  # '1' and 1 agree
    assert len(merged) == 1 and merged[0].saturated is None
