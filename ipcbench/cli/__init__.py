"""Command line: ``ipcbench run | list | ...``. User errors: one line on stderr, exit code 2."""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap
from collections.abc import Sequence

from ipcbench.cli.common import add_out_argument
from ipcbench.errors import IpcbenchError

# Subcommands provided by their own modules: each has register(subparsers) and main(args).
COMMAND_MODULES = (
    "ipcbench.cli.summarize",
    "ipcbench.cli.compare",
    "ipcbench.cli.plot",
    "ipcbench.cli.report",
    "ipcbench.cli.export",
    "ipcbench.cli.pyperf_cmd",
    "ipcbench.cli.advise",
)

EPILOG = """examples:
  ipcbench run --quick                       every transport x pattern on a small grid (~1 min)
  ipcbench run -t pipe,queue -p stream -s 64,4K,1MiB --repeats 10
  ipcbench run --config sweep.toml           the same keys as the flags, in a TOML file
  ipcbench list                              transports, the patterns and parameters they take
"""


class _Parser(argparse.ArgumentParser):
    """Usage errors as IpcbenchError (one line, exit 2), pointing to this parser's --help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise IpcbenchError(f"{message} (see '{self.prog} --help')")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Subcommand name -> its parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse; arguments no parser knows are reported by the subcommand they were given to, so
    the error points to 'ipcbench report --help', not to the top-level help."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        target = _subcommands(parser).get(getattr(args, "command", None) or "", parser)
        target.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a sweep and write results/<machine-id>/<timestamp>.csv",
        description="Run a benchmark sweep. Every list flag takes comma-separated values.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-t", "--transports", help="transports (default: all; see 'ipcbench list')")
    p.add_argument("-p", "--patterns", help="patterns (default: all; see 'ipcbench list')")
    p.add_argument(
        "-s",
        "--sizes",
        help="payload sizes, e.g. 64,4K,1MiB,16M (default: 8 B to 16 MiB, about powers of 4; "
        "1 KiB for the many-process patterns)",
    )
    p.add_argument(
        "--payload-kinds",
        help="bytes (default) and/or object (a Python structure of "
        "about the same pickled size, so pickling cost shows)",
    )
    p.add_argument("--start-methods", help="fork, spawn, forkserver (default: the platform's)")
    p.add_argument(
        "--maxsize",
        help="queue maxsize values (queue types only; 0 = unbounded; default 0, "
        "and 1,16,256,0 for backpressure)",
    )
    p.add_argument(
        "--producers",
        help="producer processes for fan/taskqueue, writers for shared_state (default 1,2,4,8)",
    )
    p.add_argument("--consumers", help="consumer processes for fan/taskqueue (default 1,2,4,8)")
    p.add_argument(
        "--rates",
        help="offered loads for the rate pattern: msgs/s (20000) or a share of the measured "
        "maximum (50%%); default 10%%,25%%,50%%,75%%,90%%,100%%,110%%",
    )
    p.add_argument(
        "--placements",
        help="CPU placement: unpinned (default), same (all processes "
        "on one CPU), split (parent and children on different CPUs)",
    )
    p.add_argument(
        "--repeats",
        type=str,
        help="measured repeats per case, each in fresh processes; the sweep runs them in "
        "rounds, every case once per round in a new shuffled order (default 5)",
    )
    p.add_argument(
        "--warmups",
        type=str,
        help="warm-up batches (a quarter of the measured one) before each repeat (default 1)",
    )
    p.add_argument(
        "--target-time",
        type=str,
        help="seconds per repeat; the message count is calibrated to reach it (default 0.1)",
    )
    p.add_argument(
        "--timeout",
        type=str,
        help="seconds per repeat of a case (its processes started, calibrated, warmed up "
        "and measured) before it is stopped as status=timeout (default 60)",
    )
    p.add_argument(
        "--seed",
        type=str,
        help="seed of the case order shuffle (default: random, recorded in the metadata)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        default=None,
        help="small grid: 64 B, 4 KiB, 256 KiB (1 KiB for many-process patterns), short "
        "target time",
    )
    add_out_argument(p, "results folder (default: results/)", metavar="DIR", type=str)
    p.add_argument("-q", "--quiet", action="store_true", default=None, help="no progress output")
    p.add_argument(
        "-c",
        "--config",
        help="TOML file with the same keys as the flags (flags given on the command line win)",
    )
    p.add_argument(
        "--resume",
        metavar="RESULT.csv",
        help="continue an interrupted run: run only the cases missing from RESULT.csv and "
        "append them (same run id and settings; flags given must match the run's)",
    )
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from ipcbench.analysis.summary import format_summary, grouped_warnings
    from ipcbench.harness.runner import Runner
    from ipcbench.harness.settings import build_settings, load_config

    options = load_config(args.config) if args.config else {}
    for key in (
        "transports",
        "patterns",
        "sizes",
        "payload_kinds",
        "start_methods",
        "maxsize",
        "placements",
        "producers",
        "consumers",
        "rates",
        "repeats",
        "warmups",
        "target_time",
        "timeout",
        "seed",
        "quick",
        "out",
        "quiet",
    ):
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    if args.resume:
        from ipcbench.harness.resume import load_resume, resume_settings

        state = load_resume(args.resume)
        settings = resume_settings(state, options)
        runner = Runner(settings, resume=state)
    else:
        settings = build_settings(options)
        runner = Runner(settings)
    result = runner.run()
    if not settings.quiet:
        print(format_summary(result.rows))
        # one line per (cause, pattern), worst first: a reader acts on a few lines, not 500
        warnings = grouped_warnings(result.rows, _warnings(result))
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if warnings:
            print(f"... every case's warning: {result.paths.meta}", file=sys.stderr)
    if result.interrupted:  # said first: stdout may be a pipe already closed by the Ctrl-C
        print(
            "interrupted: the CSV holds every case finished so far; continue with "
            f"'ipcbench run --resume {result.paths.csv}'",
            file=sys.stderr,
            flush=True,
        )
    print(f"results: {result.paths.csv}")
    return 130 if result.interrupted else 0


def _warnings(result: object) -> list[str]:
    import json

    meta = json.loads(result.paths.meta.read_text())  # type: ignore[attr-defined]
    warnings: list[str] = meta.get("warnings", [])
    return warnings


def _add_list(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list transports with the patterns and parameters they take")
    p.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    from ipcbench import transports
    from ipcbench.measure import catalogue

    print("transports:")
    for cls in transports.all_transports():
        params = ["payload: " + "/".join(cls.payload_kinds())]
        if cls.uses_maxsize:
            params.append("maxsize")
        for pattern, ops in cls.ops.items():
            params.append(f"{pattern} ops: " + "/".join(ops))
        if cls.in_process:
            params.append("in-process (no start method)")
        reason = cls.unavailable_reason()
        status = f"  [unavailable: {reason}]" if reason else ""
        print(f"  {cls.name:<15} {cls.description}{status}")
        print(f"  {'':<15} patterns: {', '.join(cls.patterns)}; {'; '.join(params)}")
    print("patterns:")
    for entry in catalogue.CATALOGUE.values():
        print(f"  {entry.name:<15} {entry.description}")
        if entry.note:
            note = textwrap.fill(
                entry.note, width=100, initial_indent=" " * 18, subsequent_indent=" " * 18
            )
            print(note)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ipcbench",
        description="Measure throughput and latency of Python multiprocessing IPC.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from ipcbench import __version__

    parser.add_argument("--version", action="version", version=f"ipcbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_run(sub)
    _add_list(sub)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:  # a broken install, not a command to leave out quietly
            raise IpcbenchError(
                f"cannot load the '{name.rsplit('.', 1)[-1]}' subcommand ({name}): {exc}; "
                "reinstall ipcbench (pip install -e .)"
            ) from None
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = _parse(parser, argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        code: int = args.func(args)
        return code
    except IpcbenchError as exc:
        print(f"ipcbench: error: {_one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ipcbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


def _one_line(text: str) -> str:
    """Control characters (from a flag, a file name, a config value) escaped: one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


if __name__ == "__main__":
    sys.exit(main())
