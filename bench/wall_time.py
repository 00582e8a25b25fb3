"""Where a sweep's wall time goes: inside timed batches, and outside them, by phase.

Runs a sweep (``--quick`` by default, or any ``ipcbench run`` flags after ``--``) with the
runner's steps timed from the runner's side, and prints the share of wall time spent inside
the measured batches (the rows' ``elapsed_s``) and, outside them:

* ``to row``: driver start to its row (fork, session open, workers started, calibration in
  the first round, warm-up, the measured batch itself, subtracted here, and memory reads);
* ``row to end``: the driver's cleanup (workers joined, Manager shut down, semaphores);
* ``end group``: the runner reaping the driver's process group;
* ``write``: appending and fsyncing the case's rows and samples;
* ``other``: the rest (schedule, progress, run files).

Per pattern and per transport, the seconds outside the clock per case run::

    .venv/bin/python bench/wall_time.py                 # --quick
    .venv/bin/python bench/wall_time.py -- -t pipe,queue -p stream --repeats 3
    .venv/bin/python bench/wall_time.py --by transport -- --repeats 7   # the default sweep
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
import time
from typing import Any

from ipcbench.harness import runner as runner_mod
from ipcbench.harness.runner import Runner
from ipcbench.results.schema import RowMessage

PHASES = ("to row", "row to end", "end group", "write")


class Timings:
    """Seconds per phase, per case run, keyed by (pattern, transport)."""

    def __init__(self) -> None:
        self.by_case: dict[tuple[str, str], dict[str, float]] = collections.defaultdict(
            lambda: collections.defaultdict(float)
        )
        self.runs: collections.Counter[tuple[str, str]] = collections.Counter()
        self.current: tuple[str, str] = ("", "")
        self.started = 0.0
        self.row_at = 0.0

    def add(self, phase: str, seconds: float) -> None:
        self.by_case[self.current][phase] += seconds


def instrument(timings: Timings) -> None:
    """Wrap the runner's steps (this process only; the drivers are untouched)."""
    run_case, handle = Runner.run_case, Runner._handle
    end_group, write_case = runner_mod._end_group, runner_mod._write_case

    def timed_run_case(self: Runner, case: Any, repeat: int = 0) -> Any:
        timings.current = (case.pattern, case.transport)
        timings.runs[timings.current] += 1
        timings.started = timings.row_at = time.monotonic()
        os.environ["IPCBENCH_FORKED_AT"] = repr(timings.started)  # read by the forked driver
        return run_case(self, case, repeat)

    def timed_handle(self: Runner, msg: Any, outcome: Any) -> bool:
        now = time.monotonic()
        if isinstance(msg, RowMessage):
            timings.add("to row", now - timings.started)
            timings.add("timed", float(msg.fields.get("elapsed_s") or 0.0))
            timings.row_at = now
        else:
            timings.add("row to end", now - timings.row_at)
        return handle(self, msg, outcome)

    def timed_end_group(driver: Any, asked: bool = False) -> None:
        t0 = time.monotonic()
        end_group(driver, asked)
        timings.add("end group", time.monotonic() - t0)

    def timed_write_case(*args: Any) -> None:
        t0 = time.monotonic()
        write_case(*args)
        timings.add("write", time.monotonic() - t0)

    Runner.run_case = timed_run_case  # type: ignore[method-assign]
    Runner._handle = timed_handle  # type: ignore[method-assign]
    runner_mod._end_group = timed_end_group
    runner_mod._write_case = timed_write_case  # type: ignore[assignment]


DRIVER_PHASES = (
    "fork",
    "open+start",
    "calibrate",
    "warm-up",
    "gc",
    "batch",
    "run untimed",
    "memory",
    "close",
)


def instrument_drivers(log_path: str) -> None:
    """Wrap the driver's steps (in the forked drivers: the wrappers are inherited); each
    driver appends one JSON line of seconds per step to ``log_path`` as it ends."""
    import json

    from ipcbench.harness import driver as driver_mod

    marks: dict[str, Any] = {}
    drive, open_session, calibrate = (
        runner_mod.drive,
        driver_mod._open_session,
        driver_mod.calibrate,
    )
    memory_fields, close, row_fields = (
        driver_mod.memory_fields,
        driver_mod._close,
        driver_mod.row_fields,
    )
    real_gc = driver_mod.gc

    class TimedGc:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_gc, name)

        def collect(self) -> int:
            marks["gc"] = time.monotonic()
            found = real_gc.collect()
            marks["gc end"] = time.monotonic()
            return found

    def timed_drive(*args: Any, **kwargs: Any) -> None:
        marks.clear()
        case = args[0]
        marks["key"] = {
            "pattern": case.pattern,
            "size": str(case.payload_bytes),
            "transport": case.transport,
            "op": case.op,
        }
        marks["enter"] = time.monotonic()
        marks["forked"] = float(os.environ.get("IPCBENCH_FORKED_AT", "nan"))
        drive(*args, **kwargs)

    def timed_open(*args: Any) -> Any:
        session = open_session(*args)
        marks["opened"] = time.monotonic()
        return session

    def timed_calibrate(*args: Any) -> int:
        n = calibrate(*args)
        marks["calibrated"] = time.monotonic()
        return n

    def timed_row_fields(case: Any, m: Any, *args: Any) -> Any:
        marks["batch_s"] = m.elapsed_ns / 1e9
        marks["row"] = time.monotonic()
        return row_fields(case, m, *args)

    def timed_memory(session: Any) -> Any:
        found = memory_fields(session)
        marks["memory end"] = time.monotonic()
        return found

    def timed_close(session: Any, graceful: bool) -> None:
        t0 = time.monotonic()
        close(session, graceful)
        if "row" not in marks:
            return
        opened = marks["opened"]
        warm_from = marks.get("calibrated", opened)
        phases = {
            "fork": marks["enter"] - marks["forked"],
            "open+start": opened - marks["enter"],
            "calibrate": warm_from - opened,
            "warm-up": marks["gc"] - warm_from,
            "gc": marks["gc end"] - marks["gc"],
            "batch": marks["batch_s"],
            "run untimed": marks["row"] - marks["gc end"] - marks["batch_s"],
            "memory": marks["memory end"] - marks["row"],
            "close": time.monotonic() - t0,
        }
        with open(log_path, "a") as fh:
            fh.write(json.dumps({"key": marks["key"], **phases}) + "\n")

    runner_mod.drive = timed_drive
    driver_mod._open_session = timed_open
    driver_mod.calibrate = timed_calibrate
    driver_mod.gc = TimedGc()  # type: ignore[assignment]
    driver_mod.row_fields = timed_row_fields
    driver_mod.memory_fields = timed_memory
    driver_mod._close = timed_close


def _driver_table(log_path: str, by: str) -> list[str]:
    import json
    import math

    totals: dict[str, dict[str, float]] = collections.defaultdict(
        lambda: collections.defaultdict(float)
    )
    runs: collections.Counter[str] = collections.Counter()
    with open(log_path) as fh:
        for line in fh:
            entry = json.loads(line)
            for key in ("all", entry.pop("key")[by]):
                runs[key] += 1
                for phase, seconds in entry.items():
                    if not math.isnan(seconds):
                        totals[key][phase] += seconds
    names = sorted(runs, key=lambda k: (k != "all", -runs[k]))
    out = [f"inside the drivers ({runs['all']} ok case runs; ms per case run)"]
    out.append(f"  {'':<12} " + " ".join(f"{n[:10]:>10}" for n in names))
    for p in DRIVER_PHASES:
        cells = " ".join(f"{1000 * totals[n][p] / runs[n]:10.1f}" for n in names)
        out.append(f"  {p:<12} {cells}")
    return out


def _table(timings: Timings, index: int) -> list[str]:
    groups: dict[str, dict[str, float]] = collections.defaultdict(
        lambda: collections.defaultdict(float)
    )
    runs: collections.Counter[str] = collections.Counter()
    for key, counter in timings.by_case.items():
        for phase, seconds in counter.items():
            groups[key[index]][phase] += seconds
        runs[key[index]] += timings.runs[key]
    head = f"  {'':<20} {'runs':>5} {'timed s':>8} " + " ".join(f"{p:>10}" for p in PHASES)
    out = [head + "   outside ms/run"]
    for name, c in sorted(groups.items(), key=lambda kv: -sum(kv[1].values())):
        outside = c["to row"] - c["timed"] + c["row to end"] + c["end group"] + c["write"]
        cells = " ".join(f"{(c[p] - (c['timed'] if p == 'to row' else 0)):>10.2f}" for p in PHASES)
        per_run_ms = 1000 * outside / max(1, runs[name])
        out.append(f"  {name:<20} {runs[name]:>5} {c['timed']:>8.2f} {cells}   {per_run_ms:8.1f}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--by",
        choices=("pattern", "size", "transport", "op"),
        default="pattern",
        help="the drivers' phases per pattern (default), payload size or transport",
    )
    parser.add_argument(
        "--keep-log", metavar="PATH", help="also keep the drivers' phase log (JSON lines)"
    )
    parser.add_argument("run_flags", nargs="*", help="ipcbench run flags (after --)")
    args = parser.parse_args()
    from ipcbench import cli

    timings = Timings()
    instrument(timings)
    fd, log_path = tempfile.mkstemp(prefix="ipcbench-phases-", suffix=".jsonl")
    os.close(fd)
    instrument_drivers(log_path)
    with tempfile.TemporaryDirectory() as out:
        flags = args.run_flags or ["--quick"]
        t0 = time.monotonic()
        cli.main(["run", *flags, "-o", out, "-q"])
        wall_s = time.monotonic() - t0
    total: dict[str, float] = collections.defaultdict(float)
    for counter in timings.by_case.values():
        for phase, seconds in counter.items():
            total[phase] += seconds
    timed = total["timed"]
    print(f"wall {wall_s:.1f} s, {sum(timings.runs.values())} case runs")
    print(f"  inside timed batches   {timed:7.1f} s  {timed / wall_s:6.1%}")
    print(
        f"  to row (less timed)    {total['to row'] - timed:7.1f} s  "
        f"{(total['to row'] - timed) / wall_s:6.1%}"
    )
    for phase in PHASES[1:]:
        print(f"  {phase:<22} {total[phase]:7.1f} s  {total[phase] / wall_s:6.1%}")
    other = wall_s - total["to row"] - sum(total[p] for p in PHASES[1:])
    print(f"  other                  {other:7.1f} s  {other / wall_s:6.1%}")
    print("by pattern (seconds outside the clock per phase)")
    print("\n".join(_table(timings, 0)))
    print("by transport")
    print("\n".join(_table(timings, 1)))
    print("\n".join(_driver_table(log_path, args.by)))
    if args.keep_log:
        os.replace(log_path, args.keep_log)
    else:
        os.unlink(log_path)


if __name__ == "__main__":
    main()
