"""Rank channels within one like-for-like group, with tested verdicts (winner or tie group).

A *group* holds every channel measured with the same pattern, operation, payload size, payload
kind, start method, placement, maxsize, producers x consumers and offered load: only channels in
one group are ever compared, so no statement mixes placements or start methods. ``maxsize``
empty (does not apply: Pipe, SimpleQueue) and 0 (unbounded) are the same group; so are the
calling styles '' (none applies) and "block" (a plain blocking put/get, as Pipe's send/recv),
while a timeout or nowait style is a group of its own.

Within a group the channel with the best median over ok repeats is compared with every other
channel (``compare``: Mann-Whitney U on the repeats, time ratio of medians and its exact
Hodges-Lehmann interval, ``stats.ratio_interval``). All comparisons of a report are one family:
``adjust`` replaces p-values by Benjamini-Hochberg q-values over the whole family and decides
each comparison with ``stats.decide`` (q < 0.05, the interval excludes 1, and at least a 5 %
effect). The *tie group* is the best channel plus every channel not decided slower than it; a
*winner* exists only when the tie group is the best channel alone (it beats the runner-up and
everyone else).

Pure functions over result rows (mappings; ``df.to_dict("records")`` for a DataFrame). Only the
standard library is imported at module level (the runner prints the run summary with it).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ipcbench.analysis import stats
from ipcbench.results.schema import PARAM_COLUMNS, call_label, human_size

GROUP_DIMS: tuple[str, ...] = (
    "pattern",
    "op",
    "payload_bytes",
    "payload_kind",
    "start_method",
    "python",
    "placement",
    "maxsize",
    "producers",
    "consumers",
    "offered_load",
    "call",
    "call_timeout_s",
)
MIN_EFFECT = stats.MIN_EFFECT
ALPHA = stats.ALPHA
# floors that never cross a process boundary: not channels, never ranked
IN_PROCESS_FLOORS: frozenset[str] = frozenset({"memcpy", "pickle"})
_KNOWN_FLOORS: frozenset[str] = frozenset({"memcpy", "pickle", "raw_pipe", "raw_socketpair"})
_KNOWN_PEERS: frozenset[str] = frozenset({"zmq_ipc", "faster_fifo"})


@functools.cache
def _registry() -> dict[str, Any]:
    from ipcbench import transports

    return {cls.name: cls for cls in transports.all_transports()}


def is_floor(transport: str) -> bool:
    """True for the raw floors (os.pipe, socketpair, memcpy, pickle): no multiprocessing."""
    cls = _registry().get(transport)
    return bool(cls.floor) if cls is not None else transport in _KNOWN_FLOORS


def is_peer(transport: str) -> bool:
    """True for libraries other than multiprocessing (zmq_ipc, faster_fifo)."""
    cls = _registry().get(transport)
    if cls is None:
        return transport in _KNOWN_PEERS
    return str(getattr(cls, "description", "")).startswith("peer:")


def in_threads(transport: str) -> bool:
    """True for the thread baselines (thread_queue, ...): workers are threads of one process,
    so they answer "do I need processes at all?", not "which inter-process channel?"."""
    cls = _registry().get(transport)
    return (
        bool(getattr(cls, "in_threads", False))
        if cls is not None
        else transport.startswith("thread_")
    )


def pickles(transport: str) -> bool:
    """True when the channel pickles each message (wire "object"); bytes-frame channels
    (pipe_bytes, zmq_ipc, the raw floors) do not."""
    cls = _registry().get(transport)
    if cls is None:
        return transport not in _KNOWN_FLOORS | {"pipe_bytes", "zmq_ipc"}
    in_one_process = bool(getattr(cls, "in_threads", False))  # messages passed by reference
    return str(getattr(cls, "wire", "object")) == "object" and not cls.floor and not in_one_process


# ---------------------------------------------------------------------------------------------
# Groups


@dataclass(frozen=True)
class Group:
    """The ok-repeat values of each channel in one like-for-like group."""

    key: tuple[tuple[str, str], ...]  # (dimension, normalised cell), in GROUP_DIMS order
    metric: str
    higher_is_better: bool
    values: Mapping[str, tuple[float, ...]]  # transport -> ok repeat values of ``metric``

    def get(self, dim: str) -> str:
        return dict(self.key).get(dim, "")

    @property
    def pattern(self) -> str:
        return self.get("pattern")

    @property
    def payload_bytes(self) -> int:
        return int(self.get("payload_bytes") or 0)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.get("producers") or 1), int(self.get("consumers") or 1)

    def setting(self) -> str:
        """The fixed conditions other than pattern and size, e.g. 'bytes, fork, unpinned'."""
        parts = [self.get(d) for d in ("payload_kind", "start_method", "placement")]
        if self.get("python"):
            parts.insert(2, f"Python {self.get('python')}")
        if self.get("maxsize"):
            parts.append(f"maxsize {self.get('maxsize')}")
        if self.get("offered_load"):
            parts.append(f"load {self.get('offered_load')}")
        parts.append(call_label(self.get("call"), self.get("call_timeout_s")))
        return ", ".join(p for p in parts if p)

    def label(self) -> str:
        """'pingpong 64 B (bytes, fork, unpinned)', with op and P x C when they apply."""
        op = f"/{self.get('op')}" if self.get("op") else ""
        shape = "" if self.shape == (1, 1) else f" {self.shape[0]}\u00d7{self.shape[1]}"
        return f"{self.pattern}{op} {human_size(self.payload_bytes)}{shape} ({self.setting()})"


def group_key(row: Mapping[str, Any], drop: Iterable[str] = ()) -> tuple[tuple[str, str], ...]:
    """The like-for-like key of a row (cells normalised: '64', 64 and 64.0 agree)."""
    cells = dict(zip(PARAM_COLUMNS, stats.case_key(row), strict=True))
    if cells.get("maxsize") == "0":
        cells["maxsize"] = ""  # unbounded = no bound: compared with pipes
    if cells.get("call") == "block":
        cells["call"] = ""  # a plain blocking put/get: compared with pipes' send/recv
    dropped = set(drop)
    return tuple((d, cells.get(d, "")) for d in GROUP_DIMS if d not in dropped)


def groups(
    rows: Iterable[Mapping[str, Any]],
    patterns: Sequence[str] | None = None,
    *,
    floors: bool = False,
    metric: str | None = None,
    baselines: bool = False,
) -> list[Group]:
    """One Group per like-for-like key, for the given patterns (all when None).

    Floors (raw_pipe, raw_socketpair) are left out unless ``floors``; in-process floors
    (memcpy, pickle) always; thread baselines unless ``baselines``: they have no start method,
    so their rows join every group of the same other dimensions (or form their own where
    there is none). ``metric`` overrides the pattern's primary metric."""
    collected: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = {}
    metrics: dict[tuple[tuple[str, str], ...], tuple[str, bool]] = {}
    for row in rows:
        pattern = str(row.get("pattern") or "")
        transport = str(row.get("transport") or "")
        if patterns is not None and pattern not in patterns:
            continue
        if transport in IN_PROCESS_FLOORS or (not floors and is_floor(transport)):
            continue
        if in_threads(transport) and not baselines:
            continue
        if str(row.get("status") or "").strip() != "ok":
            continue
        column, higher = stats.primary_metric(pattern)
        if metric is not None:
            column = metric
        value = stats.to_float(row.get(column))
        if value is None:
            continue
        key = group_key(row)
        metrics.setdefault(key, (column, higher))
        collected.setdefault(key, {}).setdefault(transport, []).append(value)
    _spread_unmethodical(collected, metrics)
    return [
        Group(key, *metrics[key], {t: tuple(v) for t, v in sorted(values.items())})
        for key, values in sorted(collected.items(), key=lambda kv: _sort_key(kv[0]))
    ]


def _spread_unmethodical(
    collected: dict[tuple[tuple[str, str], ...], dict[str, list[float]]],
    metrics: dict[tuple[tuple[str, str], ...], tuple[str, bool]],
) -> None:
    """Groups without a start method (thread baselines alone) join every group of the same
    other dimensions that has one, and are dropped there; kept where no such group exists."""
    method = GROUP_DIMS.index("start_method")
    for key in [k for k in collected if k[method] == ("start_method", "")]:
        twins = [
            k
            for k in collected
            if k[method][1] and k[:method] + k[method + 1 :] == key[:method] + key[method + 1 :]
        ]
        if not twins:
            continue
        values = collected.pop(key)
        metrics.pop(key)
        for twin in twins:
            for transport, repeats in values.items():
                collected[twin].setdefault(transport, []).extend(repeats)


def _sort_key(key: tuple[tuple[str, str], ...]) -> tuple[Any, ...]:
    out: list[Any] = []
    for _, cell in key:
        number = stats.to_float(cell)
        out.append((0, number, "") if number is not None else (1, 0.0, cell))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Comparisons


@dataclass(frozen=True)
class Comparison:
    """``first`` against ``second`` in time: ``time_ratio`` > 1 means ``first`` is slower.

    For latency metrics time is the value; for throughput metrics time is 1 / value, so a
    throughput twice as high is a time ratio of 0.5. ``decision`` is ``stats.decide``'s verdict
    of ``first`` ("slower", "faster" or "tie") once ``adjust`` has set ``q_value``."""

    first: str
    second: str
    time_ratio: float
    interval: stats.Interval
    p_value: float
    q_value: float = math.nan
    decision: str = "tie"

    @property
    def differs(self) -> bool:
        return self.decision != "tie"

    @property
    def factor(self) -> float:
        """How many times faster the faster side is (>= 1)."""
        r = self.time_ratio
        return max(r, 1 / r) if r > 0 else math.nan


def compare(
    first: str,
    first_values: Sequence[float],
    second: str,
    second_values: Sequence[float],
    higher_is_better: bool,
) -> Comparison:
    """An unadjusted comparison (``q_value`` NaN, decision "tie" until ``adjust``)."""
    if not first_values or not second_values:
        return Comparison(first, second, math.nan, stats.NAN_INTERVAL, math.nan)
    m_first, m_second = stats.median(first_values), stats.median(second_values)
    if higher_is_better:
        ratio = m_second / m_first if m_first > 0 else math.nan
        interval = stats.ratio_interval(second_values, first_values)
    else:
        ratio = m_first / m_second if m_second > 0 else math.nan
        interval = stats.ratio_interval(first_values, second_values)
    p_value = stats.mann_whitney_u(list(first_values), list(second_values)).p_value
    return Comparison(first, second, ratio, interval, p_value)


def adjust(
    comparisons: Sequence[Comparison], min_effect: float = MIN_EFFECT, alpha: float = ALPHA
) -> list[Comparison]:
    """The comparisons of one family with Benjamini-Hochberg q-values and decisions."""
    q_values = stats.benjamini_hochberg([c.p_value for c in comparisons])
    out = []
    for c, q in zip(comparisons, q_values, strict=True):
        bounds = (c.interval.lo, c.interval.hi)
        decision = stats.decide(q, c.time_ratio, bounds, min_effect, alpha)
        out.append(replace(c, q_value=q, decision=decision))
    return out


def compare_in(group: Group, first: str, second: str) -> Comparison:
    """``compare`` for two channels of one group (both must be in it)."""
    return compare(first, group.values[first], second, group.values[second], group.higher_is_better)


# ---------------------------------------------------------------------------------------------
# Rankings


@dataclass(frozen=True)
class Entry:
    transport: str
    median: float
    interval: stats.Interval  # exact order-statistic interval of the median (or a range)
    n_ok: int
    vs_best: Comparison | None  # this channel against the best one; None for the best


@dataclass(frozen=True)
class Ranking:
    group: Group
    entries: tuple[Entry, ...]  # best median first

    @property
    def best(self) -> Entry:
        return self.entries[0]

    @property
    def runner_up(self) -> Entry | None:
        return self.entries[1] if len(self.entries) > 1 else None

    @property
    def tie_group(self) -> tuple[str, ...]:
        """The best channel and every channel that is not significantly slower than it."""
        return tuple(
            e.transport for e in self.entries if e.vs_best is None or not e.vs_best.differs
        )

    @property
    def winner(self) -> str | None:
        """The best channel, only when it beats every other one (runner-up included)."""
        if len(self.entries) < 2 or len(self.tie_group) > 1:
            return None
        return self.best.transport

    @property
    def verdict(self) -> str:
        """ "winner", "tie" or "alone" (one channel measured: nothing tested)."""
        if len(self.entries) < 2:
            return "alone"
        return "winner" if self.winner else "tie"

    def entry(self, transport: str) -> Entry | None:
        return next((e for e in self.entries if e.transport == transport), None)


def _entries(group: Group) -> list[Entry]:
    names = sorted(
        group.values,
        key=lambda t: stats.median(group.values[t]),
        reverse=group.higher_is_better,
    )
    return [
        Entry(
            t,
            stats.median(group.values[t]),
            stats.median_interval(group.values[t]),
            len(group.values[t]),
            None if i == 0 else compare_in(group, t, names[0]),
        )
        for i, t in enumerate(names)
    ]


def rank_groups(
    group_list: Sequence[Group],
    extra: Sequence[Comparison] = (),
    *,
    min_effect: float = MIN_EFFECT,
    alpha: float = ALPHA,
) -> tuple[list[Ranking], list[Comparison]]:
    """Rank every group; all their comparisons with the best channel and the ``extra`` ones
    (made with ``compare``) form one family for Benjamini-Hochberg. Returns the rankings (in
    ``group_list`` order) and the adjusted ``extra`` comparisons (in their order)."""
    raw = [_entries(g) for g in group_list if g.values]
    family = [e.vs_best for entries in raw for e in entries if e.vs_best is not None]
    adjusted = iter(adjust([*family, *extra], min_effect, alpha))
    rankings = []
    for group, entries in zip((g for g in group_list if g.values), raw, strict=True):
        done = [e if e.vs_best is None else replace(e, vs_best=next(adjusted)) for e in entries]
        rankings.append(Ranking(group, tuple(done)))
    return rankings, list(adjusted)


def rank(group: Group, *, min_effect: float = MIN_EFFECT, alpha: float = ALPHA) -> Ranking:
    """One group ranked on its own (its comparisons are the whole family)."""
    (ranking,), _ = rank_groups([group], min_effect=min_effect, alpha=alpha)
    return ranking


def rank_rows(
    rows: Iterable[Mapping[str, Any]],
    patterns: Sequence[str] | None = None,
    *,
    floors: bool = False,
    min_effect: float = MIN_EFFECT,
    alpha: float = ALPHA,
) -> list[Ranking]:
    """``groups`` then ``rank_groups``: every like-for-like group of the rows, one family."""
    found = groups(rows, patterns, floors=floors)
    return rank_groups(found, min_effect=min_effect, alpha=alpha)[0]


# ---------------------------------------------------------------------------------------------
# Text shared by the report, the run summary and ``advise``


def fmt_number(value: float) -> str:
    """Readable figures: 1,660 / 74.5 / 0.123 (never exponent notation)."""
    if not math.isfinite(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def fmt_metric(value: float, metric: str) -> str:
    """A figure with its unit: '74.5 µs', '1.2 ms', '175k msgs/s', '890 MB/s'."""
    if metric.endswith("_us"):
        if abs(value) >= 10_000:
            return f"{fmt_number(value / 1000)} ms"
        return f"{fmt_number(value)} \u00b5s"
    if metric == "mb_per_s":
        return f"{fmt_number(value)} MB/s"
    if metric == "msgs_per_s":
        for factor, suffix in ((1e6, "M"), (1e3, "k")):
            if abs(value) >= factor:
                return f"{fmt_number(value / factor)}{suffix} msgs/s"
        return f"{fmt_number(value)} msgs/s"
    return fmt_number(value)


def fmt_factor(factor: float) -> str:
    """'1.07×', '2.9×', '12×' (two decimals below 2, so 5 % effects stay visible)."""
    if not math.isfinite(factor):
        return "-"
    if factor < 2:
        return f"{factor:.2f}\u00d7"
    return f"{factor:.1f}\u00d7" if factor < 10 else f"{factor:.0f}\u00d7"


def fmt_q(q_value: float) -> str:
    return "q -" if math.isnan(q_value) else f"q = {q_value:.2g}"


def interval_text(entry: Entry, metric: str) -> str:
    """'70.1-80.3 µs, 94% range' or '71-78 µs, 98% interval' (its real level)."""
    iv = entry.interval
    if not math.isfinite(iv.lo):
        return "no interval"
    kind = "range" if iv.is_range else "interval"
    return f"{fmt_metric(iv.lo, metric)} to {fmt_metric(iv.hi, metric)}, {iv.level:.0%} {kind}"


def names_text(names: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" and {names[-1]}"


def verdict_text(ranking: Ranking) -> str:
    """One phrase: 'pipe_bytes (1.30× ahead of raw_pipe, q = 0.01)', 'tie: pipe_bytes, pipe
    (no significant difference)' or 'pipe (only channel measured)'."""
    best = ranking.best.transport
    if ranking.verdict == "alone":
        return f"{best} (only channel measured)"
    if ranking.verdict == "tie":
        return f"tie: {', '.join(ranking.tie_group)} (no significant difference)"
    up = ranking.runner_up
    assert up is not None and up.vs_best is not None
    margin = f"{fmt_factor(up.vs_best.factor)} ahead of {up.transport}"
    return f"{best} ({margin}, {fmt_q(up.vs_best.q_value)})"
