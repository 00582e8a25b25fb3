"""Progress on stderr: a bar with ETA on a terminal, one line per case run otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    def __init__(self, total: int, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.total = total
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.done_count = 0
        self.failed = 0
        self.started = time.monotonic()
        self.label = ""

    def eta(self) -> str:
        if self.done_count == 0:
            return "?"
        per_case = (time.monotonic() - self.started) / self.done_count
        return _duration(per_case * (self.total - self.done_count))

    def start(self, label: str) -> None:
        self.label = label
        if self.tty and not self.quiet:
            self._bar()

    def done(self, status: str, seconds: float) -> None:
        self.done_count += 1
        self.failed += status != "ok"
        if self.quiet:
            return
        if self.tty:
            self._bar()
        else:
            print(
                f"[{self.done_count}/{self.total}] {self.label}: {status} ({seconds:.1f} s, "
                f"ETA {self.eta()})",
                file=self.stream,
                flush=True,
            )

    def add(self, n: int) -> None:
        """n more case runs (--repeats auto: a round for the cases not settled yet)."""
        self.total += n

    def drop(self) -> None:
        """One scheduled case run will not happen (its case failed in an earlier round)."""
        self.total -= 1

    def _bar(self, width: int = 24) -> None:
        filled = int(width * self.done_count / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        failed = f" {self.failed} failed" if self.failed else ""
        line = (
            f"\r[{bar}] {self.done_count}/{self.total} ETA {self.eta()}{failed} | {self.label}"
        )[:120]
        self.stream.write(line.ljust(120))
        self.stream.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")
        if not self.quiet:
            print(
                f"{self.done_count}/{self.total} case runs in "
                f"{_duration(time.monotonic() - self.started)}"
                + (f", {self.failed} not ok" if self.failed else ""),
                file=self.stream,
                flush=True,
            )
