"""How long do ``ipcbench plot`` and ``ipcbench report`` take on a realistic results file?

    python bench/bench_plots.py [--repeats 5] [--samples 2000] [--keep DIR]

Writes a synthetic run (13 transports x 12 sizes x pingpong/stream/proxy_ops x 5 repeats, a
second placement for pingpong, and fan/taskqueue/backpressure/shared_state at 1 KiB: ~2,800
rows, ~3 M raw latency samples) with the real
ResultWriter, then times load, all figures (PNG + SVG) and the full report, each in a fresh
process through the CLI (so imports count, as for a user). Target: plot + report <= 20 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import fixtures_plots as fx  # noqa: E402

from ipcbench.params import DEFAULT_SIZES  # noqa: E402

TARGET_S = 20.0


def write_fixture(root: Path, repeats: int, samples: int) -> Path:
    """The synthetic run under root/results/<machine-id>/; returns the results folder."""
    rows = fx.make_rows(
        sizes=DEFAULT_SIZES, patterns=("pingpong", "stream", "proxy_ops"), repeats=repeats
    )
    split = fx.make_rows(
        transports=fx.MESSAGE_TRANSPORTS,
        sizes=DEFAULT_SIZES,
        patterns=("pingpong",),
        placements=("split",),
        repeats=repeats,
        seed=7,
    )
    scaling = fx.make_rows(
        sizes=(1024,),
        patterns=("fan", "taskqueue", "backpressure", "shared_state"),
        repeats=repeats,
        seed=8,
    )
    for i, row in enumerate(split + scaling):
        row["row_id"] = f"s{i:06d}"
    split += scaling
    fx.fail(rows, "manager_queue", error="manager did not answer")  # a failed transport, too
    fx.write_run(root / "results" / fx.MACHINE_ID, rows + split, samples=samples)
    print(f"fixture: {len(rows) + len(split)} rows, {samples} samples per latency row")
    return root / "results"


def timed(args: list[str]) -> float:
    """Run ``python -m ipcbench ARGS`` in a fresh process; return its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ipcbench", *args],
        check=True,
        cwd=REPO,
        capture_output=True,
        env={"PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"},
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=2000, help="samples per latency row")
    parser.add_argument("--keep", type=Path, help="write fixture and output here (kept)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ipcbench-bench-plots-") as tmp:
        root = args.keep or Path(tmp)
        results = write_fixture(root, args.repeats, args.samples)
        plot_s = timed(["plot", str(results), "--out", str(root / "plots")])
        report_s = timed(["report", str(results), "--out", str(root / "report")])
    total = plot_s + report_s
    print(f"plot (all figures, PNG + SVG): {plot_s:6.1f} s")
    print(f"report (figures + HTML + MD):  {report_s:6.1f} s")
    print(
        f"total: {total:.1f} s (target <= {TARGET_S:.0f} s) {'OK' if total <= TARGET_S else 'SLOW'}"
    )
    return 0 if total <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
