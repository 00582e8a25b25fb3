"""Options shared by several subcommands, defined once so they are spelled alike everywhere.

Every subcommand that writes files takes ``-o/--out`` for where they go (a folder or a file,
as its help says); ``--output``, the old spelling of some commands, is still accepted (hidden).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ipcbench.errors import IpcbenchError

SubParsers = argparse._SubParsersAction  # argparse exposes no public name for it
RESULTS_HELP = "a run's .csv, a machine folder (results/<machine-id>/) or the results folder"
EPILOG = """examples:
  ipcbench run --quick                       every transport x pattern on a small grid (~1 min)
  ipcbench run -t pipe,queue -p stream -s 64,4K,1MiB --repeats 10
  ipcbench run --config sweep.toml           the same keys as the flags, in a TOML file
  ipcbench list                              transports, the patterns and parameters they take
"""
OUT_FLAGS = ("-o", "--out")
OLD_OUT_FLAG = "--output"


def add_command(
    sub: SubParsers[argparse.ArgumentParser],
    name: str,
    main: Callable[[argparse.Namespace], int],
    summary: str,
    description: str | None = None,
    *,
    results: str = "",
    results_type: Any = None,
    **parser_options: Any,
) -> argparse.ArgumentParser:
    """A subcommand's parser: ``summary`` in the command list, ``description`` in its --help,
    ``main`` run on it; ``results`` (an nargs) adds the RESULTS files argument."""
    parser = sub.add_parser(name, help=summary, description=description, **parser_options)
    if results:
        parser.add_argument(
            "results", nargs=results, metavar="RESULTS", type=results_type, help=RESULTS_HELP
        )
    parser.set_defaults(func=main)
    return parser


def add_out_argument(
    parser: argparse.ArgumentParser,
    help: str,
    *,
    metavar: str,
    dest: str = "out",
    type: Any = Path,
    required: bool = False,
) -> None:
    """``-o/--out`` (plus the hidden old spelling ``--output``) on ``parser``.

    ``required`` is checked after parsing (argparse would not count the old spelling), so
    the command's ``main`` calls ``require_out``."""
    if required:
        help += " (required)"
    parser.add_argument(*OUT_FLAGS, dest=dest, type=type, metavar=metavar, help=help)
    parser.add_argument(OLD_OUT_FLAG, dest=dest, type=type, help=argparse.SUPPRESS)


def require_out(args: argparse.Namespace, command: str, dest: str = "out") -> Any:
    """The value of a required ``-o/--out``; a usage error (exit 2) when it is missing."""
    value = getattr(args, dest, None)
    if value is None:
        raise IpcbenchError(
            f"the following arguments are required: -o/--out (see 'ipcbench {command} --help')"
        )
    return value
