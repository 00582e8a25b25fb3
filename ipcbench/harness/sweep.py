"""Case expansion: a validated Settings -> the frozen, applicable cases of a sweep."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar

from ipcbench import transports
from ipcbench.errors import IpcbenchError
from ipcbench.measure import catalogue
from ipcbench.measure.catalogue import PatternInfo
from ipcbench.params import DEFAULT_SIZES, FULL_SIZES, QUICK_SIZES, Case, dedupe
from ipcbench.wire import NDARRAY_ITEM_BYTES, payload_fits

_T = TypeVar("_T")

if TYPE_CHECKING:
    from ipcbench.harness.settings import Settings

COPIES_PER_MESSAGE = 16  # rough bound on live copies of one payload across the processes
COPIES_PER_PROCESS = 4  # rough bound on live copies of one payload in each process holding it


def check_memory(s: Settings) -> None:
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
            if takes(cls, pattern):
                yield _processes_involved(s, cls, pattern), sizes_for(s, pattern)


def _processes_involved(s: Settings, cls: type[transports.Transport], pattern: str) -> int:
    """The most processes one case of this transport x pattern runs (the parent included)."""
    if cls.in_process or cls.in_threads:  # threads pass references: no copy per worker
        return 1
    if catalogue.info(pattern).many_process:
        producers, consumers = counts_for(s, pattern)
        return max(producers) + max(consumers) + 1
    return 2  # the parent and one child


def _payload_copies(n_procs: int) -> int:
    """Live copies of one payload across n_procs processes; never below the two-process bound
    COPIES_PER_MESSAGE (sender, pickles, kernel buffers, receiver, verification)."""
    return max(COPIES_PER_MESSAGE, n_procs * COPIES_PER_PROCESS)


def takes(cls: type[transports.Transport], pattern: str) -> bool:
    """Whether the transport runs the pattern (it lists it, or the pattern's entry names it)."""
    return pattern in cls.patterns or cls.name in catalogue.info(pattern).transports


def ops_for(cls: type[transports.Transport], pattern: str) -> tuple[str, ...]:
    """The ops of a pattern on a transport: the transport's own list, else the pattern's."""
    return cls.ops.get(pattern, catalogue.info(pattern).ops)


def sizes_for(s: Settings, pattern: str) -> tuple[int, ...]:
    """--sizes if given (and the pattern moves payloads); else the pattern's grid
    (many-process patterns: one size), or the global one."""
    entry = catalogue.info(pattern)
    if s.sizes and entry.moves_payload:
        return s.sizes
    sizes = entry.quick_sizes if s.quick else entry.sizes
    if sizes is not None:
        return sizes
    return _by_grid(s, QUICK_SIZES, DEFAULT_SIZES, FULL_SIZES)


def _by_grid(s: Settings, quick: _T, default: _T, full: _T) -> _T:
    """The value for the sweep's grid: --quick, --full or the default one."""
    return quick if s.quick else full if s.full else default


def counts_for(s: Settings, pattern: str) -> tuple[list[int], list[int]]:
    """(producers, consumers) to sweep for a pattern: --producers/--consumers, else the
    pattern's grid for --quick, --full or the default sweep."""
    entry = catalogue.info(pattern)
    default = list(_by_grid(s, entry.quick_counts, entry.counts, entry.full_counts))
    producers = list(s.producers) or default
    consumers = list(s.consumers) or default
    if entry.counted == "producers_consumers":
        return producers, consumers
    if entry.counted == "producers":
        return producers, [0]
    return [1], [1]


def maxsizes_for(s: Settings, cls: type[transports.Transport], pattern: str) -> list[int | None]:
    if not cls.uses_maxsize:
        return [None]
    if s.maxsizes:
        return list(s.maxsizes)
    entry = catalogue.info(pattern)
    return list(entry.quick_maxsizes if s.quick else entry.maxsizes)


def loads_for(s: Settings, pattern: str) -> list[str]:
    entry = catalogue.info(pattern)
    if not entry.sweeps_loads:
        return [""]
    return list(s.rates) or list(_by_grid(s, entry.quick_loads, entry.loads, entry.full_loads))


def calls_for(
    s: Settings, cls: type[transports.Transport], pattern: str
) -> list[tuple[str, float | None]]:
    """(call, call_timeout_s) pairs to sweep: --calls (else the pattern's styles) that the
    transport takes, "timeout" once per --call-timeouts value; [("", None)] where the pattern
    or the transport has no calling styles."""
    entry = catalogue.info(pattern)
    if not entry.calls or not cls.calls:
        return [("", None)]
    styles = [c for c in (s.calls or entry.calls) if c in cls.calls]
    timeouts = s.call_timeouts or catalogue.DEFAULT_CALL_TIMEOUTS
    pairs: list[tuple[str, float | None]] = []
    for call in styles:
        pairs.extend([(call, t) for t in timeouts] if call == "timeout" else [(call, None)])
    return pairs


def check_calls(s: Settings, cases: list[Case]) -> None:
    """Refuse --calls / --call-timeouts that no case of the sweep uses (a timeout on a Pipe)."""
    used = {case.call for case in cases}
    for call in s.calls:
        if call not in used:
            raise IpcbenchError(f"--calls {call}: {_no_calls_hint()}")
    if s.call_timeouts and "timeout" not in used:
        raise IpcbenchError(
            "--call-timeouts needs cases that call with a timeout: add timeout to --calls; "
            + _no_calls_hint()
        )


def check_payload_sizes(s: Settings) -> None:
    """Refuse --payload-kinds ndarray when no --sizes value fits an array (whole float64
    elements): the sweep skips ndarray x such a size, so no ndarray case would be left."""
    if "ndarray" not in s.payload_kinds or not s.sizes:
        return
    if any(payload_fits("ndarray", size) for size in s.sizes):
        return
    takers = [t for t in s.transports if "ndarray" in transports.get(t).payload_kinds()]
    if takers and any(catalogue.info(p).moves_payload for p in s.patterns):
        raise IpcbenchError(
            f"--payload-kinds ndarray needs a size that is a multiple of {NDARRAY_ITEM_BYTES} "
            "bytes (whole float64 elements), and none of --sizes is; add one (64, 4K, 1MiB) "
            "or leave ndarray out"
        )


def _no_calls_hint() -> str:
    takers = [c.name for c in transports.all_transports() if c.calls]
    patterns = [name for name in catalogue.names() if catalogue.info(name).calls]
    return (
        f"put/get calling styles apply to {', '.join(takers)} in {', '.join(patterns)}; "
        "select one of those with -t/-p"
    )


def applies(entry: PatternInfo, op: str, maxsize: int | None) -> bool:
    """Whether an op runs at this maxsize (some run on unbounded queues only; the entry's
    note says why)."""
    return not (maxsize and op in entry.unbounded_only_ops)


def expand(s: Settings) -> list[Case]:
    """Every applicable combination, once (inapplicable ones dropped, never duplicated)."""
    cases: list[Case] = []
    for t_name in s.transports:
        cls = transports.get(t_name)
        for pattern in s.patterns:
            if not takes(cls, pattern):
                continue
            cases.extend(_cases_for(s, cls, pattern))
    return dedupe(cases)


def _cases_for(s: Settings, cls: type[transports.Transport], pattern: str) -> Iterable[Case]:
    kinds = [k for k in s.payload_kinds if k in cls.payload_kinds()]
    if not catalogue.info(pattern).moves_payload and kinds:
        # nothing moves: one payload kind is enough, bytes where taken (an ndarray payload
        # would import NumPy into the driver, and a start-up child would inherit it)
        kinds = ["bytes"] if "bytes" in cls.payload_kinds() else kinds[:1]
    # no child processes, no start method: in-process floors, thread baselines (whose "split"
    # placement is real: Linux pins each worker thread on its own, see workers.thread_main)
    methods = [""] if cls.in_process or cls.in_threads else list(s.start_methods)
    placements = dedupe("same" if (cls.in_process and p == "split") else p for p in s.placements)
    producers, consumers = counts_for(s, pattern)
    entry = catalogue.info(pattern)
    fault = s.faults[0] if s.faults else ""
    grid = itertools.product(
        sizes_for(s, pattern),
        kinds,
        methods,
        maxsizes_for(s, cls, pattern),
        placements,
        ops_for(cls, pattern),
        producers,
        consumers,
        loads_for(s, pattern),
        calls_for(s, cls, pattern),
    )
    for size, kind, method, maxsize, placement, op, n_prod, n_cons, load, call in grid:
        if not applies(entry, op, maxsize) or not payload_fits(kind, size):
            continue  # e.g. an ndarray of 12 bytes (whole float64 elements only)
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
            call=call[0],
            call_timeout_s=call[1],
            fault=fault,
        )
