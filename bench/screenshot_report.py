"""Render a report with headless Chromium and save a screenshot (a visual check, no display).

    python bench/screenshot_report.py plots/<machine-id>/report.html [-o report.png]
        [--size 1400,4000]

The page is rendered from a copy with a small checker script added: every image that fails
to load, and every console message of the page, is an error (exit 1, listed on stderr).
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


# Logs each image that did not load; chromium prints console messages with --enable-logging.
CHECKER = """<script>window.addEventListener("load", () => {
  for (const im of document.images) {
    if (!im.complete || im.naturalWidth === 0) {
      console.error("broken image: " + im.getAttribute("src").slice(0, 80));
    }
  }
});</script>"""
CONSOLE_MARK = ":CONSOLE"


class RenderError(Exception):
    """The page did not render cleanly: its console messages."""


def with_checker(html: str) -> str:
    """The page with the image checker added at the end of its body."""
    at = html.rfind("</body>")
    return html + CHECKER if at < 0 else html[:at] + CHECKER + html[at:]


def console_messages(stderr: str) -> list[str]:
    """The page's console messages from chromium's log."""
    return [line.split("] ", 1)[-1] for line in stderr.splitlines() if CONSOLE_MARK in line]


def screenshot(
    html: Path,
    png: Path,
    width: int = 1400,
    height: int = 4000,
    chromium: str = "chromium",
    timeout_s: float = 120.0,
) -> Path:
    """Render ``html`` (a file) at width x height CSS pixels into ``png``; return ``png``.
    Raises RenderError when an image fails to load or the page logs to the console."""
    binary = shutil.which(chromium)
    if binary is None:
        raise SystemExit(f"{chromium} not found; install it (Debian: apt-get install chromium)")
    checked = html.with_name(f".{html.stem}.checked.html")  # beside it: relative links work
    checked.write_text(with_checker(html.read_text(encoding="utf-8")), encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory(prefix="ipcbench-chromium-") as profile:
            cmd = [
                binary,
                *CHROMIUM_FLAGS,
                "--enable-logging=stderr",
                "--v=0",
                f"--user-data-dir={profile}",
                f"--screenshot={png.resolve()}",
                f"--window-size={width},{height}",
                checked.resolve().as_uri(),
            ]
            done = subprocess.run(
                cmd, check=True, capture_output=True, timeout=timeout_s, text=True
            )
    finally:
        checked.unlink(missing_ok=True)
    if not png.exists():
        raise RenderError(f"chromium wrote no screenshot to {png}")
    problems = console_messages(done.stderr)
    if problems:
        raise RenderError("; ".join(problems))
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="report.html to render")
    parser.add_argument("-o", "--out", type=Path, default=Path("report.png"), help="PNG to write")
    parser.add_argument("--size", default="1400,4000", help="window WIDTH,HEIGHT (CSS pixels)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split(","))
    try:
        print(screenshot(args.html, args.out, width, height))
    except RenderError as exc:
        print(f"{args.html} did not render cleanly: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
