"""The short table printed after a run: per payload size, the fastest transport."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from math import nan
from typing import Any

from ipcbench import transports
from ipcbench.params import human_size


def _median_by_case(rows: Iterable[dict[str, Any]], column: str) -> dict[tuple, float]:
    values: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        if row.get("status") == "ok" and row.get(column) not in (None, ""):
            key = (
                row["pattern"],
                row["payload_bytes"],
                row["transport"],
                row["payload_kind"],
                row["start_method"],
                row["maxsize"],
                row["placement"],
                row["op"],
            )
            values[key].append(float(row[column]))
    return {key: statistics.median(v) for key, v in values.items()}


def best_per_size(rows: list[dict[str, Any]]) -> list[tuple[str, int, str, str]]:
    """(pattern, size, transport, figure) of the fastest non-floor transport per pattern/size."""
    floors = {cls.name for cls in transports.all_transports() if cls.floor}
    table = []
    for pattern, column, lower_better, unit in (
        ("pingpong", "lat_p50_us", True, "µs p50 round trip"),
        ("stream", "msgs_per_s", False, "msgs/s"),
    ):
        best: dict[int, tuple[float, str]] = {}
        for key, value in _median_by_case(rows, column).items():
            if key[0] != pattern or key[2] in floors:
                continue
            size = int(key[1])
            score = value if lower_better else -value
            if size not in best or score < best[size][0]:
                best[size] = (score, key[2])
        for size in sorted(best):
            score, name = best[size]
            figure = abs(score)
            table.append(
                (
                    pattern,
                    size,
                    name,
                    f"{figure:,.1f} {unit}" if lower_better else f"{figure:,.0f} {unit}",
                )
            )
    return table


KEEPS_UP_SHARE = 0.95  # delivered / offered at or above this: the channel keeps up
P50_GROWTH_LIMIT = 3.0  # p50 latency more than this × its lowest-load value: queueing


@dataclass(frozen=True)
class LoadPoint:
    offered_per_s: float
    achieved_per_s: float
    lat_p50_us: float
    lat_p99_us: float

    def keeps_up(self, base_p50_us: float) -> bool:
        return (
            self.achieved_per_s >= KEEPS_UP_SHARE * self.offered_per_s
            and self.lat_p50_us <= P50_GROWTH_LIMIT * base_p50_us
        )


@dataclass(frozen=True)
class Saturation:
    """The rate pattern's knee for one channel: the last offered load it kept up with, and
    the first it did not (None: it kept up with every load offered)."""

    transport: str
    payload_bytes: int
    kept_up: LoadPoint | None
    saturated: LoadPoint | None


def _channel(row: dict[str, Any]) -> str:
    """The transport, with start method and placement when they are not the defaults."""
    extra = [
        str(row.get(c) or "")
        for c in ("start_method", "placement", "payload_kind")
        if str(row.get(c) or "") not in ("", "fork", "unpinned", "bytes")
    ]
    return f"{row['transport']} ({', '.join(extra)})" if extra else str(row["transport"])


def _load_points(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, int], list[LoadPoint]]:
    """Per (channel, size): medians over repeats at each offered load, lowest load first."""
    cells: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("pattern") == "rate" and row.get("status") == "ok":
            key = (_channel(row), int(row["payload_bytes"]), str(row["offered_load"]))
            cells[key].append(row)
    points: dict[tuple[str, int], list[LoadPoint]] = defaultdict(list)
    for (transport, size, _), cell in cells.items():
        med = {
            # a percentile too few samples support is None (latency.percentile_supported)
            c: statistics.median([float(r[c]) for r in cell if r.get(c) is not None] or [nan])
            for c in ("offered_per_s", "msgs_per_s", "lat_p50_us", "lat_p99_us")
        }
        points[(transport, size)].append(
            LoadPoint(med["offered_per_s"], med["msgs_per_s"], med["lat_p50_us"], med["lat_p99_us"])
        )
    return {key: sorted(v, key=lambda p: p.offered_per_s) for key, v in points.items()}


def saturation_points(rows: Iterable[dict[str, Any]]) -> list[Saturation]:
    """The saturation point of every channel run with the rate pattern.

    A load is kept up with when at least 95% of the offered messages per second were
    delivered and the p50 latency stayed within 3× its value at the lowest load; the first
    load that fails either test (past the last one that passed) is the saturation point."""
    found = []
    for (transport, size), points in sorted(_load_points(rows).items()):
        base_p50_us = min(p.lat_p50_us for p in points)
        kept_up, saturated = None, None
        for point in points:
            if point.keeps_up(base_p50_us):
                kept_up, saturated = point, None
            elif saturated is None:
                saturated = point
        found.append(Saturation(transport, size, kept_up, saturated))
    return found


def _p99_text(p99_us: float) -> str:
    return "- (too few samples)" if p99_us != p99_us else f"{p99_us:,.1f} µs"  # NaN: unsupported


def format_saturation(s: Saturation) -> str:
    head = f"  rate      {human_size(s.payload_bytes):>9}  {s.transport:<14}"
    kept = (
        f"keeps up to {s.kept_up.offered_per_s:,.0f} msgs/s (p50 {s.kept_up.lat_p50_us:,.1f} µs, "
        f"p99 {_p99_text(s.kept_up.lat_p99_us)})"
        if s.kept_up
        else "kept up with no offered load"
    )
    if s.saturated is None:
        return f"{head} {kept}; no saturation up to the highest load offered"
    return (
        f"{head} {kept}; saturated at {s.saturated.offered_per_s:,.0f} msgs/s offered "
        f"({s.saturated.achieved_per_s:,.0f} delivered, p50 {s.saturated.lat_p50_us:,.1f} µs)"
    )


def format_summary(rows: list[dict[str, Any]]) -> str:
    lines = []
    for pattern, size, name, figure in best_per_size(rows):
        lines.append(f"  {pattern:<9} {human_size(size):>9}  fastest: {name:<14} {figure}")
    lines += [format_saturation(s) for s in saturation_points(rows)]
    if not lines:
        return "No successful pingpong/stream/rate cases to summarize."
    return (
        "Fastest transport per payload size (median of repeats; floors excluded), and where "
        "each channel saturates under an offered load (rate):\n" + "\n".join(lines)
    )
