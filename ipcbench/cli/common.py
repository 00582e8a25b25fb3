"""Options shared by several subcommands, defined once so they are spelled alike everywhere.

Every subcommand that writes files takes ``-o/--out`` for where they go (a folder or a file,
as its help says); ``--output``, the old spelling of some commands, is still accepted (hidden).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ipcbench.errors import IpcbenchError

OUT_FLAGS = ("-o", "--out")
OLD_OUT_FLAG = "--output"


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
