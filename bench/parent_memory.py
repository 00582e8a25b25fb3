"""The runner's (parent's) peak memory for a run and for one 4x longer in repeats and in
messages per batch: it must not grow with either (rows and samples go to disk as they come).

Each run is a fresh ``ipcbench run`` process; its peak RSS is what the run's metadata records
(``time_use.runner_peak_rss_mib``, the runner's own VmHWM at the run's end). Pingpong keeps a
latency sample per message, so 4x the messages is 4x the samples passing through the runner.

    .venv/bin/python bench/parent_memory.py [--scale 4] [-- ipcbench run flags for the cases]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = ["-t", "pipe,queue", "-p", "pingpong,stream", "-s", "64,64K"]
REPEATS, TARGET_TIME_S = 5, 0.05


def peak_mib(flags: list[str], repeats: int, target_time_s: float) -> tuple[float, int]:
    """(the runner's peak RSS in MiB, rows written) of one run."""
    with tempfile.TemporaryDirectory() as out:
        run = [sys.executable, "-m", "ipcbench", "run", *flags, "--repeats", str(repeats),
               "--target-time", str(target_time_s), "-o", out, "-q"]  # fmt: skip
        subprocess.run(run, check=True, stdout=subprocess.DEVNULL)
        (meta_path,) = Path(out).rglob("*.meta.json")
        (csv_path,) = Path(out).rglob("*.csv")
        rows = len(csv_path.read_text().splitlines()) - 1
        return float(json.loads(meta_path.read_text())["time_use"]["runner_peak_rss_mib"]), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=4, help="how much longer (default 4)")
    parser.add_argument("run_flags", nargs="*", help="ipcbench run flags (after --)")
    args = parser.parse_args()
    flags = args.run_flags or CASES
    base, base_rows = peak_mib(flags, REPEATS, TARGET_TIME_S)
    long, long_rows = peak_mib(flags, REPEATS * args.scale, TARGET_TIME_S * args.scale)
    print(f"1x: {base_rows} rows, {REPEATS} repeats, {TARGET_TIME_S} s batches: {base:.1f} MiB")
    print(
        f"{args.scale}x: {long_rows} rows, {REPEATS * args.scale} repeats, "
        f"{TARGET_TIME_S * args.scale:g} s batches: {long:.1f} MiB ({long / base:.2f}x)"
    )


if __name__ == "__main__":
    main()
