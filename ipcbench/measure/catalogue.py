"""The pattern catalogue: what the rest of ipcbench needs to know about each pattern, as data.

One entry (one line in ``CATALOGUE``) per pattern. Sweep (its grid), driver (bytes moved, the
message cap), stats (its headline metric) and ``ipcbench list`` read these entries; none of
them names a pattern. The pattern's code (its Session, the parent side, and its worker role)
lives in the module ``session`` names, imported only when a case of it runs
(``ipcbench.measure.patterns.session_class``).

Pure data: this module imports nothing from ipcbench, so analysis and views may read it
without loading any pattern, worker or transport code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Default grids shared by several entries.
DEFAULT_COUNTS: tuple[int, ...] = (1, 2, 4)
FULL_COUNTS: tuple[int, ...] = (1, 2, 4, 8)  # --full
QUICK_COUNTS: tuple[int, ...] = (2,)  # --quick: one shape, 2 x 2
SCALING_SIZES: tuple[int, ...] = (1024,)  # many-process and flow patterns: one size
QUICK_SCALING_SIZES: tuple[int, ...] = (4096,)
BACKPRESSURE_MAXSIZES: tuple[int, ...] = (1, 16, 256, 0)
QUICK_BACKPRESSURE_MAXSIZES: tuple[int, ...] = (1, 0)
DEFAULT_RATES: tuple[str, ...] = ("10%", "50%", "90%", "110%")
FULL_RATES: tuple[str, ...] = ("10%", "25%", "50%", "75%", "90%", "100%", "110%")  # --full
QUICK_RATES: tuple[str, ...] = ("50%",)
MAX_PROXY_BYTES = 256 * 1024**2  # bound on what one batch stores in a Manager dict/list

CLOSE_JOIN_UNBOUNDED_ONLY = (
    "close_join runs on unbounded queues (maxsize 0) only: a bounded queue's put() blocks "
    "while maxsize items are pending, so the timed puts would measure how fast the reader "
    "drains under backpressure (the backpressure pattern's figure), not a flush; the feeder "
    "flushes the same way at any maxsize, so the unbounded case with N <= maxsize already "
    "measures it"
)

CALL_SIZES: tuple[int, ...] = (64, 65536)  # nowait: what a timeout costs, small and large
DEFAULT_CALL_TIMEOUTS: tuple[float, ...] = (0.01,)  # seconds; the value faster-fifo's tests use
CALLS_NOTE = (
    "the stream pattern with each put/get calling style; stream, fan and taskqueue take "
    "--calls too. An expired timeout and a Full/Empty retry count in 'retries' (nowait "
    "retries yield the GIL)"
)

Metric = Literal["latency", "throughput"]
# Which process counts a pattern sweeps: none (one child), producers only, or producers x
# consumers (--producers/--consumers, else ``counts``/``quick_counts``).
Counts = Literal["none", "producers", "producers_consumers"]


@dataclass(frozen=True)
class PatternInfo:
    """One pattern as the harness, the analysis and ``ipcbench list`` see it."""

    name: str
    session: str  # "module:Class" of its Session, imported lazily
    description: str  # one line in ``ipcbench list``
    metric: Metric = "throughput"  # headline figure: lat_p50_us, or msgs_per_s
    note: str = ""  # a longer note printed under the description
    counted: Counts = "none"  # which process counts it sweeps
    counts: tuple[int, ...] = DEFAULT_COUNTS  # default producers (and consumers) counts
    quick_counts: tuple[int, ...] = QUICK_COUNTS
    full_counts: tuple[int, ...] = FULL_COUNTS
    sizes: tuple[int, ...] | None = None  # default sizes; None: the global grid (params)
    quick_sizes: tuple[int, ...] | None = None
    maxsizes: tuple[int, ...] = (0,)  # default maxsizes, on transports that take a maxsize
    quick_maxsizes: tuple[int, ...] = (0,)
    # Its default put/get calling styles on transports that take them (``Transport.calls``:
    # "block", "timeout", "nowait"; --calls overrides); () for patterns that do not sweep them.
    calls: tuple[str, ...] = ()
    loads: tuple[str, ...] = ("",)  # offered loads swept (--rates overrides a non-empty grid)
    quick_loads: tuple[str, ...] = ("",)
    full_loads: tuple[str, ...] = ("",)
    bytes_per_message: int = 1  # payloads moved per message (a round trip moves two)
    cap_bytes: int | None = None  # bound on one batch's payload bytes (messages are capped)
    unbounded_only_ops: tuple[str, ...] = ()  # ops that run at maxsize 0 (None) only
    transports: tuple[str, ...] = ()  # transports it takes besides those listing it
    ops: tuple[str, ...] = ("",)  # its ops on a transport that lists none for it

    @property
    def many_process(self) -> bool:
        """Parent + producers + consumers (the memory bound counts them all)."""
        return self.counted != "none"

    @property
    def moves_payload(self) -> bool:
        """False for patterns that time something other than messages (startup): they run at
        their own one size and payload kind, whatever --sizes and --payload-kinds say."""
        return self.bytes_per_message > 0

    @property
    def sweeps_loads(self) -> bool:
        return self.loads != ("",)

    @property
    def is_latency(self) -> bool:
        return self.metric == "latency"


_P = "ipcbench.measure.patterns."
_SC, _QSC = SCALING_SIZES, QUICK_SCALING_SIZES

CATALOGUE: dict[str, PatternInfo] = {
    info.name: info
    for info in (
        PatternInfo(
            "pingpong",
            _P + "pingpong:PingPong",
            "latency: parent sends, child echoes; every round trip timed",
            metric="latency",
            bytes_per_message=2,
        ),
        PatternInfo(
            "stream",
            _P + "stream:Stream",
            "throughput: child produces, parent receives + verifies; timed at arrival",
            calls=("block",),
        ),
        PatternInfo(
            "proxy_ops",
            _P + "proxy_ops:ProxyOps",
            "Manager dict/list: child writes, parent reads back; per-op latency",
            metric="latency",
            cap_bytes=MAX_PROXY_BYTES,
        ),
        PatternInfo(
            "fan",
            _P + "fan:Fan",
            "P producers x C consumers (--producers/--consumers); exactly-once across consumers",
            counted="producers_consumers",
            sizes=_SC,
            quick_sizes=_QSC,
            calls=("block",),
        ),
        PatternInfo(
            "taskqueue",
            _P + "taskqueue:TaskQueue",
            "JoinableQueue tasks: P producers, C daemon consumers, q.join(); join latency",
            counted="producers_consumers",
            sizes=_SC,
            quick_sizes=_QSC,
            calls=("block",),
        ),
        PatternInfo(
            "shared_state",
            _P + "shared_state:SharedState",
            "K processes (--producers) update a Manager dict/list (or Queue); ops/s",
            counted="producers",
            sizes=_SC,
            quick_sizes=_QSC,
        ),
        PatternInfo(
            "backpressure",
            _P + "backpressure:Backpressure",
            "queue maxsize 1/16/256/0 under a fast producer: blocked time, peak depth",
            maxsizes=BACKPRESSURE_MAXSIZES,
            quick_maxsizes=QUICK_BACKPRESSURE_MAXSIZES,
            sizes=_SC,
            quick_sizes=_QSC,
        ),
        PatternInfo(
            "nowait",
            _P + "stream:Stream",
            "a stream calling put/get blocking, with a timeout (--call-timeouts) and nowait; "
            "retries",
            note=CALLS_NOTE,
            sizes=CALL_SIZES,
            quick_sizes=_QSC,
            calls=("block", "timeout", "nowait"),
        ),
        PatternInfo(
            "lifecycle",
            _P + "lifecycle:Lifecycle",
            "close()+join_thread() flush time (maxsize 0); per-call qsize()/empty()/full()",
            metric="latency",
            note=CLOSE_JOIN_UNBOUNDED_ONLY,
            unbounded_only_ops=("close_join",),
            sizes=_SC,
            quick_sizes=_QSC,
        ),
        PatternInfo(
            "rate",
            _P + "rate:Rate",
            "open-loop latency at offered rates (--rates 50%,20000); saturation point",
            metric="latency",
            loads=DEFAULT_RATES,
            quick_loads=QUICK_RATES,
            full_loads=FULL_RATES,
            sizes=_SC,
            quick_sizes=_QSC,
        ),
        PatternInfo(
            "startup",
            _P + "startup:Startup",
            "costs paid once: Process.start() to first message (bare, NumPy), Manager, Pool(2)",
            metric="latency",
            note="one latency sample per start, at most 16 starts per batch; the child's "
            "first message carries a token checked by the parent",
            sizes=(64,),  # no payload moves: one size, so sizes do not multiply the cases
            quick_sizes=(64,),
            bytes_per_message=0,  # MB/s is 0: nothing is moved but the first message
            cap_bytes=16 * 64,  # 16 starts (startup.MAX_STARTS) at its one 64 B size
            transports=("pipe",),  # the first message comes on a Pipe
            ops=("process_bare", "process_numpy", "manager", "pool"),
        ),
    )
}


def names() -> list[str]:
    """Every pattern, in catalogue order."""
    return list(CATALOGUE)


def info(name: str) -> PatternInfo:
    """The entry of ``name``; raises KeyError naming the valid ones."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise KeyError(f"unknown pattern {name!r}; valid: {', '.join(CATALOGUE)}") from None


def latency_patterns() -> frozenset[str]:
    """Patterns whose headline figure is a latency (lat_p50_us)."""
    return frozenset(name for name, entry in CATALOGUE.items() if entry.is_latency)
