"""Figure functions: axes, scales, one line/bar group per transport, notes for missing data.

Checks matplotlib artists (gids set by the ipcbench.views figure modules), never pixels.
No real processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fixtures_analysis as fa
import fixtures_plots as fx
import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ipcbench.analysis.compare import compare
from ipcbench.views import plots
from ipcbench.views.axes import figure_notes, skip_reason, spaced_ticks
from ipcbench.views.figures.backpressure import figure_backpressure
from ipcbench.views.figures.breakdown import breakdown_table, figure_cost_breakdown
from ipcbench.views.figures.comparison import comparison_figure, figure_comparison
from ipcbench.views.figures.decision_map import figure_decision_map
from ipcbench.views.figures.latency import (
    figure_latency,
    figure_latency_distribution,
    tail_percentiles_us,
)
from ipcbench.views.figures.machines import figure_machines
from ipcbench.views.figures.placement import figure_start_method_placement
from ipcbench.views.figures.proxies import figure_proxy
from ipcbench.views.figures.scaling import figure_scaling
from ipcbench.views.figures.throughput import figure_throughput
from ipcbench.views.inputs import MachineResults, load_machines
from ipcbench.views.slicing import fix_dims, nearest_size, summarize
from ipcbench.views.style import (
    FLOORS,
    IN_PROCESS_FLOORS,
    TRANSPORT_STYLES,
    style_for,
    transport_order,
)

SIZES = (64, 4096, 1048576)
MESSAGE = ("pipe", "queue", "simplequeue", "memcpy", "pickle", "raw_pipe", "raw_socketpair")


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    patterns = (
        "pingpong",
        "stream",
        "proxy_ops",
        "shared_state",
        "fan",
        "taskqueue",
        "backpressure",
    )
    return fx.make_rows(
        transports=(*MESSAGE, "joinablequeue", "manager_queue", "manager_dict", "manager_list"),
        sizes=SIZES,
        patterns=patterns,
    )


@pytest.fixture(scope="module")
def df(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return fx.frame(rows)


def line_gids(ax: Axes) -> set[str]:
    """Gids of the data lines (error bar caps carry 'transport:p99' and are left out)."""
    return {
        str(line.get_gid())
        for line in ax.get_lines()
        if line.get_gid() and ":p99" not in str(line.get_gid())
    }


def rects(ax: Axes) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def bar_gids(ax: Axes) -> set[str]:
    return {str(p.get_gid()) for p in rects(ax) if p.get_gid()}


def ok_transports(df: pd.DataFrame, pattern: str) -> set[str]:
    return set(df.loc[(df["pattern"] == pattern) & (df["status"] == "ok"), "transport"])


def tick_texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels()]


def drawn(fig: Figure) -> Figure:
    FigureCanvasAgg(fig).draw()  # type: ignore[no-untyped-call]
    return fig


# --- 1. throughput --------------------------------------------------------------------------


def test_throughput_is_log_log_with_one_line_per_transport(df: pd.DataFrame) -> None:
    fig = drawn(figure_throughput(df))
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert line_gids(ax) == ok_transports(df, "stream")
    assert "MB/s" in ax.get_ylabel()
    assert tick_texts(ax) == ["64 B", "4 KiB", "1 MiB"]


def test_throughput_floors_are_dashed_without_band_others_have_ci_band(df: pd.DataFrame) -> None:
    (ax,) = figure_throughput(df).axes
    styles = {line.get_gid(): line.get_linestyle() for line in ax.get_lines()}
    bands = {c.get_gid() for c in ax.collections if isinstance(c, PolyCollection)}
    for transport in ok_transports(df, "stream"):
        if transport in FLOORS:
            assert styles[transport] != "-" and f"{transport}:ci" not in bands
        else:
            assert styles[transport] == "-" and f"{transport}:ci" in bands


def test_subtitle_names_cpu_python_and_start_method(df: pd.DataFrame) -> None:
    title = figure_throughput(df).get_suptitle()
    assert fx.CPU_MODEL in title and "Python 3.11.9" in title and "start method fork" in title


def test_ci_band_contains_the_median(df: pd.DataFrame) -> None:
    table = summarize(df[df["pattern"] == "stream"], ["transport", "payload_bytes"], "mb_per_s")
    assert (table["lo"] <= table["median"]).all() and (table["median"] <= table["hi"]).all()
    assert (table["n"] == 5).all()


# --- 2. latency -----------------------------------------------------------------------------


def test_latency_has_p50_lines_and_p99_whiskers(df: pd.DataFrame) -> None:
    (ax,) = figure_latency(df).axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    transports = ok_transports(df, "pingpong")
    assert line_gids(ax) == transports
    whiskers = {c.get_gid() for c in ax.collections if c.get_gid()}
    assert {f"{t}:p99" for t in transports} <= whiskers
    assert "\u00b5s" in ax.get_ylabel()


# --- 3. latency distribution ----------------------------------------------------------------


def test_distribution_from_pooled_samples(rows: list[dict[str, Any]], df: pd.DataFrame) -> None:
    raw = fx.samples_for(rows, n=2000)
    samples = pd.DataFrame(
        [(k, v) for k, vs in raw.items() for v in vs], columns=["row_id", "lat_ns"]
    )
    fig = drawn(figure_latency_distribution(df, samples, payload_bytes=64))
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert line_gids(ax) == ok_transports(df, "pingpong")
    assert {"p50", "p90", "p99", "p99.9"} <= set(tick_texts(ax))
    assert any("raw samples pooled" in n for n in figure_notes(fig))
    # 5 repeats x 2000 samples = 10000: deep enough for p99.9 (10 beyond it), not for p99.99
    assert len(np.asarray(ax.get_lines()[0].get_xdata())) == 7


def test_distribution_without_samples_uses_percentile_columns(df: pd.DataFrame) -> None:
    fig = figure_latency_distribution(df)
    assert line_gids(fig.axes[0]) == ok_transports(df, "pingpong")
    assert any("per-repeat" in n for n in figure_notes(fig))
    assert "64 B" in fig.get_suptitle()


def test_tail_percentiles_stop_where_samples_run_out() -> None:
    # a percentile needs >= 10 samples beyond it: 150 samples reach p90 (15), not p95 (7.5)
    assert set(tail_percentiles_us(np.arange(150.0))) == {50, 75, 90}
    assert 99.9 not in tail_percentiles_us(np.full(9999, 5000.0))
    assert tail_percentiles_us(np.full(10000, 5000.0))[99.9] == pytest.approx(5.0)


# --- 4. scaling -----------------------------------------------------------------------------


def test_scaling_has_a_panel_per_pattern_and_marks_logical_cpus(df: pd.DataFrame) -> None:
    fig = figure_scaling(df)
    assert [ax.get_title() for ax in fig.axes] == ["fan", "taskqueue"]
    for ax in fig.axes:
        assert line_gids(ax) == ok_transports(df, "fan")
        assert tick_texts(ax) == ["1\u00d71", "1\u00d72", "2\u00d72", "4\u00d74"]
        assert any("2 logical CPUs" in str(line.get_label()) for line in ax.get_lines())
        assert ax.get_yscale() == "log"


def test_scaling_with_only_fan_notes_the_missing_pattern(df: pd.DataFrame) -> None:
    fig = figure_scaling(df[df["pattern"] != "taskqueue"])
    assert len(fig.axes) == 1
    assert any("taskqueue" in n for n in figure_notes(fig))


# --- 5. backpressure ------------------------------------------------------------------------


def test_backpressure_throughput_and_blocked_time_per_queue(df: pd.DataFrame) -> None:
    fig = figure_backpressure(df)
    throughput, blocked = fig.axes
    queues = ok_transports(df, "backpressure")
    assert line_gids(throughput) == queues == line_gids(blocked)
    assert tick_texts(throughput) == ["1", "10", "100", "\u221e"]
    assert "blocked" in blocked.get_ylabel()
    assert blocked.get_yscale() == "symlog"  # unbounded queues block 0 s


def test_backpressure_reads_blocked_time_loaded_as_text(df: pd.DataFrame) -> None:
    as_text = df.assign(blocked_s=df["blocked_s"].map(lambda v: None if pd.isna(v) else str(v)))
    fig = figure_backpressure(as_text.astype({"blocked_s": "str"}))
    assert line_gids(fig.axes[1]) == ok_transports(df, "backpressure")


def test_backpressure_without_blocked_column_notes_it(df: pd.DataFrame) -> None:
    fig = figure_backpressure(df.drop(columns=["blocked_s"]))
    assert line_gids(fig.axes[0]) and not line_gids(fig.axes[1])
    assert any("blocked_s" in n for n in figure_notes(fig))


# --- 6. proxy -------------------------------------------------------------------------------


def test_proxy_bars_per_object_operation_and_process_count(df: pd.DataFrame) -> None:
    fig = figure_proxy(df)
    single, shared = fig.axes
    assert single.get_title().startswith("one client") and "shared_state" in shared.get_title()
    assert bar_gids(single) == {"manager_dict", "manager_list"}
    assert bar_gids(shared) == {"manager_dict", "manager_list", "manager_queue"}
    assert tick_texts(single) == [
        "manager_dict.get",
        "manager_dict.set",
        "manager_list.append",
        "manager_list.get",
    ]
    assert "manager_queue.queue_put" in tick_texts(shared)
    hatches = {p.get_hatch() for p in rects(shared)}
    assert len(hatches) == 3  # 1, 2 and 4 processes
    assert "ops/s" in single.get_ylabel() and "aggregate" in shared.get_ylabel()


def test_proxy_with_only_proxy_ops_has_one_panel(df: pd.DataFrame) -> None:
    fig = figure_proxy(df[df["pattern"] != "shared_state"])
    assert len(fig.axes) == 1 and skip_reason(fig) is None


# --- 7. start method and placement -------------------------------------------------------------


def test_start_method_and_placement_grouped_bars() -> None:
    rows = fx.make_rows(
        transports=MESSAGE,
        sizes=(64, 4096),
        patterns=("pingpong",),
        placements=("unpinned", "same", "split"),
        start_methods=("fork", "spawn"),
        repeats=3,
    )
    fig = figure_start_method_placement(fx.frame(rows))
    methods, placements = fig.axes
    expected = set(MESSAGE) - set(IN_PROCESS_FLOORS)
    assert bar_gids(methods) == expected == bar_gids(placements)
    assert tick_texts(methods) == ["fork", "spawn"]
    assert tick_texts(placements) == ["unpinned", "same", "split"]
    assert "64 B" in fig.get_suptitle()


# --- 9. cost breakdown ----------------------------------------------------------------------


def test_cost_breakdown_shows_floors_beside_the_total_never_stacked(df: pd.DataFrame) -> None:
    fig = figure_cost_breakdown(df, payload_bytes=4096)
    (ax,) = fig.axes
    real = [t for t in transport_order(ok_transports(df, "stream")) if t not in FLOORS]
    assert tick_texts(ax) == real
    bars: dict[str, list[Any]] = {}
    for patch in rects(ax):
        bars.setdefault(str(patch.get_gid()), []).append(patch)
    assert set(bars) == {"total", "serialization", "kernel"}
    assert all(p.get_y() == 0 for ps in bars.values() for p in ps)  # nothing stacked
    table = breakdown_table(
        fix_dims(df[(df["pattern"] == "stream") & (df["payload_bytes"] == 4096)], ["transport"])[0]
    )
    heights = [p.get_height() for p in bars["total"]]
    assert heights == pytest.approx(table["total"].to_numpy())
    assert "\u00b5s" in ax.get_ylabel()
    notes = " ".join(figure_notes(fig))
    assert "not stacked" in notes and "do not add up" in notes


def test_cost_breakdown_charges_no_pickling_to_bytes_channels() -> None:
    # zmq_ipc and pipe_bytes send bytes frames: no pickle cost (the old figure charged zmq_ipc)
    rows = fx.make_rows(
        transports=("pipe", "pipe_bytes", "zmq_ipc", "faster_fifo", "pickle", "raw_socketpair"),
        sizes=(4096,),
        patterns=("stream",),
        noise_sd=0.0,
    )
    table = breakdown_table(fx.frame(rows)).set_index("transport")
    assert np.isnan(table.loc["zmq_ipc", "serialization"])
    assert np.isnan(table.loc["pipe_bytes", "serialization"])
    assert table.loc["pipe", "serialization"] > 0
    assert table.loc["faster_fifo", "serialization"] > 0  # faster_fifo pickles
    assert np.isnan(table.loc["faster_fifo", "kernel"])  # shared memory: no kernel floor
    assert table.loc["zmq_ipc", "kernel_floor"] == "raw_socketpair"
    fig = figure_cost_breakdown(fx.frame(rows), payload_bytes=4096)
    (ax,) = fig.axes
    pickle_bars = [p for p in rects(ax) if p.get_gid() == "serialization"]
    ser = {t: p.get_height() for t, p in zip(tick_texts(ax), pickle_bars, strict=True)}
    assert ser["zmq_ipc"] == 0 and ser["pipe_bytes"] == 0 and ser["pipe"] > 0
    notes = " ".join(figure_notes(fig))
    assert "no pickle bar: pipe_bytes, zmq_ipc send bytes frames" in notes
    assert "no kernel bar: faster_fifo (shared memory, no kernel copy)" in notes


def test_every_transport_says_which_raw_floor_its_bytes_cross() -> None:
    """No default: a new transport must say it, or the breakdown would draw a floor it does
    not contain (shm_ring, shm_handoff and the thread baselines once got the fastest raw one)."""
    from ipcbench import transports

    for cls in transports.all_transports():
        declared = [k for k in type.mro(cls)[:-1] if "kernel_floor" in vars(k)]
        assert declared and declared[0] is not transports.Transport, cls.name
        assert cls.kernel_floor in (None, "raw_pipe", "raw_socketpair"), cls.name
    no_kernel = {"shm_ring", "shm_handoff", "faster_fifo", "thread_queue", "thread_simplequeue"}
    assert {t: transports.get(t).kernel_floor for t in no_kernel} == dict.fromkeys(no_kernel)
    assert transports.get("queue").kernel_floor == "raw_pipe"
    assert transports.get("pipe").kernel_floor == "raw_socketpair"


def test_cost_breakdown_draws_no_kernel_floor_for_shared_memory_or_threads() -> None:
    rows = fx.make_rows(
        transports=("queue", "shm_ring", "shm_handoff", "thread_simplequeue", "raw_pipe",
                    "raw_socketpair", "pickle"),
        sizes=(4096,),
        patterns=("stream",),
        noise_sd=0.0,
    )  # fmt: skip
    table = breakdown_table(fx.frame(rows)).set_index("transport")
    assert table.loc["queue", "kernel_floor"] == "raw_pipe"
    for lane in ("shm_ring", "shm_handoff", "thread_simplequeue"):
        assert np.isnan(table.loc[lane, "kernel"]) and table.loc[lane, "kernel_floor"] == ""
    assert np.isnan(table.loc["thread_simplequeue", "serialization"])  # passed by reference
    notes = " ".join(figure_notes(figure_cost_breakdown(fx.frame(rows), payload_bytes=4096)))
    assert "no kernel bar: shm_handoff, shm_ring (shared memory, no kernel copy)" in notes
    assert "no kernel bar: thread_simplequeue (threads of one process)" in notes
    assert "no pickle bar: thread_simplequeue pass each message by reference" in notes
    assert "shm_handoff, shm_ring send bytes frames" in notes


# --- 8. comparison --------------------------------------------------------------------------


def two_machines() -> list[pd.DataFrame]:
    a = fx.make_rows(transports=MESSAGE, sizes=SIZES, patterns=("stream",))
    b = fx.make_rows(transports=MESSAGE, sizes=SIZES, patterns=("stream",), seed=9)
    for row in b:
        row["machine_id"] = "other-cpu"
        row["msgs_per_s"] *= 0.5 if row["transport"] == "queue" else 1.0
    return [fx.frame(a), fx.frame(b)]


def test_comparison_ratio_bars_and_shape_lines() -> None:
    frames = two_machines()
    cases = compare(frames, ["A", "B"]).cases
    shape = compare(frames, ["A", "B"], normalize="raw_pipe").cases
    fig = figure_comparison(cases, shape)
    bars, lines = fig.axes[0], fig.axes[1]
    assert {g.split(":")[1] for g in bar_gids(bars)} == set(MESSAGE)
    assert {g.split(":")[1] for g in line_gids(lines)} == set(MESSAGE) - {"raw_pipe"}
    assert bars.get_yscale() == "log" and lines.get_xscale() == "log"
    queue = [p for p in rects(bars) if p.get_gid() == "B:queue"]
    assert queue and all(p.get_y() + p.get_height() == pytest.approx(2.0, rel=0.15) for p in queue)


def test_comparison_figure_from_machines_and_skips() -> None:
    frames = two_machines()
    machines = [MachineResults(m, f, fx.META, []) for m, f in zip("AB", frames, strict=True)]
    fig = comparison_figure(machines)
    assert skip_reason(fig) is None and len(fig.axes) >= 2
    assert "two or more" in str(skip_reason(comparison_figure(machines[:1])))
    assert skip_reason(figure_comparison(pd.DataFrame())) is not None


# --- style ----------------------------------------------------------------------------------


def test_a_transport_has_the_same_colour_in_every_figure(df: pd.DataFrame) -> None:
    colours: dict[str, set[str]] = {}
    figures = (figure_throughput(df), figure_latency(df), figure_scaling(df))
    for fig in figures:
        for ax in fig.axes:
            for line in ax.get_lines():
                if line.get_gid():
                    transport = str(line.get_gid()).split(":")[0]
                    colours.setdefault(transport, set()).add(str(line.get_color()))
    assert all(len(c) == 1 for c in colours.values())
    assert all(c == {style_for(t).color} for t, c in colours.items())


def test_palette_is_distinct_and_unknown_names_are_stable() -> None:
    colours = [s.color for s in TRANSPORT_STYLES.values()]
    assert len(set(colours)) == len(colours)
    assert style_for("zmq_new") == style_for("zmq_new")
    assert transport_order(["raw_pipe", "zzz", "queue", "pipe"]) == [
        "pipe",
        "queue",
        "zzz",
        "raw_pipe",
    ]


def test_legends_do_not_cover_the_plotting_area(df: pd.DataFrame) -> None:
    for fig in (
        figure_throughput(df),
        figure_scaling(df),
        figure_proxy(df),
        figure_cost_breakdown(df),
    ):
        drawn(fig)
        legends = [legend for ax in fig.axes if (legend := ax.get_legend()) is not None]
        assert legends
        for legend in legends:
            box = legend.get_window_extent()
            assert not any(box.overlaps(ax.get_window_extent()) for ax in fig.axes)


def test_fixed_dimensions_use_the_most_common_value() -> None:
    rows = fx.make_rows(
        transports=("pipe",),
        sizes=(64,),
        patterns=("stream",),
        placements=("unpinned", "split"),
        repeats=3,
    )
    rows += fx.make_rows(
        transports=("pipe",), sizes=(64,), patterns=("stream",), placements=("same",), repeats=9
    )
    sliced, chosen = fix_dims(fx.frame(rows), keep=("transport", "payload_bytes"))
    assert chosen["placement"] == "unpinned"  # preferred when present
    assert set(sliced["placement"]) == {"unpinned"} and len(sliced) == 3


# --- missing data ---------------------------------------------------------------------------


def test_failed_transport_is_left_out_and_noted(rows: list[dict[str, Any]]) -> None:
    broken = fx.frame(fx.fail([dict(r) for r in rows], "queue"))
    for fig in (figure_throughput(broken), figure_latency(broken)):
        assert "queue" not in line_gids(fig.axes[0])
        assert any("queue" in n and "timeout" in n for n in figure_notes(fig))


def test_missing_patterns_give_skipped_figures_with_reasons(df: pd.DataFrame) -> None:
    only_stream = df[df["pattern"] == "stream"]
    figures = plots.render(only_stream)
    assert skip_reason(figures["throughput"]) is None
    for name in ("latency", "latency_distribution", "scaling", "backpressure", "proxy"):
        reason = skip_reason(figures[name])
        assert reason and "not run" in reason


def test_every_figure_survives_empty_and_all_failed_input(rows: list[dict[str, Any]]) -> None:
    empty = fx.frame([])
    failed = fx.frame(fx.fail([dict(r) for r in rows], "pipe"))
    failed = failed[failed["transport"] == "pipe"]
    for data in (empty, failed):
        for name, fig in plots.render(data).items():
            assert isinstance(fig, Figure), name
            assert skip_reason(fig), name
    assert "failed" in str(skip_reason(figure_throughput(failed)))


def test_save_writes_png_and_svg(tmp_path: Path, df: pd.DataFrame) -> None:
    paths = plots.save(figure_proxy(df), tmp_path / "out", "proxy")
    assert [p.name for p in paths] == ["proxy.png", "proxy.svg"]
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in paths[1].read_bytes()[:500]


def test_nearest_size() -> None:
    assert nearest_size([8, 32, 128], 64) == 32
    assert nearest_size([], 64) is None


def test_size_labels_thin_out_without_collisions() -> None:
    sizes = [8, 32, 128, 512, 2048, 8192, 32768, 131072, 524288, 2097152, 8388608, 16777216]
    kept = spaced_ticks(sizes)
    assert kept[0] == 8 and kept[-1] == 16777216 and 8388608 not in kept
    assert spaced_ticks([64, 4096, 262144]) == [64, 4096, 262144]


def test_not_applicable_parameters_match_any_choice() -> None:
    rows = fx.make_rows(transports=("pipe", "memcpy"), sizes=(64,), patterns=("stream",))
    for row in rows:
        if row["transport"] == "memcpy":
            row["start_method"] = None  # in-process floors have no start method
    (ax,) = figure_throughput(fx.frame(rows)).axes
    assert line_gids(ax) == {"pipe", "memcpy"}


# --- decision map and machines side by side ---------------------------------------------------


def test_decision_map_has_a_cell_per_shape_and_size(df: pd.DataFrame) -> None:
    from ipcbench.analysis import advise

    fig = drawn(figure_decision_map(df))
    assert skip_reason(fig) is None
    (ax, *_) = fig.axes
    dmap = advise.decision_map(df.to_dict("records"))
    cells = [p for p in rects(ax) if p.get_width() < 1]
    assert len(cells) == len(dmap.cells) and len(dmap.cells) > 3
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == [
        "pingpong\n(round trip)",
        "stream\n(one-way)",
    ]
    assert tick_texts(ax) == ["64 B", "4 KiB", "1 MiB"]
    texts = {t.get_text() for t in ax.texts}
    for cell in dmap.cells:
        if cell.ranking.verdict == "winner":
            assert any(t.startswith(cell.ranking.best.transport + "\n") for t in texts)
    hatched = [p for p in cells if p.get_hatch()]
    assert len(hatched) == sum(c.ranking.verdict == "tie" for c in dmap.cells)


def test_decision_map_colours_the_winner() -> None:
    few = (10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.6)
    rows = [
        {**r, "row_id": f"r{i}"}
        for i, r in enumerate(
            fa.crafted_rows({"pipe_bytes": few, "queue": tuple(v * 3 for v in few)}, "pingpong")
        )
    ]
    fig = drawn(figure_decision_map(fx.frame(rows)))
    (cell,) = [p for p in rects(fig.axes[0]) if p.get_width() < 1]
    assert cell.get_facecolor()[:3] == pytest.approx(
        matplotlib.colors.to_rgb(style_for("pipe_bytes").color)
    )
    assert not cell.get_hatch()
    assert "pipe_bytes\n3.0\u00d7 vs queue" in {t.get_text() for t in fig.axes[0].texts}


def test_decision_map_without_rankable_rows_is_skipped() -> None:
    fig = figure_decision_map(fx.frame(fx.make_rows(patterns=("proxy_ops",))))
    assert skip_reason(fig) is not None


def test_machines_figure_bars_are_multiples_of_each_machines_raw_pipe(tmp_path: Path) -> None:
    fa.write_machine(tmp_path, "base")
    fa.write_machine(tmp_path, "slow_queue", transport_factors={"queue": 1.3})
    machines = load_machines([tmp_path])
    fig = drawn(figure_machines(machines))
    assert skip_reason(fig) is None
    top, _, ping, _ = fig.axes  # absolute above, normalised below; pingpong, stream
    assert top.get_title() == "pingpong 64 B"
    assert tick_texts(top) == ["pipe", "queue", "raw_pipe"]
    assert sorted(round(p.get_height(), 1) for p in rects(top)) == [
        10.0,
        10.0,
        20.0,
        20.0,
        50.0,
        65.1,
    ]
    assert tick_texts(ping) == ["pipe", "queue"]
    heights = sorted(round(p.get_height(), 2) for p in rects(ping))
    assert heights == [2.0, 2.0, 5.0, 6.5]
    assert skip_reason(figure_machines(machines[:1])) is not None
