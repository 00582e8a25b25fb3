"""Render a report with headless Chromium and save a screenshot (a visual check, no display).

    python bench/screenshot_report.py plots/<machine-id>/report.html [-o report.png]
        [--size 1400,4000]

Needs the ``chromium`` binary (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def screenshot(
    html: Path,
    png: Path,
    width: int = 1400,
    height: int = 4000,
    chromium: str = "chromium",
    timeout_s: float = 120.0,
) -> Path:
    """Render ``html`` (a file) at width x height CSS pixels into ``png``; return ``png``."""
    binary = shutil.which(chromium)
    if binary is None:
        raise SystemExit(f"{chromium} not found; install it (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="ipcbench-chromium-") as profile:
        cmd = [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={png.resolve()}",
            f"--window-size={width},{height}",
            html.resolve().as_uri(),
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout_s)
    if not png.exists():
        raise SystemExit(f"chromium wrote no screenshot to {png}")
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="report.html to render")
    parser.add_argument("-o", "--out", type=Path, default=Path("report.png"), help="PNG to write")
    parser.add_argument("--size", default="1400,4000", help="window WIDTH,HEIGHT (CSS pixels)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split(","))
    print(screenshot(args.html, args.out, width, height))
    return 0


if __name__ == "__main__":
    sys.exit(main())
