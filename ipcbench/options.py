"""The one options table: every sweep option's flag, TOML key, Settings field, parser, default,
``--quick`` default and help, declared once.

``ipcbench run``'s arguments (cli/run.py), the TOML loader's key check, ``build_settings`` /
``validate`` (harness/settings.py) and ``--resume``'s comparison (harness/resume.py) all read
this table. A parser takes (key, value) and returns the Settings field's value, raising
IpcbenchError (one line, naming the flag); parsers accept their own output again (stored
settings are validated with the same parsers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ipcbench.errors import IpcbenchError
from ipcbench.params import PAYLOAD_KINDS, PLACEMENTS, check_choices, dedupe, parse_size

Parser = Callable[[str, Any], Any]
NOT_SET: Any = object()  # no --quick default: the plain default applies under --quick too


@dataclass(frozen=True)
class Option:
    """One sweep option. ``help`` empty: TOML and the Python API only, no flag."""

    key: str  # TOML key, API keyword and argparse dest; the flag is --key with '-' for '_'
    field: str  # the Settings field it sets
    parse: Parser
    default: Any  # the value parsed when the option is not given
    help: str = ""  # argparse help; '{default}' is the default
    quick: Any = NOT_SET  # the default under --quick
    is_list: bool = False  # comma-separated values (or a TOML list)
    output: bool = False  # where results go / what is printed: may differ on --resume
    short: str = ""  # one-letter flag
    switch: bool = False  # a flag without a value
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    def read(self, value: Any) -> Any:
        """The Settings field's value for a given (or stored) value."""
        return self.parse(self.key, as_list(self.key, value) if self.is_list else value)

    def help_text(self) -> str:
        return self.help.format(default=self.default)


def as_list(key: str, value: Any) -> list[Any]:
    """A TOML list, a comma-separated string or a single number, as a list."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for v in value:
            out.extend(as_list(key, v) if isinstance(v, str) else [v])
        return out
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    raise IpcbenchError(f"{key}: expected a list or comma-separated string, got {value!r}")


def whole(minimum: int) -> Parser:
    def parse(key: str, value: Any) -> int:
        try:
            number = int(value)
            if isinstance(value, bool) or (isinstance(value, float) and number != value):
                raise ValueError
        except (TypeError, ValueError, OverflowError):  # OverflowError: inf from TOML
            raise IpcbenchError(f"{_flag(key)}: expected a whole number, got {value!r}") from None
        if number < minimum:
            raise IpcbenchError(f"{_flag(key)} must be at least {minimum}, got {number}")
        return number

    return parse


def seconds(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise IpcbenchError(f"{_flag(key)}: expected seconds, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise IpcbenchError(f"{_flag(key)} must be a positive number of seconds")
    return number


def each(parse: Parser) -> Parser:
    """A list parser: every value parsed, duplicates dropped, order kept."""
    return lambda key, values: tuple(dedupe(parse(key, v) for v in values))


def choices(
    kind: str, valid: Callable[[], Sequence[str]], default: Callable[[], list[str]] | None = None
) -> Parser:
    """Names from ``valid()``; an empty list means ``default()`` where there is one."""

    def parse(key: str, values: Iterable[str]) -> tuple[str, ...]:
        chosen = list(values) or (default() if default else [])
        return tuple(dedupe(check_choices(kind, chosen, valid())))

    return parse


def _size(key: str, value: Any) -> int:
    return parse_size(value)


def _rate(key: str, value: Any) -> str:
    from ipcbench.measure.patterns.rate import parse_load

    text = str(value).strip()
    parse_load(text)
    return text


AUTO_REPEATS = 0  # Settings.repeats of --repeats auto


def _repeats(key: str, value: Any) -> int:
    """A whole number >= 1, or 'auto' (stored as 0, which also reads back as auto)."""
    if (isinstance(value, str) and value.strip().lower() == "auto") or value == AUTO_REPEATS:
        return AUTO_REPEATS
    return whole(1)(key, value)


def _fraction(key: str, value: Any) -> float:
    """'5%' or 0.05 -> 0.05."""
    text = str(value).strip()
    try:
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise IpcbenchError(
            f"{_flag(key)}: expected a share such as 5% or 0.05, got {value!r}"
        ) from None
    if not 0 < number < 1:
        raise IpcbenchError(f"{_flag(key)} must be between 0 and 100%, got {value!r}")
    return number


_DURATION_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def _duration(key: str, value: Any) -> float | None:
    """'15m', '900s', '1h', 900 -> seconds; None: no budget."""
    if value is None:
        return None
    text = str(value).strip().lower()
    number = text.rstrip("smhin")
    unit = text[len(number) :]
    try:
        seconds = float(number) * _DURATION_UNITS[unit]
    except (ValueError, KeyError):
        raise IpcbenchError(
            f"{_flag(key)}: expected a duration such as 15m, 900s or 1h, got {value!r}"
        ) from None
    if not 0 < seconds < float("inf"):
        raise IpcbenchError(f"{_flag(key)} must be a positive duration, got {value!r}")
    return seconds


def _seed(key: str, value: Any) -> int | None:
    return None if value is None else whole(0)(key, value)


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _transport_names() -> list[str]:
    from ipcbench import transports

    return transports.names()


def _pattern_names() -> list[str]:
    from ipcbench.measure import patterns

    return patterns.names()


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


def _calls(key: str, values: Iterable[str]) -> tuple[str, ...]:
    """Calling styles; none given: each pattern's own (sweep.calls_for)."""
    from ipcbench.transports.base import CALL_STYLES

    chosen = list(values)
    return tuple(dedupe(check_choices("calling style", chosen, CALL_STYLES))) if chosen else ()


def _python_spec(key: str, value: Any) -> str:
    from ipcbench.harness.pythons import check_spec

    return check_spec(key, value)


def _default_start_method() -> list[str]:
    from ipcbench.params import default_start_method

    return [default_start_method()]


OPTIONS: tuple[Option, ...] = (
    Option(
        "transports", "transports", choices("transport", _transport_names, _transport_names), [],
        "transports (default: all; see 'ipcbench list')", is_list=True, short="-t",
    ),
    Option(
        "patterns", "patterns", choices("pattern", _pattern_names, _pattern_names), [],
        "patterns (default: all; see 'ipcbench list')", is_list=True, short="-p",
    ),
    Option(
        "sizes", "sizes", each(_size), [],
        "payload sizes, e.g. 64,4K,1MiB,16M (default: 8 B to 8 MiB in steps of x16; --full: "
        "8 B to 16 MiB, about powers of 4; 1 KiB for the many-process patterns)",
        is_list=True, short="-s",
    ),
    Option(
        "payload_kinds", "payload_kinds", choices("payload kind", lambda: PAYLOAD_KINDS),
        ["bytes"], "bytes (default), object (a Python structure of about the same pickled "
        "size, so pickling cost shows) and/or ndarray (a NumPy float64 array; sizes that are "
        "multiples of 8 bytes)", is_list=True,
    ),
    Option(
        "start_methods", "start_methods",
        choices("start method", _start_methods, _default_start_method), [],
        "fork, spawn, forkserver (default: the platform's)", is_list=True,
    ),
    Option(
        "maxsize", "maxsizes", each(whole(0)), [],
        "queue maxsize values (queue types only; 0 = unbounded; default 0, "
        "and 1,16,256,0 for backpressure)", is_list=True,
    ),
    Option(
        "producers", "producers", each(whole(1)), [],
        "producer processes for fan/taskqueue, writers for shared_state (default 1,2,4; "
        "--full 1,2,4,8)",
        is_list=True,
    ),
    Option(
        "consumers", "consumers", each(whole(1)), [],
        "consumer processes for fan/taskqueue (default 1,2,4; --full 1,2,4,8)", is_list=True,
    ),
    Option(
        "rates", "rates", each(_rate), [],
        "offered loads for the rate pattern: msgs/s (20000) or a share of the measured "
        "maximum (50%%); default 10%%,50%%,90%%,110%%; --full 10%%,25%%,50%%,75%%,90%%,"
        "100%%,110%%", is_list=True,
    ),
    Option(
        "calls", "calls", _calls, [],
        "put/get calling styles for queue-type channels in stream, fan, taskqueue and nowait: "
        "block, timeout (a blocking call with --call-timeouts, retried when it expires), "
        "nowait (default: block; all three for the nowait pattern)", is_list=True,
    ),
    Option(
        "call_timeouts", "call_timeouts", each(seconds), [],
        "put/get timeouts in seconds for --calls timeout, e.g. 0.01,1 (default 0.01); "
        "each expiry counts as a retry", is_list=True,
    ),
    Option(
        "placements", "placements", choices("placement", lambda: PLACEMENTS), ["unpinned"],
        "CPU placement: unpinned (default), same (all processes "
        "on one CPU), split (parent and children on different CPUs)", is_list=True,
    ),
    Option(
        "pythons", "pythons", each(_python_spec), [],
        "run every case under each of these interpreters, in interleaved rounds: versions "
        "(3.10,3.13), names on PATH (python3.12) or paths; each gets a cached environment "
        "(default: only the Python running ipcbench)", is_list=True,
    ),
    Option(
        "repeats", "repeats", _repeats, 7,
        "measured repeats per case, each in fresh processes; the sweep runs them in "
        "rounds, every case once per round in a new shuffled order (default {default}); "
        "auto: 5 rounds, then more rounds only for the cases not settled (see --precision, "
        "--max-repeats, --budget)",
        quick=5,
    ),
    Option(
        "precision", "precision", _fraction, "5%",
        "--repeats auto: a case is precise when its median's 95%% interval is within "
        "this of the median (default 5%%)",
    ),
    Option(
        "max_repeats", "max_repeats", whole(2), 30,
        "--repeats auto: at most this many repeats of a case (default {default})",
    ),
    Option(
        "budget", "budget_s", _duration, None,
        "--repeats auto: stop adding rounds after this much wall time, e.g. 15m, 900s, 1h "
        "(default: no limit but --max-repeats)",
    ),
    Option(
        "warmups", "warmups", whole(0), 1,
        "warm-up batches (a quarter of the measured one, at most 2 ms) before each repeat "
        "(default {default})",
        quick=1,
    ),
    Option(
        "target_time", "target_time_s", seconds, 0.15,
        "seconds per repeat; the message count is calibrated to reach it (default {default})",
        quick=0.02,
    ),
    Option(
        "timeout", "timeout_s", seconds, 60.0,
        "seconds per repeat of a case (its processes started, calibrated, warmed up "
        "and measured) before it is stopped as status=timeout (default {default:g})",
    ),
    Option(
        "seed", "seed", _seed, None,
        "seed of the case order shuffle (default: random, recorded in the metadata)",
    ),
    Option(
        "quick", "quick", lambda key, value: bool(value), False,
        "small grid: 64 B and 64 KiB (4 KiB for many-process patterns, at 2 x 2 "
        "processes), short target time; every transport x pattern", switch=True,
    ),
    Option(
        "full", "full", lambda key, value: bool(value), False,
        "fine grid: sizes 8 B to 16 MiB about powers of 4, 1-8 processes a side, 7 offered "
        "loads (about 1.8x the default sweep's cases)", switch=True,
    ),
    Option(
        "out", "out_dir", lambda key, value: str(value), "results",
        "results folder (default: results/)", output=True, short="-o", metavar="DIR",
    ),
    Option(
        "quiet", "quiet", lambda key, value: bool(value), False, "no progress output",
        output=True, short="-q", switch=True,
    ),
    Option("min_messages", "min_messages", whole(1), 2),
    Option("max_messages", "max_messages", whole(1), 1_000_000),
)  # fmt: skip

BY_KEY: dict[str, Option] = {o.key: o for o in OPTIONS}
BY_FIELD: dict[str, Option] = {o.field: o for o in OPTIONS}
