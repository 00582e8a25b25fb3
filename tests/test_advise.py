"""ipcbench advise and the decision map: crafted result sets with known answers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import fixtures_analysis as fa
import pytest

from ipcbench import cli
from ipcbench.analysis import advise
from ipcbench.cli import advise as advise_command

FAST = (10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.6)
MID = tuple(v * 2 for v in FAST)
SLOW = tuple(v * 5 for v in FAST)


def rows_of(*parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [row for part in parts for row in part]
    for i, row in enumerate(rows):
        row["row_id"] = f"c-{i}"
        row["run_id"] = "crafted"
    return rows


def at(
    values: Mapping[str, Sequence[float]], size: int = 64, pattern: str = "pingpong", **kw: Any
) -> list[dict[str, Any]]:
    return fa.crafted_rows(values, pattern, size, **kw)


def write(tmp_path: Path, rows: list[dict[str, Any]], machine: str = "m1") -> Path:
    for row in rows:
        row["machine_id"] = machine
    meta = fa.default_meta(machine, "crafted", warnings=[])
    return fa.write_run(tmp_path / machine, "20261128T120000", [rows], meta, with_samples=False)


def ask(rows: list[dict[str, Any]], size: int = 64, **kw: Any) -> advise.Advice:
    return advise.advise(rows, advise.Question(size, **kw))


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --- the answer ---------------------------------------------------------------------------


def test_a_clear_winner_with_queue_and_seed_channels_as_ratios() -> None:
    rows = rows_of(at({"pipe_bytes": FAST, "pipe": MID, "queue": SLOW, "raw_pipe": FAST}))
    answer = ask(rows)
    (one,) = answer.answers
    assert one.ranking.winner == "pipe_bytes" and answer.asked_measured
    queue = one.line("queue")
    assert queue is not None and queue.vs_best is not None
    assert queue.vs_best.decision == "slower" and queue.vs_best.time_ratio == pytest.approx(5)
    assert queue.vs_best.interval.lo <= 5 <= queue.vs_best.interval.hi
    text = advise.advice_text(answer)
    assert "recommended: pipe_bytes, 10.3 \u00b5s (" in text
    assert "98% interval, 7 ok repeats" in text  # the interval's real level, not a claimed 95 %
    assert "queue (the usual default): 5.0\u00d7 slower (" in text
    assert "pipe: 2.0\u00d7 slower" in text
    # the floor is quoted as the machine's limit, never recommended
    assert "machine limit (a floor, not a channel): raw_pipe 10.3 \u00b5s (" in text
    assert "pipe_bytes takes 1.00\u00d7 its time" in text


def test_a_floor_that_is_fastest_is_never_recommended() -> None:
    rows = rows_of(at({"raw_pipe": FAST, "raw_socketpair": FAST, "pipe": MID, "queue": SLOW}))
    (one,) = ask(rows).answers
    assert one.ranking.winner == "pipe"
    assert [f.transport for f in one.floors] == ["raw_pipe", "raw_socketpair"]


def test_a_tie_is_a_tie_group_not_a_winner() -> None:
    rows = rows_of(at(dict(fa.TIE_8B_P022), 8))
    answer = ask(rows, 8)
    (one,) = answer.answers
    assert one.ranking.winner is None and one.ranking.tie_group == ("pipe_bytes", "pipe")
    text = advise.advice_text(answer)
    assert "recommended: any of pipe_bytes and pipe (a tie group" in text
    assert "ties with pipe: no significant difference" in text
    assert "manager_queue: 4.7\u00d7 slower" in text
    data = advise.advice_json(answer)
    assert data["answers"][0]["recommended"] is None
    assert data["answers"][0]["tie_group"] == ["pipe_bytes", "pipe"]


def test_an_unmeasured_size_answers_for_both_nearest_sizes() -> None:
    rows = rows_of(
        at({"pipe": FAST, "queue": SLOW}, 32768), at({"pipe": SLOW, "queue": FAST}, 131072)
    )
    answer = ask(rows, 65536)
    assert not answer.asked_measured
    assert [a.payload_bytes for a in answer.answers] == [32768, 131072]
    assert [a.ranking.winner for a in answer.answers] == ["pipe", "queue"]
    text = advise.advice_text(answer)
    assert "64 KiB was not measured; nearest measured: 32 KiB and 128 KiB" in text
    assert "at 32 KiB:" in text and "at 128 KiB:" in text
    # beyond the largest size: only the nearest one
    assert [a.payload_bytes for a in ask(rows, 1 << 24).answers] == [131072]


def test_failed_repeats_and_failed_channels_are_caveats() -> None:
    statuses = ["ok", "ok", "ok", "error", "error", "timeout", "error"]
    bad = fa.case_rows(fa.params("queue", "pingpong", 64), 1.0, spread=SLOW, statuses=statuses)
    dead = fa.case_rows(fa.params("simplequeue", "pingpong", 64), 1.0, statuses=["error"] * 7)
    rows = rows_of(at({"pipe": FAST}), bad, dead)
    answer = ask(rows)
    (one,) = answer.answers
    assert one.failed == ("simplequeue",)
    caveats = " | ".join(answer.caveats)
    assert "queue at 64 B: 3 of 7 repeats ok (fewer than 5" in caveats
    assert "no ok repeat of simplequeue" in caveats
    # 3 ok repeats fully below 7 others: exact p = 2/120, still a tested winner
    assert one.ranking.winner == "pipe"
    line = one.line("queue")
    assert line is not None and (line.n_ok, line.n_runs) == (3, 7)


def test_fan_question_uses_fan_rows_and_warns_when_oversubscribed() -> None:
    fan = at({"pipe": MID, "queue": FAST}, 1024, "fan", producers=4, consumers=2)
    rows = rows_of(fan, at({"pipe": FAST, "queue": MID}, 1024, "stream"))
    answer = ask(rows, 1024, goal="throughput", producers=4, consumers=2)
    assert answer.pattern == "fan"
    (one,) = answer.answers
    assert one.ranking.winner == "pipe"  # msgs/s: higher is better
    assert any("oversubscribed: 7 processes" in c and "2 logical CPUs" in c for c in answer.caveats)
    stream = ask(rows, 1024, goal="throughput")
    assert stream.pattern == "stream" and stream.answers[0].ranking.winner == "queue"


def test_placement_and_start_method_are_kept_apart_and_named() -> None:
    rows = rows_of(
        at({"pipe": FAST, "queue": SLOW}),
        at({"pipe": SLOW, "queue": FAST}, placement="same"),
        at({"pipe": SLOW, "queue": FAST}, start_method="spawn"),
    )
    default = ask(rows)
    assert default.setting["placement"] == "unpinned" and default.setting["start_method"] == "fork"
    assert default.answers[0].ranking.winner == "pipe"
    caveats = " | ".join(default.caveats)
    assert "pinned placements (same) are ranked apart" in caveats
    assert "for start method fork; spawn measured too" in caveats
    pinned = ask(rows, placement="same")
    assert pinned.answers[0].ranking.winner == "queue"
    with pytest.raises(advise.IpcbenchError, match="no pingpong results with --placement split"):
        ask(rows, placement="split")


def test_json_shape() -> None:
    rows = rows_of(at({"pipe": FAST, "queue": SLOW, "raw_pipe": FAST}))
    data = advise.advice_json(ask(rows))
    json.dumps(data)  # plain data
    assert set(data) >= {"question", "pattern", "metric", "setting", "answers", "caveats"}
    assert data["measured_sizes"] == [64] and data["asked_size_measured"] is True
    (one,) = data["answers"]
    assert one["recommended"] == "pipe" and one["verdict"] == "winner"
    queue = next(c for c in one["channels"] if c["transport"] == "queue")
    assert queue["vs_best"]["decision"] == "slower"
    assert set(queue["interval"]) == {"lo", "hi", "level", "kind"}
    assert 0.95 <= queue["vs_best"]["interval"]["level"] < 1
    assert one["floors"][0]["transport"] == "raw_pipe"


# --- the command: input errors are one line, exit 2 ----------------------------------------


@pytest.fixture
def result_csv(tmp_path: Path) -> Path:
    return write(tmp_path, rows_of(at({"pipe": FAST, "queue": SLOW}, 65536)))


def test_command_answers_and_prints_json(
    result_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["advise", str(result_csv), "--size", "64K"], capsys)
    assert code == 0 and out.startswith("64 KiB, latency:")
    assert "recommended: pipe" in out
    code, out, _ = run_cli(["advise", str(result_csv), "--size", "64K", "--json"], capsys)
    assert code == 0 and json.loads(out)["answers"][0]["recommended"] == "pipe"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--size", "64Q"], "cannot parse size"),
        (["--size", "64K", "--goal", "latency", "--producers", "4"], "measures throughput only"),
        (["--size", "64K", "--goal", "throughput", "--producers", "4"], "no fan results"),
        (["--size", "64K", "--channels", "pipe,carrier_pigeon"], "unknown channel"),
        (["--size", "64K", "--channels", "raw_pipe"], "unknown channel"),
        (["--size", "64K", "--measure"], "not both"),
        (["--size", "64K", "--placement", "split"], "--placement split"),
        (["--size", "64K", "--goal", "speed"], "invalid choice"),
        (["--size", "64K", "-o", "x"], "needs --measure"),
    ],
)
def test_bad_or_contradictory_input_is_one_line_exit_2(
    result_csv: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["advise", str(result_csv), *extra], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("ipcbench: error: ") and message in err


def test_no_results_and_no_measure_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["advise", "--size", "64K"], capsys)
    assert code == 2 and "no RESULTS given" in err and "--measure" in err


def test_empty_or_invalid_csv_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    junk = tmp_path / "junk.csv"
    junk.write_text("a,b\n1,2\n")
    for path in (empty, junk, tmp_path / "missing.csv"):
        code, out, err = run_cli(["advise", str(path), "--size", "64"], capsys)
        assert code == 2 and out == "" and err.count("\n") == 1, (path, err)


def test_several_machines_are_refused_for_advice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, rows_of(at({"pipe": FAST, "queue": SLOW})), "m1")
    write(tmp_path, rows_of(at({"pipe": FAST, "queue": SLOW})), "m2")
    code, _, err = run_cli(["advise", str(tmp_path), "--size", "64"], capsys)
    assert code == 2 and "2 machines" in err and "--machine" in err
    code, out, _ = run_cli(["advise", str(tmp_path), "--size", "64", "--machine", "m2"], capsys)
    assert code == 0 and "recommended: pipe" in out
    code, _, err = run_cli(["advise", str(tmp_path), "--size", "64", "--machine", "m3"], capsys)
    assert code == 2 and "--machine m3: not in the results; they hold m1, m2" in err


def test_measure_options_are_focused() -> None:
    question = advise.Question(65536, "latency")
    options = advise_command.measure_options(question, None)
    assert options["patterns"] == ["pingpong"]
    assert options["sizes"] == ["16384", "65536", "262144"]
    assert "raw_pipe" in options["transports"] and "manager_dict" not in options["transports"]
    fan = advise_command.measure_options(advise.Question(1024, "throughput", 4, 2), None)
    assert fan["patterns"] == ["fan"] and fan["producers"] == [4] and fan["consumers"] == [2]
    assert "raw_pipe" not in fan["transports"]  # floors do not fan out
    assert advise_command.measure_options(advise.Question(1, "latency"), None)["sizes"] == [
        "1",
        "4",
    ]


def test_measure_runs_a_small_sweep_saves_it_and_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real processes: two channels, 64 B, tiny target time."""
    monkeypatch.setattr(advise_command, "MEASURE_TARGET_S", 0.003)
    monkeypatch.setattr(advise_command, "MEASURE_REPEATS", 3)
    argv = ["advise", "--size", "64", "--measure", "--channels", "pipe,queue", "-o", str(tmp_path)]
    code, out, err = run_cli([*argv, "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["pattern"] == "pingpong" and data["asked_size_measured"] is True
    assert {c["transport"] for c in data["answers"][0]["channels"]} == {"pipe", "queue"}
    assert data["answers"][0]["floors"][0]["transport"] == "raw_pipe"
    (csv,) = tmp_path.glob("*/*.csv")  # saved like any run
    assert csv.with_name(csv.stem + ".meta.json").exists()
    assert f"results: {csv}" in err


# --- the decision map ---------------------------------------------------------------------


def test_a_crossover_is_named_where_significant_at_both_sizes() -> None:
    rows = rows_of(
        at({"pipe_bytes": FAST, "queue": SLOW, "pipe": MID}, 64),
        at({"pipe_bytes": FAST, "queue": SLOW, "pipe": MID}, 4096),
        at({"pipe_bytes": SLOW, "queue": FAST, "pipe": MID}, 1 << 20),
    )
    dmap = advise.decision_map(rows)
    assert dmap.shapes == ("pingpong",) and dmap.sizes == (64, 4096, 1 << 20)
    cell = dmap.cell("pingpong", 64)
    assert cell is not None and cell.label == "pipe_bytes" and cell.margin == pytest.approx(2)
    (sentence,) = advise.crossovers(dmap)
    assert sentence.startswith(
        "pingpong: up to 4 KiB pipe_bytes leads (5.0\u00d7 faster than queue)"
    )
    assert "; at 1 MiB queue leads" in sentence


def test_a_leader_is_named_only_at_the_sizes_it_leads() -> None:
    """A stream row as measured (s31): zmq wins at 8 B, a tie at 128 B, shm_ring wins at
    2 KiB, shm_handoff at 32 KiB, a tie at 512 KiB and shm_ring again at 8 MiB. Only the
    change at 2 -> 32 KiB is significant at both sizes; neither leader may be stretched over
    the cells another channel won or that are tied."""
    few = (10.0, 10.1, 10.2)  # 3 repeats: a tie
    best, second, low = SLOW, MID, FAST  # stream figures are msgs/s: higher is better
    rows = rows_of(
        at({"zmq_ipc": best, "shm_ring": second, "queue": low}, 8, "stream"),
        at({"zmq_ipc": few, "shm_ring": few, "queue": tuple(v / 5 for v in few)}, 128, "stream"),
        at({"shm_ring": best, "shm_handoff": second, "queue": low}, 2048, "stream"),
        at({"shm_handoff": best, "shm_ring": second, "queue": low}, 32768, "stream"),
        at({"shm_handoff": few, "shm_ring": few}, 1 << 19, "stream"),
        at({"shm_ring": best, "shm_handoff": second}, 1 << 23, "stream"),
    )
    (sentence,) = advise.crossovers(advise.decision_map(rows))
    assert sentence == (
        "stream: at 2 KiB shm_ring leads (5.0\u00d7 faster than queue); "
        "at 32 KiB shm_handoff leads (5.0\u00d7 faster than queue) "
        "(each change significant at both sizes)."
    )


def test_a_stretch_of_sizes_and_a_tied_lead_are_named() -> None:
    """pipe_bytes wins at 64 B and 4 KiB, then pipe and queue, tied, both beat it at 64 KiB
    and 1 MiB: 'up to 4 KiB' one, 'from 64 KiB' the tie group."""
    rows = rows_of(
        at({"pipe_bytes": FAST, "pipe": MID, "queue": SLOW}, 64),
        at({"pipe_bytes": FAST, "pipe": MID, "queue": SLOW}, 4096),
        at({"pipe": FAST, "queue": FAST, "pipe_bytes": SLOW}, 65536),
        at({"pipe": FAST, "queue": FAST, "pipe_bytes": SLOW}, 1 << 20),
    )
    dmap = advise.decision_map(rows)
    cell = dmap.cell("pingpong", 65536)
    assert cell is not None and cell.ranking.verdict == "tie"
    (sentence,) = advise.crossovers(dmap)
    assert sentence.startswith("pingpong: up to 4 KiB pipe_bytes leads (5.0\u00d7 faster")
    names = advise.ranking.names_text(cell.ranking.tie_group)
    assert f"; from 64 KiB {names} lead, tied (each change" in sentence


def test_no_crossover_where_a_side_is_a_tie() -> None:
    few = (10.0, 10.1, 10.2)  # 3 repeats: never significant
    rows = rows_of(
        at({"pipe_bytes": FAST, "queue": SLOW}, 64),
        at({"pipe_bytes": tuple(v * 5 for v in few), "queue": few}, 4096),
    )
    dmap = advise.decision_map(rows)
    assert advise.crossovers(dmap) == []
    cell = dmap.cell("pingpong", 4096)
    assert cell is not None and cell.ranking.verdict == "tie" and cell.label == "queue = pipe_bytes"


def test_pairs_that_never_differ_are_said() -> None:
    rows = rows_of(
        at({"pipe": FAST, "pipe_oneway": FAST, "queue": SLOW}, 64),
        at({"pipe": MID, "pipe_oneway": MID, "queue": SLOW}, 4096),
    )
    assert advise.crossovers(advise.decision_map(rows)) == [
        "pingpong: pipe and pipe_oneway do not differ at any measured size."
    ]


def test_seed_table_ratios_with_intervals() -> None:
    rows = rows_of(
        at({"pipe": FAST, "queue": MID, "manager_queue": SLOW}, 64),
        at({"pipe": FAST, "queue": FAST}, 64, "stream"),
    )
    headers, table = advise.seed_table(advise.decision_map(rows))
    assert headers[2:] == ["queue / pipe", "manager_queue / pipe", "manager_queue / queue"]
    ping, stream = table
    assert ping[:2] == ["pingpong", "64 B"]
    assert ping[2].startswith("2.0\u00d7 (") and ping[3].startswith("5.0\u00d7 (")
    assert stream[2].startswith("1.00\u00d7") and "n.s." in stream[2] and stream[3] == "\u2014"


def test_fan_shapes_are_rows_of_the_map() -> None:
    rows = rows_of(
        at({"pipe": FAST, "queue": SLOW}, 1024, "stream"),
        at({"pipe": MID, "queue": FAST}, 1024, "fan", producers=2, consumers=2),
        at({"pipe": MID, "queue": FAST}, 1024, "fan", producers=4, consumers=1),
    )
    dmap = advise.decision_map(rows)
    assert dmap.shapes == ("stream", "fan 2\u00d72", "fan 4\u00d71")
    cell = dmap.cell("fan 4\u00d71", 1024)
    assert cell is not None and cell.label == "pipe"  # msgs/s: the higher figure wins


# --- several machines ---------------------------------------------------------------------


def machines(tmp_path: Path) -> list[tuple[str, Any]]:
    from ipcbench.views import plots

    fa.write_machine(tmp_path, "base")
    fa.write_machine(tmp_path, "slow_all", factor=1.5)
    fa.write_machine(tmp_path, "slow_queue", transport_factors={"queue": 1.3})
    return [(m.machine_id, m.df) for m in plots.load_machines([tmp_path])]


def test_machine_differences_find_exactly_the_injected_ones(tmp_path: Path) -> None:
    found = advise.machine_differences(machines(tmp_path))
    by = {(c.machine, c.transport): c for c in found.channels}
    for t in ("pipe", "queue", "raw_pipe"):
        assert by[("slow_all", t)].absolute == "slower"
        assert by[("slow_all", t)].absolute_ratio == pytest.approx(1.5, rel=0.01)
    assert by[("slow_all", "pipe")].normalised == by[("slow_all", "queue")].normalised == "same"
    assert (
        by[("slow_queue", "queue")].absolute == by[("slow_queue", "queue")].normalised == "slower"
    )
    assert by[("slow_queue", "queue")].normalised_ratio == pytest.approx(1.3, rel=0.01)
    assert by[("slow_queue", "pipe")].absolute == by[("slow_queue", "pipe")].normalised == "same"
    assert by[("slow_queue", "raw_pipe")].absolute == "same"
    sentences = list(found.sentences)
    assert sentences == fa.MACHINE_DIFFERENCE_SENTENCES


def test_advice_differences_between_machines_are_said(tmp_path: Path) -> None:
    # queue 3x slower makes it lose to nobody new, but 0.4x makes it tie/beat pipe
    fa.write_machine(tmp_path, "a")
    fa.write_machine(tmp_path, "b", transport_factors={"queue": 0.4})  # queue = pipe's figures
    from ipcbench.views import plots

    labelled = [(m.machine_id, m.df) for m in plots.load_machines([tmp_path])]
    lines = advise.advice_differences(labelled)
    assert "pingpong at 64 B: on a pipe wins; on b pipe ties with queue." in lines


def test_machine_table_is_absolute_and_normalised(tmp_path: Path) -> None:
    headers, rows = advise.machine_table(machines(tmp_path))
    assert headers == ["channel", "figure", "base", "slow_all", "slow_queue"]
    queue = next(r for r in rows if r[:2] == ["queue", "pingpong 64 B"])
    assert queue[2] == "50.0 \u00b5s (5.0\u00d7 raw_pipe)"
    assert queue[3] == "75.1 \u00b5s (5.0\u00d7 raw_pipe)"
    assert queue[4] == "65.1 \u00b5s (6.5\u00d7 raw_pipe)"


# --- make compare takes two or more folders -------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


def make_compare(*args: str) -> Any:
    import subprocess

    return subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "-n", "compare", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
    )


def test_make_compare_passes_every_folder() -> None:
    done = make_compare("A=ra", "B=rb", "C=rc", "D=rd")
    assert done.returncode == 0, done.stderr
    assert ".venv/bin/ipcbench compare ra rb rc rd && " in done.stdout
    assert "ipcbench report ra rb rc rd" in done.stdout
    assert "ipcbench compare a b c" in make_compare("SETS=a b c").stdout


def test_make_compare_with_one_folder_says_so() -> None:
    import subprocess

    done = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "compare", "A=ra"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "give two or more result folders" in done.stderr


def test_a_machine_without_pingpong_or_stream_is_left_out(tmp_path: Path) -> None:
    from ipcbench.views import plots

    fa.write_machine(tmp_path, "base")
    fa.write_machine(tmp_path, "twin")
    proxies = rows_of(at({"manager_dict": FAST}, 64, "proxy_ops"))
    write(tmp_path, proxies, "proxies_only")
    labelled = [(m.machine_id, m.df) for m in plots.load_machines([tmp_path])]
    found = advise.machine_differences(labelled)
    assert found.sentences[0] == "proxies_only has no plain pingpong or stream results: left out."
    assert "twin does not differ from base for any channel." in found.sentences
    by_id = dict(labelled)
    alone = advise.machine_differences([("base", by_id["base"]), ("p", by_id["proxies_only"])])
    assert alone.sentences[0].startswith("No comparison:") and not alone.channels


def test_in_process_floors_without_a_start_method_do_not_choose_the_setting() -> None:
    """memcpy and pickle rows have no start method ("does not apply"): the setting is the
    channels' start method, not the empty one (seen on a real --quick run: 'no ok pingpong
    repeats ... (bytes, , unpinned)')."""
    channels = at({"pipe_bytes": FAST, "queue": SLOW}, start_method="fork")
    floors = at({"memcpy": FAST, "pickle": FAST}, start_method="")
    answer = ask(rows_of(channels, floors))
    (one,) = answer.answers
    assert one.ranking.winner == "pipe_bytes"
    assert "fork" in advise.advice_text(answer).splitlines()[0]
