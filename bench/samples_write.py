"""What writing a case's raw samples costs: the old text file vs the binary one.

The runner appends each case's raw latencies to the run's samples file between two cases,
outside the measured batches, so this is wall time of every sweep. One process, the same
samples (``--rows`` of them -- rows of the old long format ``row_id,lat_ns``, i.e. samples --
spread over ``--row-ids`` row ids, as the driver sends them: the bytes of an ``array('q')``;
``--kind``: real ``Queue.qsize()`` call times, or made-up lognormal ones), written
``--repeats`` times each way into a fresh file under ``--dir``:

* ``text``: what the runner did before ``<stamp>.samples.bin.gz`` (a private copy below):
  decode the bytes into an ``array('q')``, format ``row_id,value`` lines, then gzip them
  (level 1) into ``<stamp>.samples.csv.gz``; ``format`` and ``gzip+write`` are timed apart;
* ``binary``: ``ipcbench.results.store.samples_member`` (the values packed as they are,
  level 1) appended to ``<stamp>.samples.bin.gz``;
* ``binary, write_case``: the same through ``ResultWriter.write_case`` as the runner calls it,
  with its fsyncs (of the CSV and the samples file; the text way had no fsync).

Prints the median (and min-max) milliseconds per way and both file sizes; checks that both
files hold the same samples. The defaults are one ``lifecycle`` qsize batch (700 000)::

    .venv/bin/python bench/samples_write.py
    .venv/bin/python bench/samples_write.py --rows 20000 --row-ids 7 --repeats 21
    .venv/bin/python bench/samples_write.py --kind lognormal
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import random
import statistics
import tempfile
import time
from array import array
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ipcbench.results.store import ResultWriter, RunStore, read_sample_arrays, samples_member


def old_decode(samples: Mapping[str, bytes]) -> dict[str, array[int]]:
    """The runner's former ``_decode_samples``: bytes -> array('q') per row id."""
    decoded = {}
    for row_id, raw in samples.items():
        values = array("q")
        values.frombytes(raw)
        decoded[row_id] = values
    return decoded


def old_sample_lines(row_id: str, values_ns: Iterable[int]) -> str:
    """The store's former ``_sample_lines``: ``row_id,value`` lines, one per sample."""
    prefix = f"{row_id},"
    lines = ("\n" + prefix).join(map(str, values_ns))
    return f"{prefix}{lines}\n" if lines else ""


def old_format(samples: Mapping[str, bytes]) -> str:
    decoded = old_decode(samples)
    return "".join(old_sample_lines(row_id, ns) for row_id, ns in decoded.items())


def old_gzip_write(path: Path, text: str) -> None:
    """The former ``write_case`` samples step (header on a new file, level 1, no fsync)."""
    new_file = not path.exists()
    with gzip.open(path, "at", encoding="utf-8", compresslevel=1) as gz:
        if new_file:
            gz.write("row_id,lat_ns\n")
        gz.write(text)


def new_write(path: Path, samples: Mapping[str, bytes]) -> None:
    """The new samples step without ``write_case``'s fsyncs (to compare with the text way)."""
    member = samples_member(samples, magic=not path.exists())
    with open(path, "ab") as fh:
        fh.write(member)


def make_samples(n: int, row_ids: int, kind: str, seed: int) -> dict[str, bytes]:
    """``n`` latencies (ns) as bytes of an array('q') per row id (``n`` split evenly), like a
    driver's RowMessage.samples. ``qsize``: real per-call times of ``Queue.qsize()`` taken
    here as lifecycle's op qsize takes them (a few hundred ns, tight); ``lognormal``: made up,
    around 20 us, 0.2 % of them 8x (a tail; less regular, so slower to compress)."""
    if kind == "qsize":
        import multiprocessing

        queue, clock = multiprocessing.get_context("fork").Queue(), time.perf_counter_ns
        values = array("q", bytes(8 * n))
        for i in range(n):
            t0 = clock()
            queue.qsize()
            values[i] = clock() - t0
        queue.close()
    else:
        rng = random.Random(seed)
        values = array(
            "q",
            (
                int(20_000 * math.exp(rng.gauss(0, 0.3)) * (8 if rng.random() < 0.002 else 1))
                for _ in range(n)
            ),
        )
    size = math.ceil(n / row_ids)
    return {
        f"0123456789ab-{i + 1}": values[i * size : (i + 1) * size].tobytes() for i in range(row_ids)
    }


def timed(step: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Milliseconds ``step(*args)`` took, and what it returned."""
    started = time.perf_counter_ns()
    result = step(*args)
    return (time.perf_counter_ns() - started) / 1e6, result


def show(name: str, ms: list[float]) -> None:
    print(f"  {name:<22} {statistics.median(ms):8.1f} ms   (min {min(ms):.1f}, max {max(ms):.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=700_000, help="samples written per way")
    parser.add_argument("--row-ids", type=int, default=1, help="row ids they are spread over")
    parser.add_argument("--repeats", type=int, default=7, help="writes per way")
    parser.add_argument("--kind", choices=("qsize", "lognormal"), default="qsize")
    parser.add_argument("--seed", type=int, default=1, help="of --kind lognormal")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the files go")
    args = parser.parse_args()

    samples = make_samples(args.rows, args.row_ids, args.kind, args.seed)
    times: dict[str, list[float]] = {
        "text: format": [],
        "text: gzip+write": [],
        "text: total": [],
        "binary": [],
        "binary, write_case": [],
    }
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        store = RunStore.for_csv(Path(folder) / "run.csv")
        for _ in range(args.repeats):  # interleaved: a slow moment hits both ways
            for path in (store.old_samples, store.samples, store.csv):
                path.unlink(missing_ok=True)
            formatting, text = timed(old_format, samples)
            writing, _ = timed(old_gzip_write, store.old_samples, text)
            times["text: format"].append(formatting)
            times["text: gzip+write"].append(writing)
            times["text: total"].append(formatting + writing)
            times["binary"].append(timed(new_write, store.samples, samples)[0])
            store.samples.unlink()
            with ResultWriter(store) as writer:
                times["binary, write_case"].append(timed(writer.write_case, [], samples)[0])
        old_size, new_size = store.old_samples.stat().st_size, store.samples.stat().st_size
        _check_same(store, samples)

    print(
        f"{args.rows} {args.kind} samples over {args.row_ids} row id(s), {args.repeats} "
        f"repeats, files in {args.dir} (median, min-max):"
    )
    for name, ms in times.items():
        show(name, ms)
    total, binary = statistics.median(times["text: total"]), statistics.median(times["binary"])
    print(f"  binary / text total: {binary / total:.2f}")
    print(
        f"file size: text {old_size / 1e6:.2f} MB, binary {new_size / 1e6:.2f} MB "
        f"({new_size / old_size:.2f}x); raw int64 {args.rows * 8 / 1e6:.2f} MB"
    )
    print(f"(pid {os.getpid()}, one process, single-threaded)")


def _check_same(store: RunStore, samples: Mapping[str, bytes]) -> None:
    """Both files hold exactly the samples written (the text one as int lines)."""
    expected = old_decode(samples)
    binary = dict(read_sample_arrays(store.samples))
    with gzip.open(store.old_samples, "rt", encoding="utf-8") as gz:
        gz.readline()
        text: dict[str, array[int]] = {row_id: array("q") for row_id in expected}
        for line in gz:
            row_id, _, value = line.partition(",")
            text[row_id].append(int(value))
    if not binary == text == expected:
        raise SystemExit("the two files do not hold the same samples")


if __name__ == "__main__":
    main()
