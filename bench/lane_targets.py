"""The lanes' speed targets, measured in one ipcbench run (shuffled rounds, fresh processes).

* 16 MiB stream: ``shm_handoff`` against ``pipe`` (target >= 5x its MB/s) and against the
  in-process ``memcpy`` floor (target within 2x); ``pipe_oob`` against ``pipe`` (a significant
  margin), with ``raw_pipe`` beside them to show the pipe's own limit. ``--kinds ndarray``
  adds the same for NumPy payloads.
* 64 B round trip: ``shm_ring`` (blocking wait) against ``raw_pipe``, per placement.

Each line: the median with its exact order-statistic interval (and its real coverage), and
each ratio with its Hodges-Lehmann interval and a two-sided Mann-Whitney p-value. Also the
peak RSS of the driver and the largest worker per case (MiB, an upper bound per process)::

    .venv/bin/python bench/lane_targets.py --repeats 20
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from typing import Any

import ipcbench
from ipcbench.analysis.stats import mann_whitney_u, median, median_interval, ratio_interval

STREAM_LANES = ("pipe", "raw_pipe", "pipe_oob", "shm_handoff", "shm_ring", "memcpy")
RATIOS_16MIB = (
    ("shm_handoff", "pipe", 5.0),
    ("shm_handoff", "memcpy", 0.5),
    ("pipe_oob", "pipe", None),
    ("shm_ring", "pipe", None),
    ("pipe", "raw_pipe", None),
)


def _values(frame: Any, column: str, **where: Any) -> list[float]:
    rows = frame[frame["status"] == "ok"]
    for key, value in where.items():
        rows = rows[rows[key] == value]
    return [float(v) for v in rows[column]]


def _line(label: str, values: Sequence[float], unit: str) -> str:
    if not values:
        return f"  {label:<34} no ok rows"
    ci = median_interval(values)
    return (
        f"  {label:<34} {median(values):>10,.1f} {unit}  [{ci.lo:,.1f}, {ci.hi:,.1f}] "
        f"{ci.level:.1%}  (n={len(values)})"
    )


def _ratio(label: str, num: Sequence[float], den: Sequence[float], target: float | None) -> str:
    if not num or not den:
        return f"  {label:<34} missing"
    ci = ratio_interval(num, den)
    p = mann_whitney_u(num, den).p_value
    goal = ""
    if target is not None:
        goal = f"  target {'>=' if target >= 1 else 'within'} {max(target, 1 / target):g}x: "
        goal += "met" if ci.lo >= target else ("not met" if ci.hi < target else "undecided")
    return (
        f"  {label:<34} {median(num) / median(den):>8.2f}x  [{ci.lo:.2f}, {ci.hi:.2f}] "
        f"{ci.level:.1%}  p={p:.2g}{goal}"
    )


def stream_section(frame: Any, kind: str) -> list[str]:
    out = [f"stream, 16 MiB, {kind}: MB/s (median [interval] coverage)"]
    mbps = {t: _values(frame, "mb_per_s", transport=t, payload_kind=kind) for t in STREAM_LANES}
    for t in STREAM_LANES:
        if mbps[t]:
            rss = _values(frame, "worker_peak_rss_mib", transport=t, payload_kind=kind)
            drv = _values(frame, "driver_peak_rss_mib", transport=t, payload_kind=kind)
            tail = (
                f"   peak RSS driver {median(drv):.0f}, worker {median(rss):.0f} MiB" if rss else ""
            )
            out.append(_line(t, mbps[t], "MB/s") + tail)
    out.append("ratios of MB/s (median ratio [Hodges-Lehmann interval] coverage, Mann-Whitney)")
    for num, den, target in RATIOS_16MIB:
        if mbps.get(num) and mbps.get(den):
            out.append(_ratio(f"{num} / {den}", mbps[num], mbps[den], target))
    return out


def pingpong_section(frame: Any) -> list[str]:
    out = ["pingpong, 64 B: round trip p50 (us)"]
    for placement in sorted(set(frame[frame["pattern"] == "pingpong"]["placement"])):
        lat = {
            t: _values(frame, "lat_p50_us", transport=t, pattern="pingpong", placement=placement)
            for t in ("shm_ring", "raw_pipe", "pipe")
        }
        for t, values in lat.items():
            out.append(_line(f"{t} ({placement})", values, "us"))
        out.append(
            _ratio(f"shm_ring / raw_pipe ({placement})", lat["shm_ring"], lat["raw_pipe"], None)
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--kinds", default="bytes", help="payload kinds: bytes and/or ndarray")
    parser.add_argument("--placements", default="same,split")
    parser.add_argument("--target-time", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        stream = ipcbench.run(
            transports=",".join(STREAM_LANES),
            patterns="stream",
            sizes="16MiB",
            payload_kinds=args.kinds,
            start_methods="fork",
            repeats=args.repeats,
            target_time=args.target_time,
            out=out,
            quiet=True,
        )
        pingpong = ipcbench.run(
            transports="shm_ring,raw_pipe,pipe",
            patterns="pingpong",
            sizes="64",
            start_methods="fork",
            placements=args.placements,
            repeats=args.repeats,
            target_time=args.target_time,
            out=out,
            quiet=True,
        )
    for kind in args.kinds.split(","):
        print("\n".join(stream_section(stream, kind)))
    print("\n".join(pingpong_section(pingpong)))


if __name__ == "__main__":
    main()
