"""Report (HTML + Markdown) and the plot/report commands: sections, figures, findings, errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fixtures_analysis as fa
import fixtures_plots as fx
import pandas as pd
import pytest

from ipcbench import cli
from ipcbench.analysis import summary
from ipcbench.cli import plot as plot_command
from ipcbench.errors import IpcbenchError
from ipcbench.results.schema import human_size
from ipcbench.views import plots, report
from ipcbench.views.report.analysis import analyse
from ipcbench.views.report.blocks import Table, to_markdown
from ipcbench.views.report.findings import key_findings
from ipcbench.views.report.tables import recommendation_table, stability_lines

SECTIONS = (
    "Decision map",
    "Machine",
    "Key findings",
    "Recommendations",
    "Figures",
    "Stability warnings",
    "Failed cases",
)
TRANSPORTS = (
    "pipe",
    "queue",
    "simplequeue",
    "memcpy",
    "pickle",
    "raw_pipe",
    "raw_socketpair",
    "manager_queue",
    "manager_dict",
    "manager_list",
)


def small_rows(**kw: object) -> list[dict[str, Any]]:
    options: dict[str, Any] = {
        "transports": TRANSPORTS,
        "sizes": (64, 65536),
        "patterns": ("pingpong", "stream", "proxy_ops"),
        **kw,
    }
    return fx.make_rows(**options)


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("results")
    rows = fx.fail(small_rows(), "manager_queue", error="manager did not answer")
    fx.write_run(root / fx.MACHINE_ID, rows)
    return root


@dataclass(frozen=True)
class CommandRun:
    """``ipcbench report RESULTS --out OUT`` run once for the module: what it wrote, and the
    result files (CSV) just before and just after it."""

    out: Path
    files: report.ReportFiles
    before: dict[Path, bytes]
    after: dict[Path, bytes]


@pytest.fixture(scope="module")
def command_run(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> CommandRun:
    out = tmp_path_factory.mktemp("report") / "r"  # not there yet: the command makes it
    before = csv_bytes(results_dir)
    assert cli.main(["report", str(results_dir), "--out", str(out)]) == 0
    after = csv_bytes(results_dir)
    figures = sorted(p for p in out.iterdir() if p.suffix in (".png", ".svg"))
    files = report.ReportFiles(out / report.HTML_NAME, out / report.MARKDOWN_NAME, figures)
    return CommandRun(out, files, before, after)


@pytest.fixture(scope="module")
def written(command_run: CommandRun) -> report.ReportFiles:
    """The module's one report of results_dir (the tests only read it): the command's."""
    return command_run.files


# --- report contents ------------------------------------------------------------------------


def test_html_and_markdown_have_every_section(written: report.ReportFiles) -> None:
    html = written.html.read_text(encoding="utf-8")
    markdown = written.markdown.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f">{section}</h2>" in html
        assert f"\n## {section}\n" in markdown


def test_every_figure_the_markdown_references_exists(written: report.ReportFiles) -> None:
    markdown = written.markdown.read_text(encoding="utf-8")
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert {"throughput.png", "latency.png", "proxy.png", "cost_breakdown.png"} <= set(linked)
    for name in linked:
        assert (written.markdown.parent / name).is_file(), name
        assert (written.markdown.parent / name.replace(".png", ".svg")).is_file()


def test_html_is_self_contained(written: report.ReportFiles) -> None:
    html = written.html.read_text(encoding="utf-8")
    markdown = written.markdown.read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,') == markdown.count("![")
    assert not re.search(r'(src|href)="(?!data:|#)', html)


def test_skipped_figures_are_listed_with_reasons(written: report.ReportFiles) -> None:
    markdown = written.markdown.read_text(encoding="utf-8")
    assert "- scaling: no 'fan/taskqueue' rows" in markdown
    assert "- backpressure: no 'backpressure' rows" in markdown


def test_failed_cases_and_warnings_are_reported(written: report.ReportFiles) -> None:
    markdown = written.markdown.read_text(encoding="utf-8")
    failed = markdown.split("## Failed cases")[1]
    assert "manager_queue" in failed and "manager did not answer" in failed
    warnings = markdown.split("## Stability warnings")[1].split("## Failed cases")[0]
    assert fx.META["warnings"][0] in warnings
    assert "manager_queue" not in warnings  # all-failed cases are failures, not instability


def test_machine_table_lists_metadata(written: report.ReportFiles) -> None:
    machine = written.markdown.read_text(encoding="utf-8").split("## Key findings")[0]
    for fact in (fx.MACHINE_ID, fx.CPU_MODEL, "CPython 3.11.9", "| logical CPUs | 2 |"):
        assert fact in machine


# --- computed findings and recommendations (exact numbers: no noise) --------------------------


@pytest.fixture(scope="module")
def exact() -> pd.DataFrame:
    return fx.frame(small_rows(noise_sd=0.0))


def test_key_findings_name_the_ratio(exact: pd.DataFrame) -> None:
    findings = key_findings(exact)
    # pingpong at 64 B: pipe 2 x (12 + 64/900) us vs queue 2 x (25 + 64/700) us -> 2.08x
    assert (
        "pipe is 2.1\u00d7 faster than queue at 64 B on this CPU (pingpong; bytes, fork, "
        "unpinned; p = 0.0079, q = 0.0079)." in findings
    )
    assert any(
        f.startswith(
            "At 64 KiB (bytes, fork, unpinned), the fastest multiprocessing channel (pipe) reaches"
        )
        for f in findings
    )
    assert any("one Manager proxy operation takes" in f for f in findings)


def test_recommendations_best_margin_and_significance(exact: pd.DataFrame) -> None:
    table = recommendation_table(exact)
    rows = {(r[0], r[1]): r for r in table.rows}
    best = rows[("pingpong (lat_p50_us)", "64 B")]
    assert best[2:5] == ["bytes, fork, unpinned", "1\u00d71", "pipe"]
    assert best[6:] == ["simplequeue", "1.50\u00d7", "yes (p = 0.0079, q = 0.0079)"]
    assert all("memcpy" not in r and "raw_pipe" not in r for r in table.rows)


def test_recommendation_margin_not_significant_with_few_repeats() -> None:
    df = fx.frame(
        fx.make_rows(transports=("pipe", "queue"), sizes=(64,), patterns=("stream",), repeats=3)
    )
    (row,) = recommendation_table(df).rows
    assert row[-1].startswith("no (p = ")
    assert row[4] == "tie: pipe, queue"  # never a lone name that does not beat the runner-up


def test_single_transport_has_no_runner_up() -> None:
    df = fx.frame(fx.make_rows(transports=("pipe",), sizes=(64,), patterns=("stream",)))
    (row,) = recommendation_table(df).rows
    assert row[-1] == "only one channel"
    assert row[4] == "pipe (only channel)"


def test_markdown_tables_escape_pipes() -> None:
    text = to_markdown([Table(["a"], [["x | y"]])])
    assert "x \\| y" in text


# --- commands -------------------------------------------------------------------------------


def csv_bytes(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*.csv")}


def test_report_command_writes_into_out_and_leaves_results_alone(
    command_run: CommandRun,
) -> None:
    assert (command_run.out / "report.html").is_file()
    assert (command_run.out / "report.md").is_file()
    assert command_run.before and command_run.after == command_run.before


def test_plot_command_draws_the_chosen_figures(results_dir: Path, tmp_path: Path) -> None:
    code = cli.main(
        ["plot", str(results_dir), "--figures", "throughput,latency", "--out", str(tmp_path)]
    )
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "latency.png",
        "latency.svg",
        "throughput.png",
        "throughput.svg",
    ]


def test_plot_command_with_two_machines_adds_the_comparison(tmp_path: Path) -> None:
    rows = small_rows(patterns=("stream",))
    fx.write_run(tmp_path / "res" / "a", rows, samples=0)
    other = [{**r, "machine_id": "other-cpu"} for r in small_rows(patterns=("stream",), seed=3)]
    fx.write_run(
        tmp_path / "res" / "b", other, samples=0, meta={**fx.META, "machine_id": "other-cpu"}
    )
    code = cli.main(
        [
            "plot",
            str(tmp_path / "res"),
            "--figures",
            "throughput,comparison",
            "--out",
            str(tmp_path / "plots"),
        ]
    )
    assert code == 0
    assert (tmp_path / "plots" / "comparison" / "comparison.png").is_file()
    assert (tmp_path / "plots" / fx.MACHINE_ID / "throughput.png").is_file()
    assert (tmp_path / "plots" / "other-cpu" / "throughput.svg").is_file()


def test_figure_names_match_the_plots_module() -> None:
    assert plot_command.FIGURE_NAMES == plots.FIGURE_NAMES
    assert set(plots.FIGURE_NAMES) <= set(report.CAPTIONS)


@pytest.mark.parametrize(
    "content",
    [
        "",
        "name,value\nx,1\n",
        "schema_version,run_id\n1,r",
    ],
)
def test_bad_csv_is_a_user_error(
    tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(content, encoding="utf-8")
    for command in ("plot", "report"):
        assert cli.main([command, str(bad), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("ipcbench: error:") and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_truncated_result_file_is_a_user_error(results_dir: Path, tmp_path: Path) -> None:
    (source,) = (results_dir / fx.MACHINE_ID).glob("*.csv")
    cut = tmp_path / "cut.csv"
    cut.write_bytes(source.read_bytes()[:-40])
    with pytest.raises(IpcbenchError, match="incomplete row"):
        plots.load_machines([cut])


def test_folder_without_results_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(IpcbenchError, match="no result files"):
        plots.load_machines([tmp_path])


def test_unknown_figure_and_out_file_are_user_errors(results_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(IpcbenchError, match="unknown figure 'nope'; valid: throughput"):
        plot_command.split_names(["throughput,nope"], plot_command.FIGURE_NAMES, "figure")
    afile = tmp_path / "file"
    afile.write_text("x")
    assert cli.main(["plot", str(results_dir), "--out", str(afile)]) == 2


def test_commands_import_no_pandas_or_matplotlib() -> None:
    code = (
        "import sys, ipcbench.cli.plot, ipcbench.cli.report; "
        "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# --- a real browser ---------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (Debian: apt-get install chromium)"
)


def _screenshot_module() -> Any:
    sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
    try:
        import screenshot_report
    finally:
        sys.path.pop(0)
    return screenshot_report


@needs_chromium
def test_report_renders_in_headless_chromium(written: report.ReportFiles, tmp_path: Path) -> None:
    shot = _screenshot_module().screenshot(
        written.html, tmp_path / "report.png", chromium=str(CHROMIUM)
    )
    assert shot.stat().st_size > 50_000  # a page with figures, not a blank one
    assert not list(written.html.parent.glob(".*.checked.html"))  # the checked copy is gone


@needs_chromium
def test_a_broken_image_in_the_page_is_caught(tmp_path: Path) -> None:
    module = _screenshot_module()
    page = tmp_path / "bad.html"
    page.write_text('<html><body><img src="missing.png"></body></html>')
    with pytest.raises(module.RenderError, match=r"broken image: missing\.png"):
        module.screenshot(page, tmp_path / "bad.png", 400, 300, chromium=str(CHROMIUM))


# --- sentences that are tested: crafted cases of the issue ------------------------------------


def crafted(*parts: list[dict[str, Any]]) -> pd.DataFrame:
    rows = [row for part in parts for row in part]
    for i, row in enumerate(rows):
        row["row_id"] = f"c-{i}"
    return fx.frame(rows)


def test_best_is_not_said_when_the_runner_up_is_not_beaten() -> None:
    # the make-bench report: "At 8 B, pipe_bytes has the best round-trip latency (74.5 us),
    # 4.7x faster than manager_queue" while pipe_bytes vs pipe was p = 0.22
    df = crafted(fa.crafted_rows(fa.TIE_8B_P022, "pingpong", 8))
    findings = key_findings(df)
    (sentence,) = [f for f in findings if f.startswith("At 8 B")]
    assert "has the best" not in sentence
    assert sentence.startswith(
        "At 8 B (bytes, fork, unpinned), pipe_bytes and pipe do not differ significantly in "
        "round-trip latency (74.5 \u00b5s and 80.8 \u00b5s; pipe vs pipe_bytes: 1.08\u00d7, "
        "p = 0.22, q = 0.22): no single channel is best."
    )
    assert "Significantly slower than pipe_bytes: manager_queue (4.7\u00d7, p = 0.0079" in sentence


def test_best_is_said_when_it_beats_every_other_channel() -> None:
    values = {**fa.TIE_8B_P022, "pipe": tuple(v * 2 for v in fa.TIE_8B_P022["pipe"])}
    findings = key_findings(crafted(fa.crafted_rows(values, "pingpong", 8)))
    assert any(
        f.startswith("At 8 B (bytes, fork, unpinned), pipe_bytes has the best round-trip latency")
        and "faster than the runner-up pipe" in f
        for f in findings
    )


def test_recommendation_at_128_B_is_a_tie_between_sizes_led_by_pipe_bytes() -> None:
    # the recommendations table named simplequeue best at 128 B ("no (p = 0.42)")
    lead = {"pipe_bytes": (30.0, 31.0, 32.0, 33.0, 34.0), "simplequeue": (50, 51, 52, 53, 54.0)}
    df = crafted(
        fa.crafted_rows(lead, "pingpong", 64),
        fa.crafted_rows(fa.TIE_128B_P042, "pingpong", 128),
        fa.crafted_rows(lead, "pingpong", 256),
    )
    rows = {r[1]: r for r in recommendation_table(df).rows}
    assert rows["64 B"][4] == rows["256 B"][4] == "pipe_bytes"
    tie = rows["128 B"]
    assert tie[4] == "tie: simplequeue, pipe_bytes"
    assert tie[6:] == ["pipe_bytes", "1.07\u00d7", "no (p = 0.42, q = 0.42)"]


def test_rankings_never_mix_placements_or_start_methods() -> None:
    fast_split = {"queue": (10.0, 10.1, 10.2, 10.3, 10.4), "pipe": (20.0, 20.1, 20.2, 20.3, 20.4)}
    fast_same = {"pipe": (10.0, 10.1, 10.2, 10.3, 10.4), "queue": (20.0, 20.1, 20.2, 20.3, 20.4)}
    df = crafted(
        fa.crafted_rows(fast_split, "pingpong", 64, placement="split"),
        fa.crafted_rows(fast_same, "pingpong", 64, placement="same"),
        fa.crafted_rows(fast_same, "pingpong", 64, placement="same", start_method="spawn"),
    )
    rows = {r[2]: r[4] for r in recommendation_table(df).rows}
    assert rows == {
        "bytes, fork, same": "pipe",
        "bytes, fork, split": "queue",
        "bytes, spawn, same": "pipe",
    }


FLOOR_167 = {
    "raw_socketpair": (99_000.0, 99_500.0, 100_000.0, 100_500.0, 101_000.0),
    "raw_pipe": (80_000.0, 80_500.0, 81_000.0, 81_500.0, 82_000.0),
    "zmq_ipc": (166_000.0, 166_500.0, 167_000.0, 167_500.0, 168_000.0),
    "pipe": (59_000.0, 59_500.0, 60_000.0, 60_500.0, 61_000.0),
}


def test_a_peer_above_the_floor_is_not_charged_to_multiprocessing() -> None:
    # the old finding: "zmq_ipc reaches 167% of the raw_socketpair floor's throughput: the rest
    # is the cost of the multiprocessing machinery"
    findings = key_findings(crafted(fa.crafted_rows(FLOOR_167, "stream", 65536)))
    floor = [f for f in findings if "floor" in f]
    assert len(floor) == 2
    assert floor[0].startswith(
        "At 64 KiB (bytes, fork, unpinned), the fastest multiprocessing channel (pipe) reaches "
        "60% of the raw_socketpair floor's throughput"
    )
    assert floor[1].startswith(
        "At 64 KiB (bytes, fork, unpinned), zmq_ipc (a peer library, not multiprocessing) "
        "moves 167% of the raw_socketpair floor's throughput"
    )
    assert "raw_socketpair is not a floor for it" in floor[1]
    assert not any("167%" in f and "multiprocessing adds" in f for f in findings)


def test_a_multiprocessing_channel_above_the_floor_is_said_plainly() -> None:
    values = {**FLOOR_167, "pipe": FLOOR_167["zmq_ipc"]}
    del values["zmq_ipc"]
    findings = key_findings(crafted(fa.crafted_rows(values, "stream", 65536)))
    (floor,) = [f for f in findings if "floor" in f]
    assert "pipe moves 167% of the raw_socketpair floor's throughput" in floor
    assert "not a floor here and says nothing about multiprocessing's cost" in floor


def test_a_channel_level_with_the_floor_is_a_tie() -> None:
    values = {
        "raw_socketpair": FLOOR_167["raw_socketpair"],
        "pipe": (99_200.0, 99_700, 100_100, 100_400, 100_900),
    }
    findings = key_findings(crafted(fa.crafted_rows(values, "stream", 65536)))
    (floor,) = [f for f in findings if "floor" in f]
    assert "does not differ significantly from the raw_socketpair floor" in floor
    assert "no cost of multiprocessing is measurable" in floor


SAME_US = (20.0, 20.5, 21.0, 21.5, 22.0)


def test_placement_without_a_difference_is_no_finding_of_a_difference() -> None:
    # the old finding: "CPU placement matters ... 1.0x to 1.0x"
    values = {"pipe": SAME_US, "queue": tuple(v * 2 for v in SAME_US)}
    df = crafted(
        fa.crafted_rows(values, "pingpong", 64, placement="same"),
        fa.crafted_rows(
            {"pipe": (20.2, 20.7, 21.1, 21.3, 22.1), "queue": tuple(v * 2.01 for v in SAME_US)},
            "pingpong",
            64,
            placement="split",
        ),
    )
    (placement,) = [f for f in key_findings(df) if "('split')" in f]
    assert "1.0\u00d7" not in placement and "matters" not in placement
    assert placement.startswith(
        "At 64 B (bytes, fork), a round trip across CPUs ('split') does not differ "
        "significantly from one on one CPU ('same') for pipe and queue"
    )


def test_placement_difference_is_tested_per_channel() -> None:
    values = {"pipe": SAME_US, "queue": tuple(v * 2 for v in SAME_US)}
    split = {"pipe": tuple(v * 3 for v in SAME_US), "queue": (40.1, 41.2, 41.9, 43.1, 43.8)}
    df = crafted(
        fa.crafted_rows(values, "pingpong", 64, placement="same"),
        fa.crafted_rows(split, "pingpong", 64, placement="split"),
    )
    (placement,) = [f for f in key_findings(df) if "('split')" in f]
    assert "is significantly slower than on one CPU ('same') for pipe (3.0\u00d7" in placement
    assert "does not differ significantly for queue" in placement


PROXY_US: dict[str, tuple[float, ...]] = {"manager_dict": (1600.0, 1630.0, 1660.0, 1690.0, 1720.0)}


def proxy_rows(
    size: int, op: str, values: dict[str, tuple[float, ...]], **kw: Any
) -> list[dict[str, Any]]:
    return fa.crafted_rows(values, "proxy_ops", size, op=op, **kw)


def test_proxy_finding_is_readable_at_a_small_size_and_compared_like_with_like() -> None:
    # the old finding: "Manager proxy operations cost 1.66e+03 us (manager_list get) to
    # 2.62e+03 us (manager_dict set) each (p50), 0.7x to 1.1x a Pipe round trip at 2 MiB"
    df = crafted(
        proxy_rows(64, "set", PROXY_US),
        proxy_rows(64, "get", {"manager_list": (40.0, 41.0, 42.0, 43.0, 44.0)}),
        proxy_rows(2097152, "set", {"manager_dict": (2600.0, 2610, 2620, 2630, 2640)}),
        fa.crafted_rows({"pipe": (20.0, 20.5, 21.0, 21.5, 22.0)}, "pingpong", 64),
        fa.crafted_rows({"pipe": (2500.0, 2510, 2520, 2530, 2540)}, "pingpong", 2097152),
    )
    (proxy,) = [f for f in key_findings(df) if "Manager proxy" in f]
    assert "e+0" not in proxy and "2 MiB" not in proxy
    assert proxy.startswith(
        "At 64 B (bytes, fork, unpinned), one Manager proxy operation takes 42.0 \u00b5s "
        "(manager_list get) to 1,660 \u00b5s (manager_dict set) (p50, median over repeats): "
        "2.0\u00d7 to 79\u00d7 a Pipe round trip of the same size"
    )


def test_proxy_finding_does_not_compare_across_start_methods() -> None:
    df = crafted(
        proxy_rows(64, "set", PROXY_US),
        fa.crafted_rows({"pipe": SAME_US}, "pingpong", 64, start_method="spawn"),
    )
    (proxy,) = [f for f in key_findings(df) if "Manager proxy" in f]
    assert "no Pipe round trip was measured in the same setting" in proxy


def test_proxy_measured_only_at_large_sizes_is_said_plainly() -> None:
    df = crafted(proxy_rows(2097152, "set", PROXY_US))
    (proxy,) = [f for f in key_findings(df) if "Manager proxy" in f]
    assert proxy.startswith("Manager proxy operations were measured only at 2 MiB and above")


def test_stability_warnings_are_grouped_by_pattern_and_cause_worst_first() -> None:
    noisy = (1.0, 1.5, 0.6, 1.2, 0.9)  # CV ~ 33 %
    very_noisy = (1.0, 3.0, 0.3, 1.5, 0.5)  # CV ~ 85 %
    parts = [
        fa.crafted_rows({"pipe": tuple(100.0 * f for f in noisy)}, "stream", size)
        for size in (64, 128, 256, 512, 1024)
    ]
    parts.append(fa.crafted_rows({"queue": tuple(100.0 * f for f in very_noisy)}, "stream", 64))
    parts.append(fa.crafted_rows({"pipe": (10.0, 10.1, 10.2)}, "pingpong", 128))
    parts.append(fa.crafted_rows({"pipe": tuple(20.0 * f for f in noisy)}, "pingpong", 64))
    meta = {"warnings": ["load average 1.5 at start", "pipe stream 64 B bytes fork unpinned: x"]}
    lines = stability_lines(crafted(*parts), meta)
    assert lines == summary.grouped_warnings(crafted(*parts).to_dict("records"), meta["warnings"])
    assert lines[0] == "load average 1.5 at start"  # per-case metadata lines are recomputed
    assert len(lines) == 4
    assert lines[1].startswith("pingpong: 1 case has fewer than 5 ok repeats")
    assert lines[2].startswith("stream: 6 cases vary more than 10% between repeats")
    assert "(queue stream 64 B bytes fork unpinned (CV 8" in lines[2]
    assert lines[2].endswith("; and 3 more); quiet the machine, pin CPUs or take more repeats.")
    assert lines[3].startswith("pingpong: 1 case varies more than 10%")


# --- decision map first; several machines in one report -------------------------------------


def test_decision_map_is_the_first_section_with_its_figure(written: report.ReportFiles) -> None:
    markdown = written.markdown.read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", markdown, flags=re.M)
    assert sections[0] == "Decision map"
    first = markdown.split("## Machine\n")[0]
    assert "![Decision map: which channel, per payload size and shape](decision_map.png)" in first
    assert "### Pipe vs Queue vs Manager" in first and "| queue / pipe |" in first
    assert (written.markdown.parent / "decision_map.png").is_file()
    html = written.html.read_text(encoding="utf-8")
    assert 'id="fig-decision_map"' in html
    assert html.index('id="decision-map"') < html.index('id="machine"')


def test_decision_map_and_recommendations_agree(exact: pd.DataFrame) -> None:
    """One family: a cell of the map says what the recommendation row of its group says."""
    analysis = analyse(exact)
    dmap = report.decision_map(exact, analysis)
    table = recommendation_table(exact, analysis)
    verdicts = {
        (row[0].split(" ")[0], row[1]): row[4] for row in table.rows if row[3] == "1\u00d71"
    }
    assert dmap.cells
    for cell in dmap.cells:
        verdict = verdicts[(cell.shape, human_size(cell.payload_bytes))]
        assert verdict.replace("tie: ", "").replace(", ", " = ") == cell.label


def test_report_of_several_machines_finds_exactly_the_injected_differences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each machine's own figures (plots.render: one machine's rows, the same with or without
    # others) are drawn in `written`; here only the figures of several machines (comparison,
    # machines) and the decision map, 9 figures instead of 24.
    monkeypatch.setattr(plots, "render", lambda *args, **kwargs: {})
    fa.write_machine(tmp_path / "res", "base")
    fa.write_machine(tmp_path / "res", "slow_all", factor=1.5)
    fa.write_machine(tmp_path / "res", "slow_queue", transport_factors={"queue": 1.3})
    code = cli.main(["report", str(tmp_path / "res"), "-o", str(tmp_path / "out")])
    assert code == 0
    markdown = (tmp_path / "out" / "base" / "report.md").read_text(encoding="utf-8")
    section = markdown.split("## Machines\n")[1].split("\n## ")[0]
    found = [line[2:] for line in section.splitlines() if line.startswith("- ")]
    assert found == fa.MACHINE_DIFFERENCE_SENTENCES
    assert "| channel | figure | base | slow_all | slow_queue |" in section
    assert "![Machines side by side" in section
    assert (tmp_path / "out" / "base" / "machines.png").is_file()
    # every machine's report has the section, from its own point of view
    other = (tmp_path / "out" / "slow_all" / "report.md").read_text(encoding="utf-8")
    assert "base is 1.50\u00d7 faster than slow_all across every channel" in other


def test_one_machine_has_no_machines_section(written: report.ReportFiles) -> None:
    assert "## Machines" not in written.markdown.read_text(encoding="utf-8")


def test_report_folder_is_created_or_refused_in_one_line(
    results_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a report whose figures were all skipped (a startup-only run) crashed with a
    traceback when --out did not exist yet; an unwritable one still does not."""
    nested = tmp_path / "a" / "b"
    (machine,) = plots.load_machines([results_dir])
    written = report.write_report(machine, nested, names=())  # no figure drawn
    assert written.html.exists() and written.markdown.exists()
    blocked = tmp_path / "file"
    blocked.write_text("x")
    code = cli.main(["report", str(results_dir), "-o", str(blocked / "sub")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cannot write the report to" in err[0]
