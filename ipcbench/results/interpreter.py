"""What interpreter this process runs: the facts every result row records.

Standard library only and runnable on its own (``python -m ipcbench.results.interpreter``
prints the facts as JSON): the runner asks each interpreter of ``--pythons`` for them before
the sweep starts, and every case driver records its own in its rows.
"""

from __future__ import annotations

import json
import multiprocessing
import platform
import sys
import sysconfig
from typing import Any

OLDEST_SUPPORTED = (3, 10)  # the measuring side runs on this and newer


def is_free_threaded() -> bool:
    """A build without the GIL (PEP 703, ``python3.13t``)."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def is_debug_build() -> bool:
    return hasattr(sys, "gettotalrefcount")


def gil_enabled() -> bool:
    """Whether the GIL is on now (a free-threaded build can turn it back on: PYTHON_GIL=1)."""
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


def build_name() -> str:
    """'release', 'debug', 'free-threaded' or 'free-threaded debug'."""
    flags = (("free-threaded", is_free_threaded()), ("debug", is_debug_build()))
    parts = [name for name, on in flags if on]
    return " ".join(parts) or "release"


def tag() -> str:
    """The interpreter as a case parameter: '3.12', '3.13t' (free-threaded), '3.12d' (debug)."""
    major, minor = sys.version_info[:2]
    suffix = ("t" if is_free_threaded() else "") + ("d" if is_debug_build() else "")
    return f"{major}.{minor}{suffix}"


def facts() -> dict[str, Any]:
    """The row columns that describe the interpreter."""
    return {
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_build": build_name(),
        "gil_enabled": gil_enabled(),
        # the first of the list is this version's default (forkserver on Linux from 3.14)
        "start_method_default": multiprocessing.get_all_start_methods()[0],
    }


def probe() -> dict[str, Any]:
    """Everything the runner needs to know of an interpreter before it runs cases under it."""
    return {
        **facts(),
        "tag": tag(),
        "version_info": list(sys.version_info[:3]),
        "executable": sys.executable,
        "supported": sys.version_info[:2] >= OLDEST_SUPPORTED,
    }


if __name__ == "__main__":
    print(json.dumps(probe()))
