"""``ipcbench advise [RESULTS...] --size 64K [...]``: which channel to use, with its evidence.

From existing results, or (``--measure``, no RESULTS) from a small focused sweep run through
the normal runner: only the channels and shape the question needs, the asked size and the sizes
a factor 4 either side, 5 repeats of a short target time; saved like any run. The analysis is
``ipcbench.analysis.advise``; pandas is imported inside ``main`` only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ipcbench.analysis import advise
from ipcbench.cli.common import SubParsers, add_command, add_out_argument
from ipcbench.errors import IpcbenchError
from ipcbench.params import MAX_PAYLOAD_BYTES, parse_size
from ipcbench.params import PAYLOAD_KINDS as PAYLOAD_KIND_CHOICES

MEASURE_REPEATS = (
    7  # 5 is the fewest with which Mann-Whitney can call a difference; 7 gives a 98 % interval
)
MEASURE_TARGET_S = 0.05  # seconds per repeat
MEASURE_FACTOR = 4  # bracketing sizes: asked / 4 and asked x 4
MEASURE_MAX_BRACKET_BYTES = 16 * 1024**2  # no bracket above the default sweep's largest size
MEASURE_LARGE_BYTES = 1024**2  # from here 5 repeats (a 16 MiB repeat costs a second or more)
MEASURE_LARGE_REPEATS = 5
MEASURE_CHANNELS: tuple[str, ...] = (
    "pipe",
    "pipe_bytes",
    "queue",
    "simplequeue",
    "joinablequeue",
    "manager_queue",
)
MEASURE_FLOORS: tuple[str, ...] = ("raw_pipe",)
PAYLOAD_KINDS = PAYLOAD_KIND_CHOICES  # as ipcbench run takes them


HELP = "which channel to use for a message size and shape, with figures and intervals"
# argparse re-wraps a description: its line breaks here do not show
DESCRIPTION = """\
Answer 'which multiprocessing channel should I use?' from results: the recommended channel (or
the tie group of channels that do not differ significantly), how much slower
multiprocessing.Queue and the other usual channels are (time ratios with intervals and their
real levels), the machine's floor, the nearest measured sizes when the asked one was not
measured, and caveats. --goal latency uses the round trip (pingpong); throughput uses the
one-way stream, or fan when --producers/--consumers are given."""


def register(sub: SubParsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = add_command(sub, "advise", main, HELP, DESCRIPTION, results="*")
    parser.add_argument("--size", required=True, help="payload size: 64, 4K, 64KiB, 16M")
    parser.add_argument("--goal", choices=advise.GOALS, default="latency", help="default latency")
    parser.add_argument("--producers", type=_count, help="producer processes (fan)")
    parser.add_argument("--consumers", type=_count, help="consumer processes (fan)")
    parser.add_argument("--payload-kind", choices=PAYLOAD_KINDS, help="default bytes if measured")
    parser.add_argument("--start-method", help="default: the one most measured")
    parser.add_argument(
        "--python",
        help="the interpreter of a --pythons run (3.12); default: the running one if measured, "
        "else the one most measured",
    )
    parser.add_argument("--placement", help="unpinned (default if measured), same or split")
    parser.add_argument(
        "--channels", help="only these channels, comma-separated (default: every one measured)"
    )
    parser.add_argument(
        "--machine", help="with results of several machines: the machine id to advise for"
    )
    parser.add_argument(
        "--measure",
        action="store_true",
        help="no RESULTS: run a small focused sweep first (about a minute at most on 2 CPUs)",
    )
    add_out_argument(
        parser, "with --measure: results folder (default: results/)", metavar="DIR", type=str
    )
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    return parser


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def question_from(args: argparse.Namespace) -> advise.Question:
    """The question the flags ask; contradictions are IpcbenchError (exit 2)."""
    size = parse_size(args.size)
    channels = (
        advise.check_channels(c.strip() for c in args.channels.split(",") if c.strip())
        if args.channels
        else ()
    )
    question = advise.Question(
        payload_bytes=size,
        goal=args.goal,
        producers=args.producers,
        consumers=args.consumers,
        payload_kind=args.payload_kind,
        start_method=args.start_method,
        python=args.python,
        placement=args.placement,
        channels=channels,
    )
    advise.pattern_for(question)  # contradictory flags fail before anything runs
    return question


def main(args: argparse.Namespace) -> int:
    question = question_from(args)
    if args.measure and args.results:
        raise IpcbenchError(
            "give RESULTS or --measure, not both: --measure runs its own small sweep"
        )
    if not args.measure and not args.results:
        raise IpcbenchError(
            "no RESULTS given: pass a run's CSV or results folder, or add --measure to run a "
            "small focused sweep (see 'ipcbench advise --help')"
        )
    if args.out is not None and not args.measure:
        raise IpcbenchError("-o/--out is where --measure saves its run; it needs --measure")
    if args.measure:
        rows, cpus = measure(question, args.out, quiet=args.json)
    else:
        rows, cpus = load_rows(args.results, args.machine)
    answer = advise.advise(rows, question, cpus)
    if args.json:
        print(json.dumps(advise.advice_json(answer), indent=2))
    else:
        print(advise.advice_text(answer))
    return 0


def load_rows(
    paths: list[str], machine: str | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """One machine's rows (``machine`` picks one when the results hold several)."""
    from ipcbench.results.loader import load_all

    frame = load_all(paths)
    ids = frame["machine_id"].astype("string").fillna("unknown")
    machines = [str(m) for m in dict.fromkeys(ids)]
    if machine is not None:
        if machine not in machines:
            raise IpcbenchError(
                f"--machine {machine}: not in the results; they hold {', '.join(machines)}"
            )
        frame = frame[ids == machine]
    elif len(machines) > 1:
        raise IpcbenchError(
            f"the results hold {len(machines)} machines ({', '.join(machines)}); advice is per "
            "machine: add --machine ID or pass one machine's folder (results/<machine-id>/)"
        )
    rows: list[dict[str, Any]] = frame.to_dict("records")
    return rows, None


def measure_options(question: advise.Question, out: str | None) -> dict[str, Any]:
    """The runner options of the focused sweep for ``question``."""
    from ipcbench import transports

    pattern, _ = advise.pattern_for(question)
    registry = {cls.name: cls for cls in transports.all_transports()}
    wanted = list(question.channels or MEASURE_CHANNELS)
    if pattern != "fan":
        wanted += MEASURE_FLOORS
    kind = question.payload_kind or "bytes"
    names = [
        n
        for n in wanted
        if n in registry
        and pattern in registry[n].patterns
        and kind in registry[n].payload_kinds()
        and registry[n].unavailable_reason() is None
    ]
    if len([n for n in names if n not in MEASURE_FLOORS]) < 1:
        raise IpcbenchError(f"none of the channels asked for runs the {pattern} pattern")
    size = question.payload_bytes
    sizes = [size // MEASURE_FACTOR, size]
    if size * MEASURE_FACTOR <= MEASURE_MAX_BRACKET_BYTES:
        sizes.append(size * MEASURE_FACTOR)
    sizes = [s for s in sizes if 1 <= s <= MAX_PAYLOAD_BYTES]
    options: dict[str, Any] = {
        "transports": names,
        "patterns": [pattern],
        "sizes": [str(s) for s in dict.fromkeys(sizes)],
        "payload_kinds": [kind],
        "repeats": MEASURE_REPEATS if size < MEASURE_LARGE_BYTES else MEASURE_LARGE_REPEATS,
        "target_time": MEASURE_TARGET_S,
        "warmups": 1,
        "out": out,
        "quiet": True,
    }
    if question.start_method:
        options["start_methods"] = [question.start_method]
    if question.python:
        options["pythons"] = [question.python]
    if question.placement:
        options["placements"] = [question.placement]
    if pattern == "fan":
        p, c = question.shape
        options["producers"] = [p]
        options["consumers"] = [c]
    return options


def measure(
    question: advise.Question, out: str | None, *, quiet: bool = False
) -> tuple[list[dict[str, Any]], int | None]:
    """Run the focused sweep (saved like any run) and return its rows, read back from disk."""
    from ipcbench.harness.runner import Runner
    from ipcbench.harness.settings import build_settings
    from ipcbench.results.loader import load

    options = measure_options(question, out)
    settings = build_settings(options)
    if not quiet:
        print(
            f"measuring: {', '.join(options['transports'])}; {options['patterns'][0]}; sizes "
            f"{', '.join(options['sizes'])} B; {options['repeats']} repeats",
            file=sys.stderr,
            flush=True,
        )
    started = time.monotonic()
    result = Runner(settings).run()
    elapsed_s = time.monotonic() - started
    if result.interrupted:
        raise IpcbenchError(
            f"interrupted: the rows so far are in {result.paths.csv}; advise from them with "
            f"'ipcbench advise {result.paths.csv} --size ...'"
        )
    print(f"results: {result.paths.csv} ({elapsed_s:.0f} s)", file=sys.stderr, flush=True)
    rows: list[dict[str, Any]] = load(Path(result.paths.csv)).to_dict("records")
    return rows, None
