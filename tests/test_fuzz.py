"""Bad input, fuzzed with hypothesis: command-line arguments, TOML configs and result files
(empty, truncated, wrong columns, wrong schema version, binary garbage, random damage) for
every command that reads them. Each ends in one line on stderr and exit code 2 -- never a
traceback -- or is accepted; and existing results are never partly overwritten.

The commands run in this process (``cli.main``); where they would do real work -- run a
sweep, draw figures -- a stub stands in and counts as "accepted"."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ipcbench import cli
from ipcbench.harness.runner import CaseOutcome, Runner
from ipcbench.harness.settings import build_settings
from ipcbench.results.schema import COLUMNS
from ipcbench.results.store import RunStore

# The same examples every run (a stable suite); IPCBENCH_FUZZ=N explores N fresh ones per test.
FRESH = int(os.environ.get("IPCBENCH_FUZZ", "0"))
FUZZ = settings(
    max_examples=FRESH or 60,
    derandomize=not FRESH,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


REAL_RUN = Runner.run


class Accepted(Exception):
    """The input passed every check: the command went on to do its work (stubbed)."""


def _refuse_work(*args: Any, **kwargs: Any) -> Any:
    raise Accepted


def call(argv: list[str]) -> tuple[int | str, str]:
    """Exit code (or "accepted") and stderr of one in-process command."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code: int | str = cli.main(argv)
        except Accepted:
            code = "accepted"
        except SystemExit as exc:  # --help / --version
            code = f"exit {exc.code}"
    return code, err.getvalue()


def assert_clean_outcome(code: int | str, err: str) -> None:
    assert "Traceback" not in err, err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ipcbench: error: "), err
    else:
        assert code in (0, "accepted", "exit 0"), (code, err)


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No sweep, figure or report is produced; the working folder is a scratch one."""
    from ipcbench.results import metadata
    from ipcbench.views import plots, report

    monkeypatch.setattr(Runner, "run", _refuse_work)
    monkeypatch.setattr(plots, "render", _refuse_work)
    monkeypatch.setattr(report, "write_report", _refuse_work)
    monkeypatch.setattr(metadata, "collect", lambda: {"machine_id": "m", "logical_cpus": 2})
    monkeypatch.chdir(tmp_path)
    yield tmp_path


# --- command-line arguments ---------------------------------------------------------------

FLAGS = [
    "-t", "--transports", "-p", "--patterns", "-s", "--sizes", "--payload-kinds",
    "--start-methods", "--maxsize", "--producers", "--consumers", "--rates", "--placements",
    "--repeats", "--warmups", "--target-time", "--timeout", "--seed", "--quick", "-o", "--out",
    "-q", "--quiet", "-c", "--config", "--resume", "--figures", "--formats", "--normalize",
    "--force", "--bogus", "-", "--",
]  # fmt: skip
VALUES = [
    "pipe", "queue,pipe", "memcpy", "pigeon", "stream", "pingpong,fan", "4K", "1MiB", "64,4K",
    "-1", "0", "1", "3", "1.5", "1e999", "nan", "inf", "-inf", "", ",", ",,", "fork", "spawn",
    "forkserver", "99999999999999999999", "2G", "lots", "50%", "-5%", "110%", "0%", "same",
    "split", "object", "bytes", "1,2,4", "none.toml", "missing.csv", ".", "/", "png", "svg",
]  # fmt: skip
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    max_size=10,
)  # argv can hold neither NUL nor (here) lone surrogates
ARG = st.one_of(st.sampled_from(FLAGS), st.sampled_from(VALUES), TEXT)
COMMANDS = ["run", "list", "summarize", "compare", "plot", "report", "bogus"]


@FUZZ
@given(command=st.sampled_from(COMMANDS), args=st.lists(ARG, max_size=8))
def test_fuzzed_arguments(stubbed: Path, command: str, args: list[str]) -> None:
    assume("--help" not in args and "-h" not in args)
    assert_clean_outcome(*call([command, *args]))


# --- TOML configs -------------------------------------------------------------------------

KEYS = [
    "transports", "patterns", "sizes", "payload-kinds", "payload_kinds", "start-methods",
    "maxsize", "producers", "consumers", "rates", "placements", "repeats", "warmups",
    "target-time", "timeout", "seed", "quick", "out", "quiet", "min-messages", "max-messages",
    "speed", "run",
]  # fmt: skip
SCALAR = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(VALUES),
    st.text(max_size=8),
    st.dates(),
    st.datetimes(),
)
VALUE = st.one_of(SCALAR, st.lists(SCALAR, max_size=4), st.lists(st.lists(SCALAR, max_size=2)))


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return value.isoformat()  # dates and datetimes


@st.composite
def toml_documents(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.text(max_size=60))  # mostly not TOML at all
    items = draw(st.dictionaries(st.sampled_from(KEYS), VALUE, max_size=6))
    body = "".join(f"{key} = {toml_value(value)}\n" for key, value in items.items())
    return ("[run]\n" if draw(st.booleans()) else "") + body


@FUZZ
@given(document=toml_documents())
def test_fuzzed_toml_configs(stubbed: Path, document: str) -> None:
    config = stubbed / "sweep.toml"
    config.write_text(document, encoding="utf-8", errors="surrogatepass")
    assert_clean_outcome(*call(["run", "--config", str(config)]))


@pytest.mark.parametrize(
    "text",
    ['out = "a\\u0000b"\n', "sizes = [[1]]\n", "transports = 5\n", "[run]\nrun = 1\n",
     "seed = 1e400\n", "timeout = nan\n", 'rates = ["nan%"]\n', "repeats = 1.5\n"],
)  # fmt: skip
def test_awkward_toml_values(stubbed: Path, text: str) -> None:
    config = stubbed / "sweep.toml"
    config.write_text(text)
    code, err = call(["run", "--config", str(config)])
    assert_clean_outcome(code, err)


# --- result files -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> RunStore:
    out = tmp_path_factory.mktemp("pristine")
    options = {**FAST, "transports": "memcpy", "sizes": "8,64", "out": str(out)}
    return Runner(build_settings(options)).run().paths


def _rename_column(data: bytes, draw: st.DrawFn) -> bytes:
    column = draw(st.sampled_from(COLUMNS)).encode()
    return data.replace(column, b"x" + column, 1)


def _drop_column(data: bytes, draw: st.DrawFn) -> bytes:
    lines = data.split(b"\r\n")
    index = draw(st.integers(0, len(COLUMNS) - 1))
    out = [b",".join(f for i, f in enumerate(line.split(b",")) if i != index) for line in lines]
    return b"\r\n".join(out)


def _schema(data: bytes, draw: st.DrawFn) -> bytes:
    version = draw(st.sampled_from([b"0", b"1", b"3", b"99", b"-1", b"x", b"", b"2.0"]))
    lines = data.split(b"\r\n")
    return b"\r\n".join([lines[0], *(version + line[1:] if line else line for line in lines[1:])])


def _truncate(data: bytes, draw: st.DrawFn) -> bytes:
    return data[: draw(st.integers(0, len(data)))]


def _flip(data: bytes, draw: st.DrawFn) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 5))):
        out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
    return bytes(out)


def _lines(data: bytes, draw: st.DrawFn) -> bytes:
    lines = data.split(b"\r\n")
    picked = draw(st.lists(st.integers(0, len(lines) - 1), min_size=1, max_size=len(lines)))
    return b"\r\n".join(lines[i] for i in picked)


DAMAGE: dict[str, Callable[[bytes, st.DrawFn], bytes]] = {
    "empty": lambda data, draw: b"",
    "garbage": lambda data, draw: draw(st.binary(min_size=1, max_size=300)),
    "text": lambda data, draw: draw(st.text(max_size=200)).encode("utf-8", "surrogatepass"),
    "truncated": _truncate,
    "renamed column": _rename_column,
    "dropped column": _drop_column,
    "schema version": _schema,
    "flipped bytes": _flip,
    "lines shuffled": _lines,
}


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(list(DAMAGE)))
    return kind, DAMAGE[kind](data, draw)


READERS = {
    "summarize": lambda p: ["summarize", str(p)],
    "summarize -o": lambda p: ["summarize", str(p), "-o", str(p.with_name("out.csv"))],
    "compare": lambda p: ["compare", str(p), str(p)],
    "plot": lambda p: ["plot", str(p), "--out", str(p.with_name("plots"))],
    "report": lambda p: ["report", str(p), "--out", str(p.with_name("plots"))],
}


@pytest.mark.parametrize("reader", list(READERS))
@FUZZ
@given(data=st.data())
def test_fuzzed_result_files(
    stubbed: Path, pristine: RunStore, reader: str, data: st.DataObject
) -> None:
    _, content = data.draw(damaged(pristine.csv.read_bytes()), label="damage")
    run = RunStore.for_csv(stubbed / "r" / pristine.csv.name)
    run.csv.parent.mkdir(exist_ok=True)
    run.csv.write_bytes(content)
    shutil.copy(pristine.meta, run.meta)
    existing = run.csv.with_name("out.csv")
    existing.write_bytes(b"an earlier summary\n")
    code, err = call(READERS[reader](run.csv))
    assert_clean_outcome(code, err)
    assert run.csv.read_bytes() == content  # readers never write results
    if reader == "summarize -o":
        assert existing.read_bytes() == b"an earlier summary\n"  # no --force: left alone


def _fake_case(self: Runner, case: Any, repeat: int = 0) -> CaseOutcome:
    """A case outcome without processes (the resume logic is what is fuzzed here)."""
    row = self._row(case, {"repeat": repeat}, "skipped", "fuzz")
    return CaseOutcome(case=case, rows=[row], status="skipped")


@FUZZ
@given(data=st.data())
def test_fuzzed_resume(
    stubbed: Path, pristine: RunStore, monkeypatch: pytest.MonkeyPatch, data: st.DataObject
) -> None:
    """--resume on damaged files: refused untouched, or continued by appending only (after,
    at most, cutting off an incomplete last line)."""
    monkeypatch.setattr(Runner, "run", REAL_RUN)
    monkeypatch.setattr(Runner, "run_case", _fake_case)
    _, content = data.draw(damaged(pristine.csv.read_bytes()), label="damage")
    run = RunStore.for_csv(stubbed / "r" / pristine.csv.name)
    run.csv.parent.mkdir(exist_ok=True)
    run.csv.write_bytes(content)
    shutil.copy(pristine.meta, run.meta)
    code, err = call(["run", "--resume", str(run.csv), "-q"])
    assert_clean_outcome(code, err)
    after = run.csv.read_bytes()
    if code == 2:
        assert after == content
    else:
        assert after.startswith(content[: content.rfind(b"\n") + 1])
