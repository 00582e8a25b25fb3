"""Parameters: human sizes, the frozen Case, and expansion of a sweep into applicable cases."""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ipcbench.errors import IpcbenchError

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")

# The default sweep: 8 B .. 8 MiB in steps of x16, every other size of the --full grid (so
# default and full runs, and runs from before this grid, share sizes in compare), sized so
# that its repeats fit in about 15 minutes on 2 vCPUs (README: "Why this grid").
DEFAULT_SIZES: tuple[int, ...] = (8, 128, 2048, 32768, 524288, 8388608)
# --full: 8 B .. 16 MiB, about powers of 4.
FULL_SIZES: tuple[int, ...] = (
    8,
    32,
    128,
    512,
    2048,
    8192,
    32768,
    131072,
    524288,
    2097152,
    8388608,
    16777216,
)
QUICK_SIZES: tuple[int, ...] = (64, 65536)
# Pattern-specific grids (counts, maxsizes, rates, the many-process sizes) are in each
# pattern's entry in ipcbench.measure.catalogue.
PAYLOAD_KINDS: tuple[str, ...] = ("bytes", "object", "ndarray")  # see ipcbench.wire
PLACEMENTS: tuple[str, ...] = ("unpinned", "same", "split")
MAX_PAYLOAD_BYTES = 1024**3


def parse_size(text: str | int) -> int:
    """Parse a human size: 64, 4K, 4KiB, 1MiB, 16M (binary units). Raises IpcbenchError."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = _SIZE_RE.match(str(text))
        unit = match.group(2).lower() if match else ""
        if not match or unit not in _UNITS:
            raise IpcbenchError(
                f"cannot parse size {text!r}; use a whole number of bytes or a unit: "
                "64, 4K, 4KiB, 1MiB, 16M"
            )
        value = int(float(match.group(1)) * _UNITS[unit])
    if value < 1:
        raise IpcbenchError(f"size {text!r} must be at least 1 byte")
    if value > MAX_PAYLOAD_BYTES:
        raise IpcbenchError(f"size {text!r} is larger than the 1 GiB limit; use a smaller size")
    return value


@dataclass(frozen=True, order=True)
class Case:
    """One combination of parameters; a result row is this plus measurements.

    ``maxsize`` is None where it does not apply (Pipe, SimpleQueue, floors); ``op`` names the
    operation for patterns that time single calls (``proxy_ops``) and is "" otherwise; ``call``
    is how put/get are called on a queue-type channel ("block", "timeout" with
    ``call_timeout_s``, "nowait") and "" where the channel or pattern has no such choice.
    ``fault`` is for tests only (fault injection in the children) and is never a CSV column.
    """

    transport: str
    pattern: str
    payload_bytes: int
    payload_kind: str = "bytes"
    start_method: str = "fork"
    python: str = ""  # --pythons: the interpreter's tag ('3.12'); '' = the one running ipcbench
    maxsize: int | None = None
    op: str = ""
    producers: int = 1
    consumers: int = 1
    placement: str = "unpinned"
    offered_load: str = ""
    call: str = ""  # put/get calling style (transports.base.CALL_STYLES); "" where none applies
    call_timeout_s: float | None = None  # the put/get timeout of call "timeout", else None
    fault: str = field(default="", compare=False)

    def params(self) -> dict[str, Any]:
        """The parameter columns of this case (see results.PARAM_COLUMNS)."""
        data = asdict(self)
        data.pop("fault")
        return data

    def label(self) -> str:
        """The case's short label (``ipcbench.results.schema.case_label``)."""
        from ipcbench.results.schema import case_label

        return case_label(self.params())


def default_start_method() -> str:
    return multiprocessing.get_context().get_start_method()


def check_choices(kind: str, values: Iterable[str], valid: Sequence[str]) -> list[str]:
    """Return values as a list, or raise naming the valid ones."""
    chosen = list(values)
    for value in chosen:
        if value not in valid:
            raise IpcbenchError(f"unknown {kind} {value!r}; valid: {', '.join(valid)}")
    if not chosen:
        raise IpcbenchError(f"no {kind} given; valid: {', '.join(valid)}")
    return chosen


def dedupe(values: Iterable[Any]) -> list[Any]:
    """Keep the first occurrence of each value, in order."""
    seen: dict[Any, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return list(seen)
