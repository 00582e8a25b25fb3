"""Sweep settings from flags, a TOML file or the API, validated at the boundary (one line, exit
2); every option is declared once, in ipcbench/options.py."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ipcbench import transports
from ipcbench.errors import IpcbenchError
from ipcbench.harness.sweep import check_calls, check_memory, check_payload_sizes, expand
from ipcbench.options import BY_KEY, NOT_SET, OPTIONS


@dataclass(frozen=True)
class Settings:
    """Everything a sweep needs; validated by ``validate``. Units are in the names. Defaults,
    parsers and the flags that set each field are in the options table (ipcbench/options.py)."""

    transports: tuple[str, ...]
    patterns: tuple[str, ...]
    sizes: tuple[int, ...]  # () = per-pattern defaults (see sweep.sizes_for)
    payload_kinds: tuple[str, ...]
    start_methods: tuple[str, ...]
    maxsizes: tuple[int, ...]  # () = the pattern's grid (0, unbounded; 1/16/256/0 backpressure)
    placements: tuple[str, ...]
    producers: tuple[int, ...]  # () = the pattern's grid
    consumers: tuple[int, ...]
    rates: tuple[str, ...]  # () = the rate pattern's grid
    calls: tuple[str, ...]  # () = the pattern's calling styles (block; all three for nowait)
    call_timeouts: tuple[float, ...]  # () = catalogue.DEFAULT_CALL_TIMEOUTS
    repeats: int  # 0: --repeats auto (adaptive.MIN_ROUNDS, then rounds for unsettled cases)
    precision: float  # --repeats auto: relative half-width of the median's interval to reach
    max_repeats: int  # --repeats auto: the cap
    budget_s: float | None  # --repeats auto: no new round after this much wall time
    warmups: int
    target_time_s: float
    timeout_s: float
    min_messages: int
    max_messages: int
    seed: int | None
    out_dir: str
    quiet: bool
    quick: bool
    full: bool  # --full: the fine grid (sizes about x4, up to 8 processes a side, 7 loads)
    pythons: tuple[str, ...] = ()  # () = the interpreter running ipcbench, in a forked driver
    faults: tuple[str, ...] = field(default=())  # tests only: inject a fault into every case

    @property
    def adaptive(self) -> bool:
        return self.repeats == 0

    @property
    def first_rounds(self) -> int:
        """Rounds every case gets: --repeats, or the minimum of --repeats auto."""
        from ipcbench.harness.adaptive import MIN_ROUNDS

        return min(MIN_ROUNDS, self.max_repeats) if self.adaptive else self.repeats

    def config(self) -> dict[str, Any]:
        """JSON-ready settings, stored in the run's metadata (resume compares these): the
        options that change what is measured (output options and test faults left out)."""
        data = asdict(self)
        for name in (*(o.field for o in OPTIONS if o.output), "faults"):
            data.pop(name)
        return data


def load_config(path: str) -> dict[str, Any]:
    """Read a TOML config (keys as the flags: ``sizes = ["64", "4K"]``, ``target-time = 0.2``)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the measuring side runs on 3.10 too (--pythons)
        import tomli as tomllib
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
    unknown = sorted(set(normalized) - set(BY_KEY))
    if unknown:
        raise IpcbenchError(
            f"config {path}: unknown key {unknown[0]!r}; valid: {', '.join(sorted(BY_KEY))}"
        )
    return normalized


def fields_of(options: Mapping[str, Any]) -> dict[str, Any]:
    """Settings field -> parsed value of the options given (flag/TOML/API keys; None = not
    given; keys that are no option are ignored). Raises IpcbenchError naming the flag."""
    return {
        BY_KEY[key].field: BY_KEY[key].read(value)
        for key, value in options.items()
        if value is not None and key in BY_KEY
    }


def build_settings(options: Mapping[str, Any]) -> Settings:
    """Settings from flag/config keys (None values mean 'not given'); raises IpcbenchError."""
    given = fields_of(options)
    quick = {o.field: o.quick for o in OPTIONS if o.quick is not NOT_SET}
    return validate({**quick, **given} if given.get("quick") else given)


def validate(values: Mapping[str, Any]) -> Settings:
    """Settings from field values (parsed or not; missing ones: the table's defaults)."""
    parsed = {o.field: o.read(values.get(o.field, o.default)) for o in OPTIONS}
    s = Settings(**parsed, faults=tuple(values.get("faults", ())))
    if s.quick and s.full:
        raise IpcbenchError("--quick and --full pick different grids; give one of them")
    _check_maxsize_applies(s)
    check_payload_sizes(s)
    if s.calls or s.call_timeouts:
        check_calls(s, expand(s))
    check_memory(s)
    return s


def _check_maxsize_applies(s: Settings) -> None:
    if not s.maxsizes or s.maxsizes == (0,):
        return
    if not any(transports.get(t).uses_maxsize for t in s.transports):
        bounded = [cls.name for cls in transports.all_transports() if cls.uses_maxsize]
        raise IpcbenchError(
            f"--maxsize applies only to {', '.join(bounded)}; none of them is selected"
        )
