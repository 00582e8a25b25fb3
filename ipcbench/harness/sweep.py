"""Sweep settings (from flags or a TOML file), validated at the boundary, and case expansion."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ipcbench import transports
from ipcbench.errors import IpcbenchError
from ipcbench.measure import patterns
from ipcbench.params import (
    BACKPRESSURE_MAXSIZES,
    DEFAULT_COUNTS,
    DEFAULT_RATES,
    DEFAULT_SIZES,
    PAYLOAD_KINDS,
    PLACEMENTS,
    QUICK_SIZES,
    SCALING_PATTERNS,
    SCALING_SIZES,
    Case,
    check_choices,
    dedupe,
    default_start_method,
    parse_size,
)

QUICK_SCALING_SIZES: tuple[int, ...] = (4096,)
QUICK_COUNTS: tuple[int, ...] = (1, 2)
QUICK_MAXSIZES: tuple[int, ...] = (1, 0)
QUICK_RATES: tuple[str, ...] = ("50%",)
COPIES_PER_MESSAGE = 16  # rough bound on live copies of one payload across the processes


@dataclass(frozen=True)
class Settings:
    """Everything a sweep needs; validated by ``validate``. Units are in the names."""

    transports: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    sizes: tuple[int, ...] = ()  # () = per-pattern defaults (see sizes_for)
    payload_kinds: tuple[str, ...] = ("bytes",)
    start_methods: tuple[str, ...] = ()
    maxsizes: tuple[int, ...] = ()  # () = 0 (unbounded), or 1/16/256/0 for backpressure
    placements: tuple[str, ...] = ("unpinned",)
    producers: tuple[int, ...] = ()  # () = 1, 2, 4, 8 for fan/taskqueue/shared_state
    consumers: tuple[int, ...] = ()
    rates: tuple[str, ...] = ()  # () = DEFAULT_RATES for the rate pattern
    repeats: int = 5
    warmups: int = 1
    target_time_s: float = 0.1
    timeout_s: float = 60.0
    min_messages: int = 2
    max_messages: int = 1_000_000
    seed: int | None = None
    out_dir: str = "results"
    quiet: bool = False
    quick: bool = False
    faults: tuple[str, ...] = field(default=())  # tests only: inject a fault into every case

    def config(self) -> dict[str, Any]:
        """JSON-ready settings, stored in the run's metadata (resume compares these)."""
        data = asdict(self)
        for key in ("out_dir", "quiet", "faults"):
            data.pop(key)
        return data


QUICK = {"repeats": 5, "warmups": 1, "target_time_s": 0.02}

# Flag / TOML key -> Settings field and parser.
_LIST_KEYS = {
    "transports": "transports",
    "patterns": "patterns",
    "sizes": "sizes",
    "payload_kinds": "payload_kinds",
    "start_methods": "start_methods",
    "maxsize": "maxsizes",
    "placements": "placements",
    "producers": "producers",
    "consumers": "consumers",
    "rates": "rates",
}
_SCALAR_KEYS = {
    "repeats": "repeats",
    "warmups": "warmups",
    "target_time": "target_time_s",
    "timeout": "timeout_s",
    "seed": "seed",
    "out": "out_dir",
    "quiet": "quiet",
    "quick": "quick",
    "min_messages": "min_messages",
    "max_messages": "max_messages",
}


def load_config(path: str) -> dict[str, Any]:
    """Read a TOML config (keys as the flags: ``sizes = ["64", "4K"]``, ``target-time = 0.2``)."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise IpcbenchError(f"config file {path} not found; pass an existing TOML file") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise IpcbenchError(f"cannot read config {path}: {exc}") from None
    section = raw.get("run", raw)
    if not isinstance(section, dict):
        raise IpcbenchError(f"config {path}: [run] must be a table")
    normalized = {str(k).replace("-", "_"): v for k, v in section.items()}
    valid = set(_LIST_KEYS) | set(_SCALAR_KEYS)
    unknown = sorted(set(normalized) - valid)
    if unknown:
        raise IpcbenchError(
            f"config {path}: unknown key {unknown[0]!r}; valid: {', '.join(sorted(valid))}"
        )
    return normalized


def _as_list(key: str, value: Any) -> list[Any]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for v in value:
            out.extend(_as_list(key, v) if isinstance(v, str) else [v])
        return out
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    raise IpcbenchError(f"{key}: expected a list or comma-separated string, got {value!r}")


def _int(key: str, value: Any, minimum: int) -> int:
    try:
        number = int(value)
        if isinstance(value, bool) or (isinstance(value, float) and number != value):
            raise ValueError
    except (TypeError, ValueError, OverflowError):  # OverflowError: inf from TOML
        raise IpcbenchError(
            f"--{key.replace('_', '-')}: expected a whole number, got {value!r}"
        ) from None
    if number < minimum:
        raise IpcbenchError(f"--{key.replace('_', '-')} must be at least {minimum}, got {number}")
    return number


def _float(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise IpcbenchError(f"--{key.replace('_', '-')}: expected seconds, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise IpcbenchError(f"--{key.replace('_', '-')} must be a positive number of seconds")
    return number


def build_settings(options: Mapping[str, Any]) -> Settings:
    """Settings from flag/config keys (None values mean 'not given'); raises IpcbenchError."""
    given = {k: v for k, v in options.items() if v is not None}
    values: dict[str, Any] = dict(QUICK) if given.get("quick") else {}
    for key, value in given.items():
        if key in _LIST_KEYS:
            values[_LIST_KEYS[key]] = _as_list(key, value)
        elif key in _SCALAR_KEYS:
            values[_SCALAR_KEYS[key]] = value
    return validate(values)


def validate(values: Mapping[str, Any]) -> Settings:
    v = dict(values)
    all_transports = transports.names()
    s = Settings(
        transports=_choices("transport", v.get("transports") or all_transports, all_transports),
        patterns=_choices("pattern", v.get("patterns") or patterns.names(), patterns.names()),
        sizes=tuple(dedupe(parse_size(x) for x in v.get("sizes", ()))),
        payload_kinds=_choices("payload kind", v.get("payload_kinds", ["bytes"]), PAYLOAD_KINDS),
        start_methods=_choices(
            "start method",
            v.get("start_methods") or [default_start_method()],
            multiprocessing.get_all_start_methods(),
        ),
        maxsizes=tuple(dedupe(_int("maxsize", x, 0) for x in v.get("maxsizes", ()))),
        placements=_choices("placement", v.get("placements", ["unpinned"]), PLACEMENTS),
        producers=tuple(dedupe(_int("producers", x, 1) for x in v.get("producers", ()))),
        consumers=tuple(dedupe(_int("consumers", x, 1) for x in v.get("consumers", ()))),
        rates=tuple(dedupe(_rate(x) for x in v.get("rates", ()))),
        repeats=_int("repeats", v.get("repeats", 5), 1),
        warmups=_int("warmups", v.get("warmups", 1), 0),
        target_time_s=_float("target_time", v.get("target_time_s", 0.1)),
        timeout_s=_float("timeout", v.get("timeout_s", 60.0)),
        min_messages=_int("min_messages", v.get("min_messages", 2), 1),
        max_messages=_int("max_messages", v.get("max_messages", 1_000_000), 1),
        seed=None if v.get("seed") is None else _int("seed", v["seed"], 0),
        out_dir=str(v.get("out_dir", "results")),
        quiet=bool(v.get("quiet", False)),
        quick=bool(v.get("quick", False)),
        faults=tuple(v.get("faults", ())),
    )
    _check_maxsize_applies(s)
    _check_memory(s)
    return s


def _choices(kind: str, values: Iterable[str], valid: Sequence[str]) -> tuple[str, ...]:
    return tuple(dedupe(check_choices(kind, values, valid)))


def _rate(value: Any) -> str:
    from ipcbench.measure.patterns.rate import parse_load

    text = str(value).strip()
    parse_load(text)
    return text


def _check_maxsize_applies(s: Settings) -> None:
    if not s.maxsizes or s.maxsizes == (0,):
        return
    if not any(transports.get(t).uses_maxsize for t in s.transports):
        bounded = [cls.name for cls in transports.all_transports() if cls.uses_maxsize]
        raise IpcbenchError(
            f"--maxsize applies only to {', '.join(bounded)}; none of them is selected"
        )


COPIES_PER_PROCESS = 4  # rough bound on live copies of one payload in each process holding it
MANY_PROCESS_PATTERNS = ("fan", "taskqueue", "shared_state")  # parent + producers + consumers


def _check_memory(s: Settings) -> None:
    """Refuse up front a sweep whose largest case would hold over a quarter of RAM in payloads."""
    try:
        ram_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return
    budget_bytes = ram_bytes // 4
    needs = [
        (_payload_copies(n_procs) * size, size, n_procs)
        for n_procs, sizes in _process_counts_and_sizes(s)
        for size in sizes
    ]
    if not needs:
        return
    need_bytes, size, n_procs = max(needs)
    if need_bytes > budget_bytes:
        fix = "choose smaller --sizes"
        if n_procs > 2:
            fix += " or fewer --producers/--consumers"
        raise IpcbenchError(
            f"payload of {size} bytes in {n_procs} processes needs about {need_bytes >> 20} MiB "
            f"across the processes, over a quarter of RAM ({budget_bytes >> 20} MiB); {fix}"
        )


def _process_counts_and_sizes(s: Settings) -> Iterable[tuple[int, tuple[int, ...]]]:
    """(processes holding a payload, payload sizes) for every selected transport x pattern."""
    for t_name in s.transports:
        cls = transports.get(t_name)
        for pattern in s.patterns:
            if pattern in cls.patterns:
                yield _processes_involved(s, cls, pattern), sizes_for(s, pattern)


def _processes_involved(s: Settings, cls: type[transports.Transport], pattern: str) -> int:
    """The most processes one case of this transport x pattern runs (the parent included)."""
    if cls.in_process:
        return 1
    if pattern in MANY_PROCESS_PATTERNS:
        producers, consumers = counts_for(s, pattern)
        return max(producers) + max(consumers) + 1
    return 2  # the parent and one child


def _payload_copies(n_procs: int) -> int:
    """Live copies of one payload across n_procs processes; never below the two-process bound
    COPIES_PER_MESSAGE (sender, pickles, kernel buffers, receiver, verification)."""
    return max(COPIES_PER_MESSAGE, n_procs * COPIES_PER_PROCESS)


def sizes_for(s: Settings, pattern: str) -> tuple[int, ...]:
    """--sizes if given; else the full grid, or one size for many-process patterns."""
    if s.sizes:
        return s.sizes
    if pattern in SCALING_PATTERNS:
        return QUICK_SCALING_SIZES if s.quick else SCALING_SIZES
    return QUICK_SIZES if s.quick else DEFAULT_SIZES


def counts_for(s: Settings, pattern: str) -> tuple[list[int], list[int]]:
    """(producers, consumers) to sweep for a pattern."""
    default = list(QUICK_COUNTS if s.quick else DEFAULT_COUNTS)
    producers = list(s.producers) or default
    consumers = list(s.consumers) or default
    if pattern in ("fan", "taskqueue"):
        return producers, consumers
    if pattern == "shared_state":
        return producers, [0]
    return [1], [1]


def maxsizes_for(s: Settings, cls: type[transports.Transport], pattern: str) -> list[int | None]:
    if not cls.uses_maxsize:
        return [None]
    if s.maxsizes:
        return list(s.maxsizes)
    if pattern == "backpressure":
        return list(QUICK_MAXSIZES if s.quick else BACKPRESSURE_MAXSIZES)
    return [0]


def loads_for(s: Settings, pattern: str) -> list[str]:
    if pattern != "rate":
        return [""]
    return list(s.rates) or list(QUICK_RATES if s.quick else DEFAULT_RATES)


def expand(s: Settings) -> list[Case]:
    """Every applicable combination, once (inapplicable ones dropped, never duplicated)."""
    cases: list[Case] = []
    for t_name in s.transports:
        cls = transports.get(t_name)
        for pattern in s.patterns:
            if pattern not in cls.patterns:
                continue
            cases.extend(_cases_for(s, cls, pattern))
    return dedupe(cases)


def _cases_for(s: Settings, cls: type[transports.Transport], pattern: str) -> Iterable[Case]:
    kinds = [k for k in s.payload_kinds if k in cls.payload_kinds()]
    methods = [""] if cls.in_process else list(s.start_methods)
    placements = dedupe("same" if (cls.in_process and p == "split") else p for p in s.placements)
    producers, consumers = counts_for(s, pattern)
    fault = s.faults[0] if s.faults else ""
    grid = itertools.product(
        sizes_for(s, pattern),
        kinds,
        methods,
        maxsizes_for(s, cls, pattern),
        placements,
        cls.ops.get(pattern, ("",)),
        producers,
        consumers,
        loads_for(s, pattern),
    )
    for size, kind, method, maxsize, placement, op, n_prod, n_cons, load in grid:
        if op == "close_join" and maxsize:
            continue  # unbounded only: why in patterns.lifecycle.CLOSE_JOIN_UNBOUNDED_ONLY
        yield Case(
            transport=cls.name,
            pattern=pattern,
            payload_bytes=size,
            payload_kind=kind,
            start_method=method,
            maxsize=maxsize,
            op=op,
            producers=n_prod,
            consumers=n_cons,
            placement=placement,
            offered_load=load,
            fault=fault,
        )
