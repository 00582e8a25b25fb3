"""The short table printed after a run: per payload size, the fastest transport."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
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


def format_summary(rows: list[dict[str, Any]]) -> str:
    lines = []
    for pattern, size, name, figure in best_per_size(rows):
        lines.append(f"  {pattern:<9} {human_size(size):>9}  fastest: {name:<14} {figure}")
    if not lines:
        return "No successful pingpong/stream cases to summarize."
    return "Fastest transport per payload size (median of repeats; floors excluded):\n" + "\n".join(
        lines
    )
