"""Command line: ``ipcbench run | list | ...``. User errors: one line on stderr, exit code 2."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ipcbench.cli.common import EPILOG
from ipcbench.errors import IpcbenchError

# Subcommands provided by their own modules: each has register(subparsers) and main(args).
COMMAND_MODULES = (
    "ipcbench.cli.run",
    "ipcbench.cli.list",
    "ipcbench.cli.summarize",
    "ipcbench.cli.compare",
    "ipcbench.cli.plot",
    "ipcbench.cli.report",
    "ipcbench.cli.export",
    "ipcbench.cli.pyperf_cmd",
    "ipcbench.cli.advise",
)


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
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
            module.register(sub)
        except Exception as exc:  # a broken install or module: an error, never a missing command
            raise IpcbenchError(
                f"cannot load the '{name.rsplit('.', 1)[-1]}' subcommand ({name}): "
                f"{type(exc).__name__}: {exc}; reinstall ipcbench (pip install -e .)"
            ) from None
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
