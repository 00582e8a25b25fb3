"""``ipcbench pyperf [options]``: chosen cases under pyperf's worker-process method.

    ipcbench pyperf --transport pipe,queue --pattern pingpong --size 64,4K -o out.json
    python bench/pyperf_suite.py --transport pipe --fast -o out.json     # the same, as a script
    python -m pyperf compare_to out.json other.json

Every option after ``pyperf`` goes to pyperf's own argument parser (``--help`` lists them all:
``-o``, ``--fast``, ``--rigorous``, ``-p/--processes``, ``--affinity``, ...), extended with:
``--transports``, ``--patterns`` (pingpong or stream), ``--sizes``, ``--payload-kinds``,
``--start-methods``, ``--placements`` (as ``ipcbench run`` spells them; the singular forms work
too) -- comma lists; one pyperf benchmark per case, named like
``ipcbench export`` names cases, so both kinds of file compare.

pyperf runs this module's code again in every worker process it spawns; custom options reach
the workers only through ``Runner(add_cmdline_args=...)``. In a worker the case's session
(channel + child processes) is started once, on the first call of the time function -- outside
every timed loop -- and reused: each value times ``session.run(loops)``, i.e. ``loops``
messages, and pyperf divides by ``loops``. Values are seconds per message (per round trip).

CPU placement: pyperf's own ``--affinity CPUS`` pins each worker (this option belongs to
pyperf, so it is not redefined); the case's children are then pinned to the same CPUs
explicitly. ``--placement same|split`` pins the worker and its children as ``ipcbench run``
does, within the CPUs the worker may use.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from ipcbench.errors import IpcbenchError
from ipcbench.params import Case

SUITE_PATTERNS: tuple[str, ...] = ("pingpong", "stream")
OPTIONS = {  # dest -> (flag, default, help)
    "transport": ("--transport", "pipe", "transports, comma-separated (default: pipe)"),
    "pattern": ("--pattern", "pingpong", "pingpong and/or stream (default: pingpong)"),
    "size": ("--size", "64", "payload sizes, e.g. 64,4K,1MiB (default: 64)"),
    "payload_kind": ("--payload-kind", "bytes", "bytes and/or object (default: bytes)"),
    "start_method": ("--start-method", "", "fork, spawn, forkserver (default: the platform's)"),
    "placement": ("--placement", "unpinned", "unpinned (default), same or split"),
}
_sessions: dict[Case, Any] = {}


def add_options(parser: argparse.ArgumentParser) -> None:
    """Our case options, spelled as ``ipcbench run`` spells them (``--transports``, ...) and,
    as before, in the singular; pyperf's ``-o/--output`` also takes ``--out``."""
    group = parser.add_argument_group("ipcbench cases")
    for dest, (flag, default, text) in OPTIONS.items():
        group.add_argument(run_spelling(flag), flag, dest=dest, default=default, help=text)


def run_spelling(flag: str) -> str:
    """``--transport`` -> ``--transports``: the flag as ``ipcbench run`` takes it."""
    return flag + "s"


def add_cmdline_args(cmd: list[str], args: argparse.Namespace) -> None:
    """pyperf calls this to build each worker's command line: pass our options on."""
    for dest, (flag, _, _) in OPTIONS.items():
        value = getattr(args, dest)
        if value:
            cmd.extend((flag, str(value)))


def suite_cases(args: argparse.Namespace) -> tuple[list[Case], list[str]]:
    """The cases chosen by the options (validated like ``ipcbench run``), and why any
    transport was left out (not installed here)."""
    from ipcbench import transports
    from ipcbench.harness.settings import build_settings
    from ipcbench.harness.sweep import expand

    settings = build_settings(
        {
            "transports": args.transport,
            "patterns": args.pattern,
            "sizes": args.size,
            "payload_kinds": args.payload_kind,
            "start_methods": args.start_method or None,
            "placements": args.placement,
            "quiet": True,
        }
    )
    other = sorted(set(settings.patterns) - set(SUITE_PATTERNS))
    if other:
        raise IpcbenchError(
            f"pattern {other[0]!r} is not in the pyperf suite; use {' or '.join(SUITE_PATTERNS)}"
        )
    cases, notes = [], []
    for case in expand(settings):
        reason = transports.get(case.transport).unavailable_reason()
        if reason:
            notes.append(f"{case.transport}: skipped, {reason}")
        else:
            cases.append(case)
    if not cases:
        raise IpcbenchError("no case to run: " + "; ".join(dict.fromkeys(notes)))
    return cases, list(dict.fromkeys(notes))


def _on_child_failed(signum: int, frame: Any) -> None:
    for session in _sessions.values():
        if session.children.failure is not None:
            raise session.children.failure
    raise RuntimeError("a worker child process died")


def _close_all() -> None:
    for session in _sessions.values():
        try:
            session.close(graceful=True)
        except Exception:
            session.close(graceful=False)
    _sessions.clear()


def _start(case: Case, affinity: bool) -> Any:
    """Start the case's session in this pyperf worker (once): channel, children, pinning."""
    from ipcbench.harness.driver import placement_cpus
    from ipcbench.measure import patterns
    from ipcbench.measure.patterns.base import Placement

    placement = placement_cpus(case.placement)
    if isinstance(placement, str):
        raise IpcbenchError(placement)
    if affinity and placement.children is None:  # pyperf pinned this worker: children too
        placement = Placement(None, sorted(os.sched_getaffinity(0)))
    signal.signal(signal.SIGUSR1, _on_child_failed)
    if not _sessions:
        atexit.register(_close_all)
    return patterns.open_session(case, placement, started=lambda s: _sessions.update({case: s}))


def time_func(loops: int, case: Case, affinity: bool) -> float:
    """pyperf time function: seconds taken by ``loops`` messages of the case."""
    session = _sessions.get(case) or _start(case, affinity)
    elapsed_ns: int = session.run(loops).elapsed_ns
    return elapsed_ns / 1e9


def run_suite(argv: Sequence[str], program_args: Sequence[str] | None = None) -> int:
    """Build the pyperf Runner, parse ``argv`` and run every chosen case."""
    import pyperf

    from ipcbench.analysis.export import case_metadata

    runner = pyperf.Runner(
        add_cmdline_args=add_cmdline_args,
        program_args=tuple(program_args) if program_args else None,
    )
    runner.argparser.prog = "ipcbench pyperf"
    runner.argparser.description = __doc__.splitlines()[0].split(": ", 1)[-1]
    add_options(runner.argparser)
    args = runner.parse_args(list(argv))
    cases, notes = suite_cases(args)
    if not args.worker:
        for note in notes:
            print(f"ipcbench pyperf: {note}", file=sys.stderr)
    for case in cases:
        runner.bench_time_func(
            case.label(), time_func, case, bool(args.affinity), metadata=case_metadata(case)
        )
    return 0


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    # prefix_chars="+": every "-option" is left alone here and handed to pyperf's parser.
    parser = sub.add_parser(
        "pyperf",
        prefix_chars="+",
        add_help=False,
        help="run chosen cases under pyperf (worker processes, pyperf JSON; --help for options)",
        description="Run chosen cases under pyperf; see 'ipcbench pyperf --help'.",
    )
    parser.add_argument("pyperf_args", nargs="*", metavar="OPTION")
    parser.set_defaults(func=main)
    return parser


def main(args: argparse.Namespace) -> int:
    return run_suite(args.pyperf_args, program_args=("-m", "ipcbench", "pyperf"))
