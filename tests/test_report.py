"""Report (HTML + Markdown) and the plot/report commands: sections, figures, findings, errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import fixtures_plots as fx
import pandas as pd
import pytest

from ipcbench import cli, plots, report
from ipcbench.commands import plot as plot_command
from ipcbench.errors import IpcbenchError

SECTIONS = (
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


@pytest.fixture(scope="module")
def written(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> report.ReportFiles:
    (machine,) = plots.load_machines([results_dir])
    return report.write_report(machine, tmp_path_factory.mktemp("report"))


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
    findings = report.key_findings(exact)
    # pingpong at 64 B: pipe 2 x (12 + 64/900) us vs queue 2 x (25 + 64/700) us -> 2.08x
    assert (
        "pipe is 2.1\u00d7 faster than queue at 64 B on this CPU (pingpong, p = 0.0079)."
        in findings
    )
    assert any(f.startswith("At 64 KiB, the fastest transport (pipe) reaches") for f in findings)
    assert any(f.startswith("Manager proxy operations cost") for f in findings)


def test_recommendations_best_margin_and_significance(exact: pd.DataFrame) -> None:
    table = report.recommendation_table(exact)
    rows = {(r[0], r[1]): r for r in table.rows}
    best = rows[("pingpong (lat_p50_us)", "64 B")]
    assert best[3:] == ["pipe", "24.1 \u00b5s", "simplequeue", "1.50\u00d7", "yes (p = 0.0079)"]
    assert all("memcpy" not in r and "raw_pipe" not in r for r in table.rows)


def test_recommendation_margin_not_significant_with_few_repeats() -> None:
    df = fx.frame(
        fx.make_rows(transports=("pipe", "queue"), sizes=(64,), patterns=("stream",), repeats=3)
    )
    (row,) = report.recommendation_table(df).rows
    assert row[-1].startswith("no (p = ")


def test_single_transport_has_no_runner_up() -> None:
    df = fx.frame(fx.make_rows(transports=("pipe",), sizes=(64,), patterns=("stream",)))
    (row,) = report.recommendation_table(df).rows
    assert row[-1] == "only one transport"


def test_markdown_tables_escape_pipes() -> None:
    text = report.to_markdown([report.Table(["a"], [["x | y"]])])
    assert "x \\| y" in text


# --- commands -------------------------------------------------------------------------------


def csv_bytes(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*.csv")}


def test_report_command_writes_into_out_and_leaves_results_alone(
    results_dir: Path, tmp_path: Path
) -> None:
    before = csv_bytes(results_dir)
    assert cli.main(["report", str(results_dir), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "report.html").is_file()
    assert (tmp_path / "r" / "report.md").is_file()
    assert csv_bytes(results_dir) == before


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
        "import sys, ipcbench.commands.plot, ipcbench.commands.report; "
        "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_placement_finding_compares_split_with_same_cpu() -> None:
    rows = fx.make_rows(
        transports=("pipe", "queue"),
        sizes=(64,),
        patterns=("pingpong",),
        placements=("same", "split"),
        noise_sd=0.0,
    )
    findings = report.key_findings(fx.frame(rows))
    assert any(
        f.startswith("CPU placement matters: at 64 B") and "3.0\u00d7" in f for f in findings
    )


def test_a_difference_that_is_not_significant_is_not_called_faster() -> None:
    from ipcbench.report import Ranked, _pair_sentence

    noisy = Ranked(
        pattern="pingpong",
        payload_bytes=64,
        producers=1,
        consumers=1,
        metric="lat_p50_us",
        higher_is_better=False,
        values={"pipe": [10.0, 30.0, 11.0, 29.0, 12.0], "queue": [14.0, 28.0, 13.0, 31.0, 15.0]},
    )
    sentence = _pair_sentence(noisy, "pipe", "queue")
    assert "faster" not in sentence
    assert sentence.startswith("pipe and queue do not differ significantly at 64 B")


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
