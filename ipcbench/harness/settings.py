"""Sweep settings from flags or a TOML file, validated at the boundary (one line, exit 2)."""

from __future__ import annotations

import multiprocessing
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ipcbench import transports
from ipcbench.errors import IpcbenchError
from ipcbench.harness.sweep import check_memory
from ipcbench.measure import patterns
from ipcbench.params import (
    PAYLOAD_KINDS,
    PLACEMENTS,
    check_choices,
    dedupe,
    default_start_method,
    parse_size,
)


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
    check_memory(s)
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
