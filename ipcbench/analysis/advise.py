"""Answers to the question people come with: which channel, for this size, on this machine?

Pure functions over result rows (mappings, as ``df.to_dict("records")``); every verdict comes
from ``ranking`` (like-for-like groups, a winner only when it beats every other channel, tie
groups, one Benjamini-Hochberg family) and every interval from ``stats`` with its real level.

* ``advise(rows, question)`` -- the answer of ``ipcbench advise``: the recommended channel (or
  tie group) with its figure and interval, how much slower ``queue`` and the seed's other
  channels are (time ratios with intervals), the floors quoted as the machine's limit (never
  recommended), the nearest measured sizes when the asked one was not measured, and caveats.
* ``decision_map(rows)`` -- per shape (pingpong latency, stream throughput, fan at each P x C)
  and payload size: the winner or tie group and its margin over the runner-up; ``crossovers``
  names a change of leader only where it is significant at both neighbouring sizes;
  ``seed_table`` answers the seed's question (Pipe vs Queue vs Manager proxies) per size.
* ``machine_differences(machines)`` -- several machines in one report: per channel, which are
  slower or faster than on the first machine in absolute terms and relative to each machine's
  own ``raw_pipe`` floor, and where the advice (winner or tie group) differs.

Only the standard library and ipcbench's stdlib modules at module level; ``machine_differences``
imports pandas (through ``ipcbench.analysis.compare``) when called.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ipcbench.analysis import ranking, stats
from ipcbench.errors import IpcbenchError
from ipcbench.results import interpreter
from ipcbench.results.schema import call_label, human_size

GOALS: tuple[str, ...] = ("latency", "throughput")
DEFAULT_CHANNEL = "queue"  # the usual default: multiprocessing.Queue
SEED_CHANNELS: tuple[str, ...] = ("pipe", "queue", "simplequeue", "joinablequeue", "manager_queue")
FLOOR_CHANNELS: tuple[str, ...] = ("raw_pipe", "raw_socketpair")
MAP_PATTERNS: tuple[str, ...] = ("pingpong", "stream", "fan")
SEED_PAIRS: tuple[tuple[str, str], ...] = (
    ("queue", "pipe"),
    ("manager_queue", "pipe"),
    ("manager_queue", "queue"),
)
PREFERRED = {"payload_kind": "bytes", "placement": "unpinned", "python": interpreter.tag()}
SETTING_DIMS: tuple[str, ...] = ("payload_kind", "start_method", "python", "placement")


# ---------------------------------------------------------------------------------------------
# The question


@dataclass(frozen=True)
class Question:
    """What ``ipcbench advise`` was asked. None: not given (chosen from the data)."""

    payload_bytes: int
    goal: str = "latency"
    producers: int | None = None
    consumers: int | None = None
    payload_kind: str | None = None
    start_method: str | None = None
    python: str | None = None  # the interpreter of a --pythons run ('3.12')
    placement: str | None = None
    channels: tuple[str, ...] = ()  # candidates to consider (empty: every channel measured)

    @property
    def fan(self) -> bool:
        return self.producers is not None or self.consumers is not None

    @property
    def shape(self) -> tuple[int, int]:
        return self.producers or 1, self.consumers or 1


def pattern_for(question: Question) -> tuple[str, str]:
    """(pattern, metric) that answers the question; contradictions are IpcbenchError."""
    if question.goal not in GOALS:
        raise IpcbenchError(f"--goal {question.goal!r}: choose latency or throughput")
    if question.fan:
        if question.goal == "latency":
            p, c = question.shape
            raise IpcbenchError(
                f"--goal latency with {p} producer(s) x {c} consumer(s): the fan pattern "
                "measures throughput only (no per-message latency); use --goal throughput, or "
                "drop --producers/--consumers for the round-trip latency"
            )
        return "fan", stats.THROUGHPUT_METRIC
    if question.goal == "latency":
        return "pingpong", stats.LATENCY_METRIC
    return "stream", stats.THROUGHPUT_METRIC


def check_channels(names: Iterable[str]) -> tuple[str, ...]:
    """The names, each a known channel (floors and in-process floors are not channels)."""
    from ipcbench import transports

    known = [n for n in transports.names() if not ranking.is_floor(n)]
    out = []
    for name in names:
        if name not in known:
            raise IpcbenchError(
                f"unknown channel {name!r}; choose from {', '.join(known)} "
                "(floors such as raw_pipe are quoted as the machine's limit, never advised)"
            )
        out.append(name)
    return tuple(dict.fromkeys(out))


# ---------------------------------------------------------------------------------------------
# Selecting the rows that answer it


def _cell(row: Mapping[str, Any], dim: str) -> str:
    return dict(ranking.group_key(row)).get(dim, "")


def _plain(row: Mapping[str, Any]) -> bool:
    """No op, unbounded, no offered load, plain blocking calls: the case that answers 'which
    channel'."""
    key = dict(ranking.group_key(row))
    return not any(key.get(d) for d in ("op", "maxsize", "offered_load", "call"))


def _shape_of(row: Mapping[str, Any]) -> tuple[int, int]:
    key = dict(ranking.group_key(row))
    return int(float(key.get("producers") or 1)), int(float(key.get("consumers") or 1))


def choose_setting(
    rows: Sequence[Mapping[str, Any]], question: Question, pattern: str
) -> dict[str, str]:
    """Payload kind, start method and placement: as asked, else bytes / unpinned when
    measured, else the most common. An asked value not in the data is an IpcbenchError."""
    pool = list(rows)
    chosen: dict[str, str] = {}
    for dim in SETTING_DIMS:
        counts = Counter(_cell(r, dim) for r in pool)
        asked = getattr(question, dim)
        if asked is not None:
            if asked not in counts:
                have = ", ".join(sorted(c for c in counts if c)) or "none"
                flag = dim.replace("_", "-")
                raise IpcbenchError(f"no {pattern} results with --{flag} {asked}; measured: {have}")
            chosen[dim] = asked
        else:
            chosen[dim] = _preferred(dim, counts)
        pool = [r for r in pool if _cell(r, dim) == chosen[dim]]
    return chosen


def _preferred(dim: str, counts: Counter[str]) -> str:
    """The preferred value when measured, else the most common one that applies: an empty
    cell means "does not apply" (the start method of the in-process floors), never a choice
    while another value exists."""
    preferred = PREFERRED.get(dim)
    if preferred is not None and preferred in counts:
        return preferred
    applying = Counter({value: n for value, n in counts.items() if value}) or counts
    return applying.most_common(1)[0][0]


def _python_caveat(python: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Which interpreter the answer is for, when the rows hold several (--pythons)."""
    measured = sorted({_cell(r, "python") for r in rows} - {""}, key=_version_order)
    if len(measured) < 2:
        return []
    others = ", ".join(p for p in measured if p != python)
    return [f"for Python {python}; {others} measured too (ranked apart; --python to choose)"]


def _version_order(tag: str) -> tuple[int, ...]:
    return tuple(int(part) for part in tag.rstrip("td").split(".") if part.isdigit())


def question_rows(
    rows: Iterable[Mapping[str, Any]], question: Question
) -> tuple[str, str, dict[str, str], list[Mapping[str, Any]]]:
    """(pattern, metric, setting, rows of that pattern, shape and setting), every status."""
    pattern, metric = pattern_for(question)
    mine = [r for r in rows if str(r.get("pattern") or "") == pattern and _plain(r)]
    if not mine:
        raise IpcbenchError(
            f"no {pattern} results to answer a {question.goal} question; measure them with "
            f"'ipcbench run -p {pattern}' or use 'ipcbench advise --measure'"
        )
    shapes = sorted({_shape_of(r) for r in mine})
    if question.shape not in shapes:
        have = ", ".join(f"{p}\u00d7{c}" for p, c in shapes)
        p, c = question.shape
        raise IpcbenchError(
            f"no {pattern} results with {p} producer(s) x {c} consumer(s); measured: {have}"
        )
    mine = [r for r in mine if _shape_of(r) == question.shape]
    setting = choose_setting(mine, question, pattern)
    mine = [r for r in mine if all(_cell(r, d) == v for d, v in setting.items())]
    return pattern, metric, setting, mine


def measured_sizes(rows: Iterable[Mapping[str, Any]]) -> list[int]:
    """Sizes where at least one channel (not a floor) has an ok repeat."""
    sizes = {
        int(float(_cell(r, "payload_bytes")))
        for r in rows
        if str(r.get("status") or "").strip() == "ok"
        and not ranking.is_floor(str(r.get("transport") or ""))
    }
    return sorted(sizes)


def sizes_to_answer(sizes: Sequence[int], asked: int) -> list[int]:
    """[asked] when measured, else the nearest measured below and above (one at an end)."""
    if asked in sizes:
        return [asked]
    below = [s for s in sizes if s < asked]
    above = [s for s in sizes if s > asked]
    return [*below[-1:], *above[:1]]


# ---------------------------------------------------------------------------------------------
# The answer


@dataclass(frozen=True)
class ChannelLine:
    """One channel at one size: its figure, and its time ratio to the best channel."""

    transport: str
    median: float
    interval: stats.Interval
    n_ok: int
    n_runs: int  # repeats recorded (ok or not)
    vs_best: ranking.Comparison | None


@dataclass(frozen=True)
class SizeAnswer:
    payload_bytes: int
    ranking: ranking.Ranking
    channels: tuple[ChannelLine, ...]
    floors: tuple[ChannelLine, ...]
    failed: tuple[str, ...]  # channels recorded at this size without one ok repeat

    @property
    def metric(self) -> str:
        return self.ranking.group.metric

    @property
    def best(self) -> ChannelLine:
        return self.channels[0]

    def line(self, transport: str) -> ChannelLine | None:
        return next((c for c in self.channels if c.transport == transport), None)


@dataclass(frozen=True)
class Advice:
    question: Question
    pattern: str
    metric: str
    setting: dict[str, str]
    measured: tuple[int, ...]
    answers: tuple[SizeAnswer, ...]
    caveats: tuple[str, ...] = field(default=())

    @property
    def asked_measured(self) -> bool:
        return self.question.payload_bytes in self.measured


def advise(
    rows: Iterable[Mapping[str, Any]], question: Question, logical_cpus: int | None = None
) -> Advice:
    """The answer to ``question`` from result rows; IpcbenchError when they cannot answer it."""
    pattern, metric, setting, mine = question_rows(list(rows), question)
    if question.channels:
        keep = set(question.channels) | set(FLOOR_CHANNELS)
        mine = [r for r in mine if str(r.get("transport")) in keep]
    sizes = measured_sizes(mine)
    if not sizes:
        raise IpcbenchError(
            f"no ok {pattern} repeats of any channel in the chosen setting "
            f"({', '.join(setting.values())}); every case failed: see 'ipcbench summarize'"
        )
    answer_sizes = sizes_to_answer(sizes, question.payload_bytes)
    answers = _answers(mine, answer_sizes, metric)
    cpus = logical_cpus or _logical_cpus(mine)
    caveats = _caveats(question, pattern, setting, answers, cpus, list(rows))
    return Advice(question, pattern, metric, setting, tuple(sizes), answers, caveats)


def _logical_cpus(rows: Sequence[Mapping[str, Any]]) -> int | None:
    values = [stats.to_float(r.get("logical_cpus")) for r in rows]
    found = [int(v) for v in values if v is not None and v > 0]
    return min(found) if found else None


def _answers(
    rows: Sequence[Mapping[str, Any]], sizes: Sequence[int], metric: str
) -> tuple[SizeAnswer, ...]:
    """Rank the groups of the answered sizes as one family; floors ranked apart (quoted)."""
    at = [r for r in rows if int(float(_cell(r, "payload_bytes"))) in sizes]
    pattern = str(at[0].get("pattern"))
    found = ranking.groups(at, [pattern], metric=metric)
    rankings, _ = ranking.rank_groups(found)
    floor_groups = {
        g.payload_bytes: g
        for g in ranking.groups(at, [pattern], floors=True, metric=metric)
        if any(ranking.is_floor(t) for t in g.values)
    }
    runs = Counter((str(r.get("transport")), int(float(_cell(r, "payload_bytes")))) for r in at)
    out = []
    for r in rankings:
        size = r.group.payload_bytes
        channels = tuple(_line(e, runs[(e.transport, size)]) for e in r.entries)
        floors = _floor_lines(floor_groups.get(size), runs, size)
        ok = {e.transport for e in r.entries}
        failed = tuple(sorted(t for t, s in runs if s == size and t not in ok and not _floor(t)))
        out.append(SizeAnswer(size, r, channels, floors, failed))
    return tuple(out)


def _floor(transport: str) -> bool:
    return ranking.is_floor(transport)


def _line(entry: ranking.Entry, n_runs: int) -> ChannelLine:
    return ChannelLine(
        entry.transport, entry.median, entry.interval, entry.n_ok, n_runs, entry.vs_best
    )


def _floor_lines(
    group: ranking.Group | None, runs: Mapping[tuple[str, int], int], size: int
) -> tuple[ChannelLine, ...]:
    if group is None:
        return ()
    out = []
    for name in FLOOR_CHANNELS:
        values = group.values.get(name)
        if values:
            iv = stats.median_interval(values)
            out.append(
                ChannelLine(name, stats.median(values), iv, len(values), runs[(name, size)], None)
            )
    return tuple(out)


def _caveats(
    question: Question,
    pattern: str,
    setting: Mapping[str, str],
    answers: Sequence[SizeAnswer],
    logical_cpus: int | None,
    all_rows: Sequence[Mapping[str, Any]],
) -> tuple[str, ...]:
    out: list[str] = []
    same_pattern = [r for r in all_rows if str(r.get("pattern") or "") == pattern]
    placements = sorted({_cell(r, "placement") for r in same_pattern} - {""})
    methods = sorted({_cell(r, "start_method") for r in same_pattern} - {""})
    place = setting.get("placement", "")
    if place and place != "unpinned":
        out.append(f"placement {place}: processes pinned to CPUs; unpinned may rank differently")
    elif len(placements) > 1:
        others = ", ".join(p for p in placements if p != place)
        out.append(f"for {place} processes only; pinned placements ({others}) are ranked apart")
    method = setting.get("start_method", "")
    if len(methods) > 1:
        others = ", ".join(m for m in methods if m != method)
        out.append(f"for start method {method}; {others} measured too (ranked apart)")
    elif method:
        out.append(f"for start method {method} only (the only one measured)")
    out += _python_caveat(setting.get("python", ""), same_pattern)
    n_procs = _processes(pattern, question)
    if logical_cpus is not None and n_procs > logical_cpus:
        out.append(
            f"oversubscribed: {n_procs} processes (parent + {n_procs - 1} workers) on "
            f"{logical_cpus} logical CPUs; the processes take turns, so figures are "
            "scheduler-bound"
        )
    out += _repeat_caveats(answers)
    out += _call_caveats(all_rows, pattern, answers)
    floors = sorted({f.transport for a in answers for f in a.floors})
    if floors:
        out.append(
            f"floors ({', '.join(floors)}) are the machine's limit, not channels: they "
            "move raw bytes without multiprocessing's framing, pickling or locking"
        )
    return tuple(out)


def _processes(pattern: str, question: Question) -> int:
    if pattern == "fan":
        p, c = question.shape
        return p + c + 1
    return 2


def _repeat_caveats(answers: Sequence[SizeAnswer]) -> list[str]:
    out = []
    for a in answers:
        at = human_size(a.payload_bytes)
        for c in a.channels:
            if c.n_ok < stats.MIN_OK_REPEATS or c.n_ok < c.n_runs:
                out.append(
                    f"{c.transport} at {at}: {c.n_ok} of {c.n_runs} repeats ok"
                    + (
                        f" (fewer than {stats.MIN_OK_REPEATS}: differences are hard to call)"
                        if c.n_ok < stats.MIN_OK_REPEATS
                        else ""
                    )
                )
        if a.failed:
            out.append(f"at {at} no ok repeat of {ranking.names_text(list(a.failed))}: left out")
        if a.ranking.verdict == "alone":
            out.append(f"at {at} only {a.best.transport} was measured: nothing to compare with")
    return out


def call_comparisons(
    rows: Sequence[Mapping[str, Any]], patterns: Sequence[str]
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    """Per channel, pattern, size and shape: each put/get calling style that retries (a
    timeout, nowait) against plain blocking calls, everything else equal. The group returned
    is the styled one; ``first`` is 'transport style' (e.g. 'queue timeout=0.01s'),
    ``second`` 'transport block'."""
    found = ranking.groups(rows, patterns)
    plain = {g.key: g for g in found if not g.get("call")}
    out = []
    for g in found:
        if not g.get("call"):
            continue
        twin_key = tuple((d, "" if d in ("call", "call_timeout_s") else v) for d, v in g.key)
        twin = plain.get(twin_key)
        if twin is None:
            continue
        style = call_label(g.get("call"), g.get("call_timeout_s"))
        for t in sorted(set(g.values) & set(twin.values)):
            c = ranking.compare(
                f"{t} {style}", g.values[t], f"{t} block", twin.values[t], g.higher_is_better
            )
            out.append((g, c))
    return out


def _call_caveats(
    rows: Sequence[Mapping[str, Any]], pattern: str, answers: Sequence[SizeAnswer]
) -> list[str]:
    """What a put/get timeout or nowait costs the answered channels at the answered sizes,
    against blocking calls (one Benjamini-Hochberg family of their own): a factor only where
    significant, a tie said as a tie."""
    sizes = {a.payload_bytes for a in answers}
    shapes = {a.ranking.group.shape for a in answers}
    setting = {d: answers[0].ranking.group.get(d) for d in SETTING_DIMS} if answers else {}
    found = [
        (g, c)
        for g, c in call_comparisons(rows, [pattern])
        if g.payload_bytes in sizes
        and g.shape in shapes
        and all(g.get(d) == v for d, v in setting.items())
    ]
    adjusted = ranking.adjust([c for _, c in found])
    out = []
    for (g, _), c in zip(found, adjusted, strict=True):
        at = human_size(g.payload_bytes)
        if c.differs:
            how = "slower" if c.decision == "slower" else "faster"
            out.append(
                f"{c.first} at {at}: {ranking.fmt_factor(c.factor)} {how} than blocking "
                f"put/get ({ranking.fmt_q(c.q_value)})"
            )
        else:
            out.append(
                f"{c.first} at {at}: not significantly different from blocking put/get "
                f"({ranking.fmt_q(c.q_value)})"
            )
    return out


# ---------------------------------------------------------------------------------------------
# Text and JSON


def ratio_text(c: ranking.Comparison) -> str:
    """'2.90× slower (2.71× to 3.12×, 96% interval, q = 0.001)' or 'no significant
    difference (0.98× to 1.07×, ...)'. The ratio is this channel's time over the best's."""
    iv = c.interval
    kind = "range" if iv.is_range else "interval"
    bounds = (
        f"{ranking.fmt_factor(iv.lo)} to {ranking.fmt_factor(iv.hi)}, {iv.level:.0%} {kind}"
        if math.isfinite(iv.lo)
        else "no interval"
    )
    if c.decision == "slower":
        head = f"{ranking.fmt_factor(c.time_ratio)} slower"
    elif c.decision == "faster":
        head = f"{ranking.fmt_factor(1 / c.time_ratio)} faster"
    else:
        head = f"no significant difference: {ranking.fmt_factor(c.time_ratio)} the time"
    return f"{head} ({bounds}, {ranking.fmt_q(c.q_value)})"


def figure_text(line: ChannelLine, metric: str) -> str:
    entry = ranking.Entry(line.transport, line.median, line.interval, line.n_ok, None)
    return (
        f"{ranking.fmt_metric(line.median, metric)} ({ranking.interval_text(entry, metric)}, "
        f"{line.n_ok} ok repeats)"
    )


def _title(advice: Advice) -> str:
    what = {
        "pingpong": "round-trip latency (pingpong, median p50)",
        "stream": "one-way throughput (stream, msgs/s)",
        "fan": "fan throughput (msgs/s)",
    }[advice.pattern]
    shape = ""
    if advice.pattern == "fan":
        p, c = advice.question.shape
        shape = f", {p} producers \u00d7 {c} consumers"
    return f"{what}{shape}; {', '.join(v for v in advice.setting.values() if v)}"


def size_lines(answer: SizeAnswer, indent: str = "  ") -> list[str]:
    """The few lines answering one size."""
    r, metric = answer.ranking, answer.metric
    best = answer.best
    out = []
    if r.verdict == "winner":
        out.append(
            f"recommended: {best.transport}, {figure_text(best, metric)}; it beats every "
            f"other channel measured ({_test_words()})"
        )
    elif r.verdict == "tie":
        others = [t for t in r.tie_group if t != best.transport]
        out.append(
            f"recommended: any of {ranking.names_text(list(r.tie_group))} (a tie group: no "
            f"significant difference); best median {best.transport}, "
            f"{figure_text(best, metric)}"
        )
        for name in others:
            line = answer.line(name)
            if line is not None and line.vs_best is not None:
                out.append(f"  ties with {name}: {ratio_text(line.vs_best)}")
    else:
        out.append(f"only channel measured: {best.transport}, {figure_text(best, metric)}")
    shown = set(r.tie_group)
    for name in SEED_CHANNELS:
        if name in shown:
            continue
        line = answer.line(name)
        label = f"{name} (the usual default)" if name == DEFAULT_CHANNEL else name
        if line is None or line.vs_best is None:
            if name == DEFAULT_CHANNEL:
                out.append(f"{label}: not measured here")
            continue
        out.append(f"{label}: {ratio_text(line.vs_best)} than {best.transport}")
    for floor in answer.floors:
        ratio = _time_ratio(best.median, floor.median, metric)
        relation = (
            f"{best.transport} takes {ranking.fmt_factor(ratio)} its time"
            if not ratio < 1
            else f"{best.transport} is faster than it ({ranking.fmt_factor(ratio)} its time: "
            "the floor's loop is not the channel's)"
        )
        out.append(
            f"machine limit (a floor, not a channel): {floor.transport} "
            f"{figure_text(floor, metric)}; {relation}"
        )
    return [indent + line for line in out]


def _time_ratio(value: float, floor: float, metric: str) -> float:
    if metric == stats.LATENCY_METRIC or metric.endswith("_us"):
        return value / floor if floor > 0 else math.nan
    return floor / value if value > 0 else math.nan


def _test_words() -> str:
    return (
        f"Mann-Whitney U, Benjamini-Hochberg q < {stats.ALPHA:g}, at least {stats.MIN_EFFECT:.0%}"
    )


def advice_text(advice: Advice) -> str:
    """The few lines ``ipcbench advise`` prints."""
    q = advice.question
    lines = [f"{human_size(q.payload_bytes)}, {q.goal}: {_title(advice)}"]
    if not advice.asked_measured:
        near = ranking.names_text([human_size(a.payload_bytes) for a in advice.answers])
        lines.append(f"{human_size(q.payload_bytes)} was not measured; nearest measured: {near}")
    for answer in advice.answers:
        if len(advice.answers) > 1 or not advice.asked_measured:
            lines.append(f"at {human_size(answer.payload_bytes)}:")
        lines += size_lines(answer)
    if advice.caveats:
        lines.append("caveats:")
        lines += [f"  - {c}" for c in advice.caveats]
    return "\n".join(lines)


def _interval_json(iv: stats.Interval) -> dict[str, Any]:
    return {
        "lo": _num(iv.lo),
        "hi": _num(iv.hi),
        "level": _num(iv.level),
        "kind": "range" if iv.is_range else "interval",
    }


def _num(value: float) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _comparison_json(c: ranking.Comparison | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "against": c.second,
        "time_ratio": _num(c.time_ratio),
        "interval": _interval_json(c.interval),
        "p_value": _num(c.p_value),
        "q_value": _num(c.q_value),
        "decision": c.decision,
    }


def _line_json(line: ChannelLine) -> dict[str, Any]:
    return {
        "transport": line.transport,
        "median": _num(line.median),
        "interval": _interval_json(line.interval),
        "n_ok": line.n_ok,
        "n_repeats": line.n_runs,
        "vs_best": _comparison_json(line.vs_best),
    }


def advice_json(advice: Advice) -> dict[str, Any]:
    """The answer as plain data (``--json``)."""
    q = advice.question
    return {
        "question": {
            "payload_bytes": q.payload_bytes,
            "goal": q.goal,
            "producers": q.shape[0],
            "consumers": q.shape[1],
            **{d: getattr(q, d) for d in SETTING_DIMS},
            "channels": list(q.channels),
        },
        "pattern": advice.pattern,
        "metric": advice.metric,
        "higher_is_better": advice.metric == stats.THROUGHPUT_METRIC,
        "setting": dict(advice.setting),
        "measured_sizes": list(advice.measured),
        "asked_size_measured": advice.asked_measured,
        "answers": [
            {
                "payload_bytes": a.payload_bytes,
                "verdict": a.ranking.verdict,
                "recommended": a.ranking.winner,
                "best": a.best.transport,
                "tie_group": list(a.ranking.tie_group),
                "channels": [_line_json(c) for c in a.channels],
                "floors": [_line_json(f) for f in a.floors],
                "failed": list(a.failed),
            }
            for a in advice.answers
        ],
        "caveats": list(advice.caveats),
    }


# ---------------------------------------------------------------------------------------------
# The decision map


@dataclass(frozen=True)
class MapCell:
    shape: str  # "pingpong", "stream", "fan 2×2"
    payload_bytes: int
    ranking: ranking.Ranking

    @property
    def label(self) -> str:
        """'pipe_bytes' or 'pipe_bytes = pipe' (a tie group) or 'pipe (alone)'."""
        r = self.ranking
        if r.verdict == "tie":
            return " = ".join(r.tie_group)
        return r.best.transport + (" (alone)" if r.verdict == "alone" else "")

    @property
    def margin(self) -> float:
        """How many times faster the best is than the runner-up (NaN when alone)."""
        up = self.ranking.runner_up
        return up.vs_best.factor if up is not None and up.vs_best is not None else math.nan


@dataclass(frozen=True)
class DecisionMap:
    setting: dict[str, str]
    shapes: tuple[str, ...]
    sizes: tuple[int, ...]
    cells: tuple[MapCell, ...]
    seed: tuple[tuple[str, ranking.Group, ranking.Comparison], ...]  # (pattern, group, cmp)

    def cell(self, shape: str, payload_bytes: int) -> MapCell | None:
        return next(
            (c for c in self.cells if c.shape == shape and c.payload_bytes == payload_bytes), None
        )

    def row(self, shape: str) -> list[MapCell]:
        return sorted((c for c in self.cells if c.shape == shape), key=lambda c: c.payload_bytes)


def _shape_name(group: ranking.Group) -> str:
    if group.pattern == "fan":
        p, c = group.shape
        return f"fan {p}\u00d7{c}"
    return group.pattern


def map_setting(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """bytes / unpinned when measured, else the most common; start method most common."""
    pool = [r for r in rows if str(r.get("pattern") or "") in MAP_PATTERNS and _plain(r)]
    chosen: dict[str, str] = {}
    for dim in SETTING_DIMS:
        counts = Counter(_cell(r, dim) for r in pool)
        if not counts:
            break
        chosen[dim] = _preferred(dim, counts)
        pool = [r for r in pool if _cell(r, dim) == chosen[dim]]
    return chosen


def map_groups(groups: Iterable[ranking.Group], setting: Mapping[str, str]) -> list[ranking.Group]:
    """The groups a decision map shows: plain pingpong/stream 1 x 1 and fan, in ``setting``."""
    return [
        g
        for g in groups
        if g.pattern in MAP_PATTERNS
        and not g.get("op")
        and not g.get("maxsize")
        and not g.get("offered_load")
        and not g.get("call")
        and (g.pattern == "fan" or g.shape == (1, 1))
        and all(g.get(d) == v for d, v in setting.items())
    ]


def seed_comparisons(
    groups: Iterable[ranking.Group],
) -> list[tuple[ranking.Group, ranking.Comparison]]:
    """The seed's pairs (queue/pipe, manager_queue/pipe, manager_queue/queue) in each pingpong
    and stream group of the map, unadjusted (``ranking.compare``)."""
    return [
        (g, ranking.compare_in(g, a, b))
        for g in groups
        if g.pattern in ("pingpong", "stream")
        for a, b in SEED_PAIRS
        if {a, b} <= set(g.values)
    ]


def decision_map(
    rows: Iterable[Mapping[str, Any]],
    rankings: Sequence[ranking.Ranking] | None = None,
    seed: Sequence[tuple[ranking.Group, ranking.Comparison]] | None = None,
) -> DecisionMap:
    """Winner or tie group per shape and size in the main setting, and the seed table.

    With ``rankings`` and ``seed`` (already adjusted, as in the report, whose every statement
    is one Benjamini-Hochberg family) those are used; otherwise the map's groups and the seed
    comparisons are ranked here as one family."""
    rows = list(rows)
    setting = map_setting(rows)
    if rankings is None or seed is None:
        found = map_groups(ranking.groups(rows, MAP_PATTERNS), setting)
        pending = seed_comparisons(found)
        rankings, adjusted = ranking.rank_groups(found, [c for _, c in pending])
        seed = [(g, c) for (g, _), c in zip(pending, adjusted, strict=True)]
    else:
        keep = {g.key for g in map_groups([r.group for r in rankings], setting)}
        rankings = [r for r in rankings if r.group.key in keep]
    cells = tuple(MapCell(_shape_name(r.group), r.group.payload_bytes, r) for r in rankings)
    ordered = tuple(sorted({c.shape for c in cells}, key=_shape_sort))
    sizes = tuple(sorted({c.payload_bytes for c in cells}))
    return DecisionMap(setting, ordered, sizes, cells, tuple((g.pattern, g, c) for g, c in seed))


def _shape_sort(name: str) -> tuple[int, int, int]:
    if name == "pingpong":
        return (0, 0, 0)
    if name == "stream":
        return (1, 0, 0)
    p, _, c = name.removeprefix("fan ").partition("\u00d7")
    return (2, int(p or 0), int(c or 0))


def crossovers(dmap: DecisionMap) -> list[str]:
    """Sentences for each shape: where the leader changes significantly at both neighbouring
    sizes (best at one size beats the other's best there, and vice versa), and pairs of
    channels that do not differ at any measured size of the shape."""
    out = []
    for shape in dmap.shapes:
        cells = dmap.row(shape)
        out += _shape_crossovers(shape, cells)
        out += _never_differ(shape, cells)
    return out


def _beats(r: ranking.Ranking, first: str, second: str) -> bool:
    """``first`` is the best of ``r`` and ``second`` is significantly slower than it."""
    entry = r.entry(second)
    return (
        r.best.transport == first
        and entry is not None
        and entry.vs_best is not None
        and entry.vs_best.decision == "slower"
    )


def _shape_crossovers(shape: str, cells: Sequence[MapCell]) -> list[str]:
    """Where the leader changes, significantly at both sizes: each side's stretch of sizes
    (the neighbouring cells with the same winner or tie group), so that a leader is named
    only at sizes where it leads, not beyond a cell won by another channel or tied."""
    stretches: list[tuple[int, int]] = []  # (first, last) cell index
    for i, (left, right) in enumerate(itertools.pairwise(cells)):
        a, b = left.ranking.best.transport, right.ranking.best.transport
        if a != b and _beats(left.ranking, a, b) and _beats(right.ranking, b, a):
            for stretch in (_stretch(cells, i), _stretch(cells, i + 1)):
                if stretch not in stretches:
                    stretches.append(stretch)
    if not stretches:
        return []
    parts = [
        f"{_sizes_text(cells, first, last)} {_lead(cells[first])}" for first, last in stretches
    ]
    return [f"{shape}: " + "; ".join(parts) + " (each change significant at both sizes)."]


def _stretch(cells: Sequence[MapCell], i: int) -> tuple[int, int]:
    """The neighbouring cells around ``cells[i]`` with its label (winner or tie group)."""
    first, last = i, i
    while first > 0 and cells[first - 1].label == cells[i].label:
        first -= 1
    while last + 1 < len(cells) and cells[last + 1].label == cells[i].label:
        last += 1
    return first, last


def _sizes_text(cells: Sequence[MapCell], first: int, last: int) -> str:
    """'at 2 KiB', 'up to 4 KiB', 'from 1 MiB' or 'from 128 B to 2 KiB' (as measured)."""
    lo, hi = human_size(cells[first].payload_bytes), human_size(cells[last].payload_bytes)
    if first == last:
        return f"at {lo}"
    if first == 0:
        return f"up to {hi}"
    if last == len(cells) - 1:
        return f"from {lo}"
    return f"from {lo} to {hi}"


def _lead(cell: MapCell) -> str:
    """'pipe_bytes leads (2.0\u00d7 faster than queue)' or, for a tie group, 'pipe and
    pipe_bytes lead, tied'."""
    r = cell.ranking
    if r.verdict == "tie":
        return f"{ranking.names_text(r.tie_group)} lead, tied"
    name = r.best.transport
    queue = r.entry(DEFAULT_CHANNEL)
    vs_queue = ""
    if (
        name != DEFAULT_CHANNEL
        and queue is not None
        and queue.vs_best is not None
        and queue.vs_best.decision == "slower"
    ):
        vs_queue = f" ({ranking.fmt_factor(queue.vs_best.factor)} faster than queue)"
    return f"{name} leads{vs_queue}"


def _never_differ(shape: str, cells: Sequence[MapCell]) -> list[str]:
    """Pairs that are in the tie group together at every size of the shape (two sizes or
    more) -- the leading pair only, to keep it short."""
    if len(cells) < 2:
        return []
    common = set(cells[0].ranking.tie_group)
    for c in cells[1:]:
        common &= set(c.ranking.tie_group)
    if len(common) < 2:
        return []
    names = [t for t in cells[0].ranking.tie_group if t in common]
    return [f"{shape}: {ranking.names_text(names)} do not differ at any measured size."]


SEED_HEADERS: list[str] = [
    "pattern",
    "payload",
    "queue / pipe",
    "manager_queue / pipe",
    "manager_queue / queue",
]


def seed_table(dmap: DecisionMap) -> tuple[list[str], list[list[str]]]:
    """The seed's question per pattern and size: time ratios with intervals (> 1: the first
    channel takes longer), '(n.s.)' where the test does not decide."""
    cells: dict[tuple[str, int], dict[tuple[str, str], ranking.Comparison]] = {}
    for pattern, group, comparison in dmap.seed:
        key = (pattern, group.payload_bytes)
        cells.setdefault(key, {})[(comparison.first, comparison.second)] = comparison
    rows = []
    for (pattern, size), found in sorted(
        cells.items(), key=lambda kv: (kv[0][0] != "pingpong", kv[0][1])
    ):
        row = [pattern, human_size(size)]
        for pair in SEED_PAIRS:
            c = found.get(pair)
            row.append(_seed_cell(c) if c is not None else "\u2014")
        rows.append(row)
    return list(SEED_HEADERS), rows


def _seed_cell(c: ranking.Comparison) -> str:
    iv = c.interval
    bounds = (
        f"{ranking.fmt_factor(iv.lo)}\u2013{ranking.fmt_factor(iv.hi)} {iv.level:.0%}"
        if math.isfinite(iv.lo)
        else "no interval"
    )
    mark = "" if c.differs else ", n.s."
    return f"{ranking.fmt_factor(c.time_ratio)} ({bounds}{mark})"


# ---------------------------------------------------------------------------------------------
# Several machines


@dataclass(frozen=True)
class ChannelDifference:
    machine: str
    transport: str
    absolute: str  # "slower", "faster", "same" (most cases decided that way)
    absolute_ratio: float  # geometric mean time ratio machine / reference over the cases
    normalised: str  # the same relative to each machine's own raw_pipe floor ("" not known)
    normalised_ratio: float


@dataclass(frozen=True)
class MachineDifferences:
    reference: str
    channels: tuple[ChannelDifference, ...]
    sentences: tuple[str, ...]


def _direction(decisions: Sequence[str]) -> str:
    """'slower' / 'faster' when at least half the cases say so and none the other way."""
    n = len(decisions)
    slower, faster = decisions.count("slower"), decisions.count("faster")
    if n and slower * 2 >= n and not faster:
        return "slower"
    if n and faster * 2 >= n and not slower:
        return "faster"
    return "same"


def _per_transport(cases: Any, label: str) -> dict[str, tuple[str, float]]:
    out: dict[str, tuple[str, float]] = {}
    mine = cases[cases["b_set"] == label]
    for transport, group in mine.groupby("transport", sort=True):
        ratios = [float(x) for x in group["time_ratio"] if stats.to_float(x) and float(x) > 0]
        geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios)) if ratios else math.nan
        out[str(transport)] = (_direction([str(d) for d in group["decision"]]), geo)
    return out


def headline_frame(frame: Any) -> Any:
    """The plain pingpong/stream 1 x 1 rows of the main setting (what is compared)."""
    rows = frame.to_dict("records")
    setting = map_setting(rows)
    keep = [
        str(r.get("pattern")) in ("pingpong", "stream")
        and _plain(r)
        and _shape_of(r) == (1, 1)
        and all(_cell(r, d) == v for d, v in setting.items())
        for r in rows
    ]
    return frame[keep]


def machine_differences(machines: Sequence[tuple[str, Any]]) -> MachineDifferences:
    """Each machine after the first against the first, channel by channel (pingpong and stream,
    main setting, 1 x 1): absolute time ratios and ratios relative to each machine's own
    raw_pipe floor, as tested by ``ipcbench.analysis.compare`` (BH per machine); plus sentences."""
    from ipcbench.analysis.compare import compare

    heads = [(m, headline_frame(f)) for m, f in machines]
    empty = [m for m, f in heads if len(f) == 0]
    heads = [(m, f) for m, f in heads if len(f)]
    if len(heads) < 2 or heads[0][0] != machines[0][0]:
        return MachineDifferences(
            machines[0][0],
            (),
            (
                "No comparison: the machines need plain pingpong or stream results to compare "
                f"(none on {ranking.names_text(empty)}).",
            ),
        )
    skipped = [f"{m} has no plain pingpong or stream results: left out." for m in empty]
    labels = [m for m, _ in heads]
    frames = [f for _, f in heads]
    absolute = compare(frames, labels).cases
    have_floor = all(((f["transport"] == "raw_pipe") & (f["status"] == "ok")).any() for f in frames)
    normalised = compare(frames, labels, normalize="raw_pipe").cases if have_floor else None
    found: list[ChannelDifference] = []
    sentences: list[str] = []
    for label in labels[1:]:
        abs_by = _per_transport(absolute, label)
        norm_by = _per_transport(normalised, label) if normalised is not None else {}
        lines = [
            ChannelDifference(label, t, a, ar, *(norm_by.get(t, ("", math.nan))))
            for t, (a, ar) in abs_by.items()
        ]
        found += lines
        sentences += _machine_sentences(labels[0], label, lines, have_floor)
    sentences += advice_differences(heads)
    return MachineDifferences(labels[0], tuple(found), tuple([*skipped, *sentences]))


def _geo(values: Sequence[float]) -> float:
    ok = [v for v in values if math.isfinite(v) and v > 0]
    return math.exp(sum(math.log(v) for v in ok) / len(ok)) if ok else math.nan


def _machine_sentences(
    reference: str, label: str, lines: Sequence[ChannelDifference], have_floor: bool
) -> list[str]:
    channels = [c for c in lines if not ranking.is_floor(c.transport)]
    floor = next((c for c in lines if c.transport == "raw_pipe"), None)
    everything = [*channels, *([floor] if floor else [])]
    out = []
    uniform = (
        everything
        and all(c.absolute == everything[0].absolute != "same" for c in everything)
        and (not have_floor or all(c.normalised == "same" for c in channels))
    )
    if uniform:
        direction = everything[0].absolute
        factor = _geo([c.absolute_ratio for c in everything])
        shown = factor if direction == "slower" else 1 / factor
        out.append(
            f"{label} is {ranking.fmt_factor(shown)} {direction} than {reference} across "
            f"every channel and the raw_pipe floor alike"
            + ("; relative to its own raw_pipe floor no channel differs" if have_floor else "")
            + "."
        )
        return out
    if have_floor:
        moved = [c for c in channels if c.normalised in ("slower", "faster")]
        for c in moved:
            ratio = c.normalised_ratio if c.normalised == "slower" else 1 / c.normalised_ratio
            out.append(
                f"On {label}, {c.transport} is {ranking.fmt_factor(ratio)} {c.normalised} "
                f"than on {reference} relative to each machine's own raw_pipe floor "
                f"(absolute: {_abs_words(c)})."
            )
    else:
        moved = [c for c in channels if c.absolute in ("slower", "faster")]
        for c in moved:
            out.append(f"On {label}, {c.transport} is {_abs_words(c)} than on {reference}.")
    if not moved:
        if floor is not None and floor.absolute != "same":
            out.append(
                f"{label}'s raw_pipe floor is {_abs_words(floor)} than {reference}'s, "
                "yet no channel differs relative to it."
            )
        else:
            out.append(f"{label} does not differ from {reference} for any channel.")
    elif len(moved) < len(channels):
        out.append(
            f"On {label}, every other channel is the same as on {reference} "
            + ("relative to its floor." if have_floor else "in absolute terms.")
        )
    return out


def _abs_words(c: ChannelDifference) -> str:
    if c.absolute == "same":
        return f"no significant difference, {ranking.fmt_factor(c.absolute_ratio)} the time"
    ratio = c.absolute_ratio if c.absolute == "slower" else 1 / c.absolute_ratio
    return f"{ranking.fmt_factor(ratio)} {c.absolute}"


def _verdict_words(r: ranking.Ranking) -> str:
    if r.verdict == "winner":
        return f"{r.best.transport} wins"
    if r.verdict == "tie":
        others = [t for t in r.tie_group if t != r.best.transport]
        return f"{r.best.transport} ties with {ranking.names_text(others)}"
    return f"only {r.best.transport} was measured"


def advice_differences(machines: Sequence[tuple[str, Any]]) -> list[str]:
    """Where the winner or tie group of a headline group differs between machines."""
    verdicts: dict[tuple[str, int], dict[str, ranking.Ranking]] = {}
    for label, frame in machines:
        rows = headline_frame(frame).to_dict("records")
        for r in ranking.rank_rows(rows, ["pingpong", "stream"]):
            verdicts.setdefault((r.group.pattern, r.group.payload_bytes), {})[label] = r
    out = []
    for (pattern, size), by in sorted(verdicts.items()):
        if len(by) < 2:
            continue
        kinds = {(r.verdict, r.tie_group) for r in by.values()}
        if len(kinds) > 1:
            parts = [f"on {m} {_verdict_words(r)}" for m, r in by.items()]
            out.append(f"{pattern} at {human_size(size)}: " + "; ".join(parts) + ".")
    if not out and len(machines) > 1:
        out.append(
            "The advice (winner or tie group per pattern and size) is the same on every machine."
        )
    return out


def machine_table(
    machines: Sequence[tuple[str, Any]],
) -> tuple[list[str], list[list[str]]]:
    """Each channel's headline figures per machine: pingpong p50 and stream msgs/s at the
    smallest and largest size measured everywhere, absolute and as a multiple of that
    machine's own raw_pipe time."""
    heads = {m: headline_frame(f).to_dict("records") for m, f in machines}
    medians = {m: _medians(rows) for m, rows in heads.items()}
    common: set[tuple[str, int]] | None = None
    for found in medians.values():
        keys = {(p, s) for (p, s, _t) in found}
        common = keys if common is None else common & keys
    points = []
    for pattern in ("pingpong", "stream"):
        sizes = sorted(s for p, s in (common or set()) if p == pattern)
        points += [(pattern, s) for s in dict.fromkeys([*sizes[:1], *sizes[-1:]])]
    transports = sorted(
        {t for found in medians.values() for (_p, _s, t) in found},
        key=lambda t: (ranking.is_floor(t), t),
    )
    headers = ["channel", "figure", *[m for m, _ in machines]]
    rows = []
    for pattern, size in points:
        metric, _ = stats.primary_metric(pattern)
        for t in transports:
            cells = []
            for m, _ in machines:
                value = medians[m].get((pattern, size, t))
                floor = medians[m].get((pattern, size, "raw_pipe"))
                cells.append(_machine_cell(value, floor, metric, t))
            if any(c != "\u2014" for c in cells):
                rows.append([t, f"{pattern} {human_size(size)}", *cells])
    return headers, rows


def _medians(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, int, str], float]:
    out = {}
    for g in ranking.groups(rows, ["pingpong", "stream"], floors=True):
        for t, values in g.values.items():
            out[(g.pattern, g.payload_bytes, t)] = stats.median(values)
    return out


def _machine_cell(value: float | None, floor: float | None, metric: str, transport: str) -> str:
    if value is None:
        return "\u2014"
    text = ranking.fmt_metric(value, metric)
    if floor and transport != "raw_pipe":
        text += f" ({ranking.fmt_factor(_time_ratio(value, floor, metric))} raw_pipe)"
    return text


def normalised_figures(
    machines: Sequence[tuple[str, Any]],
) -> dict[str, dict[tuple[str, int, str], float]]:
    """machine -> (pattern, size, transport) -> time as a multiple of its own raw_pipe (for
    the figure); channels without a raw_pipe case at that size are left out."""
    out: dict[str, dict[tuple[str, int, str], float]] = {}
    for m, frame in machines:
        med = _medians(headline_frame(frame).to_dict("records"))
        mine = {}
        for (p, s, t), value in med.items():
            floor = med.get((p, s, "raw_pipe"))
            if floor and t != "raw_pipe" and not ranking.is_floor(t):
                metric, _ = stats.primary_metric(p)
                mine[(p, s, t)] = _time_ratio(value, floor, metric)
        out[m] = mine
    return out


def absolute_figures(
    machines: Sequence[tuple[str, Any]],
) -> dict[str, dict[tuple[str, int, str], float]]:
    """machine -> (pattern, size, transport) -> median of the headline rows (floors too)."""
    return {m: _medians(headline_frame(frame).to_dict("records")) for m, frame in machines}
