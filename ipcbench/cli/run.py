"""``ipcbench run``: a sweep; its options are generated from the options table
(ipcbench/options.py), plus ``--config`` and ``--resume``."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

from ipcbench.cli.common import EPILOG, SubParsers, add_command, add_out_argument
from ipcbench.options import OPTIONS, Option


def register(sub: SubParsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = add_command(
        sub,
        "run",
        main,
        "run a sweep and write results/<machine-id>/<timestamp>.csv",
        "Run a benchmark sweep. Every list flag takes comma-separated values.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for option in OPTIONS:
        if option.help:
            _add_option(parser, option)
    parser.add_argument(
        "-c",
        "--config",
        help="TOML file with the same keys as the flags (flags given on the command line win)",
    )
    parser.add_argument(
        "--resume",
        metavar="RESULT.csv",
        help="continue an interrupted run: run only the cases missing from RESULT.csv and "
        "append them (same run id and settings; flags given must match the run's)",
    )
    return parser


def _add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    """One option's flag; every value is a string parsed later by the table (TOML values
    and flags go through the same parser). Not given: None."""
    if option.key == "out":  # the -o/--out every writing subcommand shares
        add_out_argument(parser, option.help_text(), metavar=option.metavar or "DIR", type=str)
        return
    flags = [f for f in (option.short, option.flag) if f]
    extra: dict[str, Any] = {"action": "store_true", "default": None} if option.switch else {}
    if option.metavar:
        extra["metavar"] = option.metavar
    parser.add_argument(*flags, dest=option.key, help=option.help_text(), **extra)


def main(args: argparse.Namespace) -> int:
    from ipcbench.analysis.summary import format_summary, grouped_warnings
    from ipcbench.harness.runner import Runner
    from ipcbench.harness.settings import build_settings, load_config

    options = load_config(args.config) if args.config else {}
    for option in OPTIONS:
        value = getattr(args, option.key, None)
        if value is not None:
            options[option.key] = value
    if args.resume:
        from ipcbench.harness.resume import load_resume, resume_settings

        state = load_resume(args.resume)
        runner = Runner(resume_settings(state, options), resume=state)
    else:
        runner = Runner(build_settings(options))
    with _later_signals_ignored_once_interrupted():
        result = runner.run()
    if not runner.settings.quiet:
        print(format_summary(result.rows))
        # one line per (cause, pattern), worst first: a reader acts on a few lines, not 500
        warnings = grouped_warnings(result.rows, _warnings(result))
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if warnings:
            print(f"... every case's warning: {result.paths.meta}", file=sys.stderr)
        print(_time_use_line(runner.meta.get("time_use", {})))
    if result.interrupted:  # said first: stdout may be a pipe already closed by the Ctrl-C
        print(
            "interrupted: the CSV holds every case finished so far; continue with "
            f"'ipcbench run --resume {result.paths.csv}'",
            file=sys.stderr,
            flush=True,
        )
    print(f"results: {result.paths.csv}")
    return 130 if result.interrupted else 0


@contextlib.contextmanager
def _later_signals_ignored_once_interrupted() -> Iterator[None]:
    """Handlers the runner restores when its sweep ends: once a signal has ended the run, any
    further one (say the second of two quick Ctrl-C) is ignored, and after the run SIG_IGN
    takes over until exit: the last words must not be cut short by a KeyboardInterrupt or,
    during interpreter shutdown (which resets Python-level handlers to the default but keeps
    SIG_IGN), a kill by SIGINT. Before a signal, SIGINT is KeyboardInterrupt and SIGTERM ends
    the process, as without these handlers."""
    from ipcbench.harness.runner import interrupted_by_signal

    def handler(signum: int, frame: Any) -> None:
        if interrupted_by_signal():
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    old_int = signal.signal(signal.SIGINT, handler)
    old_term = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        interrupted = interrupted_by_signal()
        signal.signal(signal.SIGINT, signal.SIG_IGN if interrupted else old_int)
        signal.signal(signal.SIGTERM, signal.SIG_IGN if interrupted else old_term)


def _time_use_line(use: dict[str, Any]) -> str:
    wall_s, share = use.get("wall_s") or 0.0, use.get("timed_share")
    inside = "" if share is None else f", {share:.0%} of it inside the timed batches"
    return f"time: {wall_s:.0f} s{inside}"


def _warnings(result: Any) -> list[str]:
    import json

    meta = json.loads(result.paths.meta.read_text())
    warnings: list[str] = meta.get("warnings", [])
    return warnings
