"""The report's analysis: every ranking and every comparison a sentence of the report states,
tested as one Benjamini-Hochberg family (``analyse``)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from ipcbench.analysis import advise, ranking, stats
from ipcbench.results import interpreter
from ipcbench.views.slicing import nearest_size

RECOMMEND_PATTERNS: tuple[str, ...] = ("pingpong", "stream", "fan", "taskqueue")
HEADLINE_PAIRS: tuple[tuple[str, str], ...] = (("pipe", "queue"), ("pipe_bytes", "pipe"))


SETTING_DIMS: tuple[str, ...] = ("payload_kind", "start_method", "python", "placement")
PREFERRED_SETTING: dict[str, str] = {
    "payload_kind": "bytes",
    "placement": "unpinned",
    "python": interpreter.tag(),  # with --pythons: the sections speak of the launched one
}
PROXY_TARGET_BYTES = 64  # Manager dict/list sharing moves small values
PROXY_MAX_BYTES = 4096
PLACEMENT_TARGET_BYTES = 64
CALL_PATTERNS: tuple[str, ...] = ("nowait", "stream", "fan", "taskqueue")


@dataclass(frozen=True)
class Stated:
    """A comparison a finding states, with what it is about (``kind`` and ``about``)."""

    kind: str  # "pair", "floor", "placement", "proxy", "seed", "call", "threads", "python",
    # "python_seed"
    group: ranking.Group
    comparison: ranking.Comparison


@dataclass(frozen=True)
class Analysis:
    """Rankings of every like-for-like group of the recommended patterns and the extra
    comparisons the findings state: all of them one Benjamini-Hochberg family."""

    rankings: list[ranking.Ranking]
    stated: list[Stated]

    def of(self, kind: str) -> list[Stated]:
        return [s for s in self.stated if s.kind == kind]


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return df.to_dict("records") if not df.empty else []


def analyse(df: pd.DataFrame) -> Analysis:
    """Rank, compare and adjust everything the report says about this machine at once."""
    rows = records(df)
    groups = ranking.groups(rows, RECOMMEND_PATTERNS)
    pending: list[tuple[str, ranking.Group, ranking.Comparison]] = []
    pending += [("pair", g, c) for g, c in _pair_comparisons(groups)]
    pending += [("floor", g, c) for g, c in _floor_comparisons(rows)]
    pending += [("placement", g, c) for g, c in _placement_comparisons(rows)]
    pending += [("proxy", g, c) for g, c in _proxy_comparisons(rows)]
    pending += [("call", g, c) for g, c in advise.call_comparisons(rows, CALL_PATTERNS)]
    pending += [("threads", g, c) for g, c in _thread_comparisons(rows)]
    pending += [("python", g, c) for g, c in python_comparisons(rows)]
    pending += [("python_seed", g, c) for g, c in python_seed_comparisons(rows)]
    shown = advise.map_groups(groups, advise.map_setting(rows))
    pending += [("seed", g, c) for g, c in advise.seed_comparisons(shown)]
    rankings, adjusted = ranking.rank_groups(groups, [c for _, _, c in pending])
    stated = [Stated(k, g, c) for (k, g, _), c in zip(pending, adjusted, strict=True)]
    return Analysis(rankings, stated)


def main_setting(groups: Sequence[ranking.Group]) -> dict[str, str]:
    """The setting (payload kind, start method, Python, placement) findings speak about: bytes,
    unpinned and the running Python when measured, else the most common; the start method
    most common."""
    chosen: dict[str, str] = {}
    pool = list(groups)
    for dim in SETTING_DIMS:
        counts = Counter(g.get(dim) for g in pool)
        if not counts:
            break
        value = PREFERRED_SETTING.get(dim, "")
        chosen[dim] = value if value and value in counts else counts.most_common(1)[0][0]
        pool = [g for g in pool if g.get(dim) == chosen[dim]]
    return chosen


def _plain(group: ranking.Group, setting: Mapping[str, str]) -> bool:
    """1 x 1, no op, unbounded, no offered load, plain blocking calls, in ``setting``."""
    return (
        group.shape == (1, 1)
        and not group.get("op")
        and not group.get("maxsize")
        and not group.get("offered_load")
        and not group.get("call")
        and all(group.get(d) == v for d, v in setting.items())
    )


def headline_groups(groups: Sequence[ranking.Group], pattern: str) -> list[ranking.Group]:
    """The plain 1 x 1 groups of a pattern in its main setting, smallest size first."""
    mine = [g for g in groups if g.pattern == pattern]
    setting = main_setting(mine)
    return sorted((g for g in mine if _plain(g, setting)), key=lambda g: g.payload_bytes)


def _pair_comparisons(
    groups: Sequence[ranking.Group],
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    out = []
    for pattern in ("pingpong", "stream"):
        for g in headline_groups(groups, pattern)[:1]:
            out += [
                (g, ranking.compare_in(g, a, b))
                for a, b in HEADLINE_PAIRS
                if {a, b} <= set(g.values)
            ]
    return out


def _floor_comparisons(
    rows: Sequence[Mapping[str, Any]],
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    """At the largest stream size (main setting, 1 x 1): every channel against the fastest
    raw floor of the same group."""
    heads = headline_groups(ranking.groups(rows, ["stream"], floors=True), "stream")
    if not heads:
        return []
    g = heads[-1]
    floors = [t for t in g.values if ranking.is_floor(t)]
    if not floors:
        return []
    floor = max(floors, key=lambda t: stats.median(g.values[t]))
    return [(g, ranking.compare_in(g, t, floor)) for t in g.values if not ranking.is_floor(t)]


def _thread_comparisons(
    rows: Sequence[Mapping[str, Any]],
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    """Do I need processes at all? At the smallest and largest headline size of pingpong and
    stream (main setting, 1 x 1): each thread baseline against the fastest process channel of
    the same group (floors and baselines are not channels)."""
    out = []
    for pattern in ("pingpong", "stream"):
        found = ranking.groups(rows, [pattern], baselines=True)
        for g in _ends_of(headline_groups(found, pattern)):
            threads = [t for t in g.values if ranking.in_threads(t)]
            channels = [t for t in g.values if not ranking.in_threads(t)]
            if not threads or not channels:
                continue
            best = max(channels, key=lambda t: _goodness(g, t))
            out += [(g, ranking.compare_in(g, t, best)) for t in threads]
    return out


def _ends_of(groups: Sequence[ranking.Group]) -> list[ranking.Group]:
    return list(groups[:1]) + list(groups[-1:]) if len(groups) > 1 else list(groups)


def _goodness(group: ranking.Group, transport: str) -> float:
    median = stats.median(group.values[transport])
    return median if group.higher_is_better else -median


def _placement_comparisons(
    rows: Sequence[Mapping[str, Any]],
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    """Per channel at the pingpong size nearest 64 B: 'split' against 'same' (else
    'unpinned'), everything else equal. The group returned is the split one; ``first`` and
    ``second`` are the two placements' channel names tagged 'transport@placement'."""
    found = ranking.groups(rows, ["pingpong"], floors=True)
    placements = {g.get("placement") for g in found}
    other = next((p for p in ("same", "unpinned") if p in placements), None)
    if "split" not in placements or other is None:
        return []
    sizes = {g.payload_bytes for g in found if g.get("placement") == "split"}
    size = nearest_size(sizes, PLACEMENT_TARGET_BYTES)
    by_key = {(g.key, g.get("placement")): g for g in found}
    out = []
    for g in found:
        if g.get("placement") != "split" or g.payload_bytes != size or g.shape != (1, 1):
            continue
        twin_key = tuple((d, other if d == "placement" else v) for d, v in g.key)
        twin = by_key.get((twin_key, other))
        if twin is None:
            continue
        for t in sorted(set(g.values) & set(twin.values)):
            if t in ranking.IN_PROCESS_FLOORS:
                continue
            c = ranking.compare(t, g.values[t], t, twin.values[t], g.higher_is_better)
            out.append((g, replace(c, second=f"{t}@{other}")))
    return out


def _proxy_comparisons(
    rows: Sequence[Mapping[str, Any]],
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    """Each Manager proxy operation (proxy_ops, one client) at the small size against a Pipe
    round trip of the same size, payload kind, start method and placement. ``first`` is
    'transport op'; the group is the proxy operation's."""
    proxies = ranking.groups(rows, ["proxy_ops"])
    size = _proxy_size(proxies)
    if size is None:
        return []
    pipes = {
        _setting_key(g): g
        for g in ranking.groups(rows, ["pingpong"])
        if g.payload_bytes == size and _plain_shape(g)
    }
    out = []
    setting = main_setting(proxies)
    for g in proxies:
        if g.payload_bytes != size or any(g.get(d) != v for d, v in setting.items()):
            continue
        pipe = pipes.get(_setting_key(g))
        for t, values in g.values.items():
            name = f"{t} {g.get('op')}".strip()
            if pipe is None or "pipe" not in pipe.values:
                out.append(
                    (g, ranking.Comparison(name, "pipe", math.nan, stats.NAN_INTERVAL, math.nan))
                )
                continue
            out.append((g, ranking.compare(name, values, "pipe", pipe.values["pipe"], False)))
    return out


def _proxy_size(proxies: Sequence[ranking.Group]) -> int | None:
    small = [g.payload_bytes for g in proxies if g.payload_bytes <= PROXY_MAX_BYTES]
    return nearest_size(small, PROXY_TARGET_BYTES) if small else None


def _plain_shape(group: ranking.Group) -> bool:
    return (
        group.shape == (1, 1)
        and not group.get("op")
        and not group.get("maxsize")
        and not group.get("call")
    )


def _setting_key(group: ranking.Group) -> tuple[str, ...]:
    return tuple(group.get(d) for d in SETTING_DIMS)


# --- CPython versions (--pythons) ------------------------------------------------------------

PYTHON_PATTERNS: tuple[str, ...] = ("pingpong", "stream")


def version_order(tag: str) -> tuple[int, ...]:
    """'3.10' after '3.9'; the build suffix ('t', 'd') ignored."""
    return tuple(int(p) for p in tag.rstrip("td").split(".") if p.isdigit())


def python_tags(groups: Iterable[ranking.Group]) -> list[str]:
    """The interpreters measured (--pythons), oldest first."""
    return sorted({g.get("python") for g in groups} - {""}, key=version_order)


def _version_groups(
    rows: Sequence[Mapping[str, Any]], floors: bool
) -> tuple[list[ranking.Group], list[str], dict[str, str]]:
    """Plain 1 x 1 pingpong/stream groups in the main setting but for the interpreter (which
    varies); the interpreters; that setting."""
    found = ranking.groups(rows, list(PYTHON_PATTERNS), floors=floors)
    tags = python_tags(found)
    if len(tags) < 2:
        return [], tags, {}
    setting = {d: v for d, v in main_setting(found).items() if d != "python"}
    return [g for g in found if _plain(g, setting) and g.get("python")], tags, setting


def python_comparisons(
    rows: Sequence[Mapping[str, Any]],
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    """Every channel (raw floors too) in every plain pingpong/stream group of a newer
    interpreter against the same channel and group under the oldest one measured. ``first``
    and ``second`` are 'transport@version'; the group is the newer version's."""
    found, tags, _ = _version_groups(rows, floors=True)
    if not found:
        return []
    oldest = tags[0]
    by_key = {g.key: g for g in found}
    out = []
    for g in found:
        version = g.get("python")
        if version == oldest:
            continue
        twin = by_key.get(tuple((d, oldest if d == "python" else v) for d, v in g.key))
        if twin is None:
            continue
        for t in sorted(set(g.values) & set(twin.values)):
            c = ranking.compare(
                f"{t}@{version}", g.values[t], f"{t}@{oldest}", twin.values[t], g.higher_is_better
            )
            out.append((g, c))
    return out


def python_seed_comparisons(
    rows: Sequence[Mapping[str, Any]],
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    """The seed's question under each interpreter: Queue against Pipe in every plain
    pingpong/stream group that has both."""
    found, _, _ = _version_groups(rows, floors=False)
    return [
        (g, ranking.compare_in(g, "queue", "pipe"))
        for g in found
        if {"queue", "pipe"} <= set(g.values)
    ]
