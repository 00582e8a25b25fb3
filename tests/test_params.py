from __future__ import annotations

import pytest

from ipcbench.errors import IpcbenchError
from ipcbench.harness.settings import build_settings
from ipcbench.harness.sweep import expand
from ipcbench.params import parse_size
from ipcbench.results.schema import human_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64", 64),
        (64, 64),
        ("4K", 4096),
        ("4KiB", 4096),
        ("4kb", 4096),
        ("1MiB", 1048576),
        ("16M", 16 * 1024**2),
        ("1.5K", 1536),
        (" 8 ", 8),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "0", "abc", "4X", "1e3", "2G"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(IpcbenchError):
        parse_size(text)


def test_human_size() -> None:
    assert [human_size(n) for n in (64, 4096, 1048576, 1000)] == [
        "64 B",
        "4 KiB",
        "1 MiB",
        "1000 B",
    ]


def _cases(**options: object) -> list:
    return expand(build_settings(options))


def test_maxsize_only_on_queue_types_and_not_duplicated() -> None:
    cases = _cases(transports="pipe,queue", patterns="stream", sizes="64", maxsize="0,16")
    assert sorted((c.transport, c.maxsize) for c in cases) == [
        ("pipe", None),
        ("queue", 0),
        ("queue", 16),
    ]


def test_object_payload_not_on_bytes_transports() -> None:
    cases = _cases(
        transports="pipe_bytes,pipe", patterns="pingpong", sizes="64", payload_kinds="bytes,object"
    )
    assert sorted((c.transport, c.payload_kind) for c in cases) == [
        ("pipe", "bytes"),
        ("pipe", "object"),
        ("pipe_bytes", "bytes"),
    ]


def test_floors_have_no_start_method_and_split_folds_into_same() -> None:
    cases = _cases(
        transports="memcpy",
        patterns="stream",
        sizes="64",
        start_methods="fork,spawn",
        placements="same,split",
    )
    assert [(c.start_method, c.placement) for c in cases] == [("", "same")]


def test_proxy_ops_expand_ops_and_patterns_filtered() -> None:
    cases = _cases(transports="manager_dict,manager_list,pipe", patterns="proxy_ops", sizes="64")
    assert sorted((c.transport, c.op) for c in cases) == [
        ("manager_dict", "get"),
        ("manager_dict", "set"),
        ("manager_list", "append"),
        ("manager_list", "get"),
    ]


def test_duplicate_values_do_not_duplicate_cases() -> None:
    cases = _cases(transports="pipe,pipe", patterns="stream", sizes="64,64,64B")
    assert len(cases) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"transports": "nope"}, "unknown transport 'nope'; valid: pipe, pipe_bytes"),
        ({"patterns": "zigzag"}, "unknown pattern 'zigzag'; valid: pingpong"),
        ({"sizes": "-5"}, "cannot parse size"),
        ({"transports": "pipe", "maxsize": "4"}, "--maxsize applies only to queue"),
        ({"repeats": "0"}, "--repeats must be at least 1"),
        ({"target_time": "fast"}, "--target-time: expected seconds"),
        ({"start_methods": "thread"}, "unknown start method 'thread'"),
        ({"sizes": "900M"}, "over a quarter of RAM"),
        ({"quick": True, "full": True}, "--quick and --full pick different grids"),
    ],
)
def test_bad_settings(options: dict, message: str) -> None:
    with pytest.raises(IpcbenchError, match=message.replace("(", r"\(")):
        build_settings(options)


def _grid(**options: object) -> dict[str, set]:
    cases = expand(build_settings(options))
    return {
        "sizes": {c.payload_bytes for c in cases if c.pattern == "pingpong"},
        "shapes": {(c.producers, c.consumers) for c in cases if c.pattern == "fan"},
        "loads": {c.offered_load for c in cases if c.pattern == "rate"},
        "cases": set(cases),
    }


def test_default_grid_is_a_subset_of_the_full_one() -> None:
    default, full = _grid(), _grid(full=True)
    assert sorted(default["sizes"]) == [8, 128, 2048, 32768, 524288, 8388608]
    assert default["sizes"] < full["sizes"] and len(full["sizes"]) == 12  # compare matches
    assert max(max(shape) for shape in default["shapes"]) == 4
    assert len(default["shapes"]) == 9 and len(full["shapes"]) == 16
    assert default["loads"] == {"10%", "50%", "90%", "110%"} and len(full["loads"]) == 7
    # every transport x pattern of the full grid is in the default one
    pairs = {(c.transport, c.pattern) for c in full["cases"]}
    assert {(c.transport, c.pattern) for c in default["cases"]} == pairs
    assert len(default["cases"]) < len(full["cases"]) / 1.5


def test_flags_override_the_full_grid() -> None:
    grid = _grid(full=True, sizes="64", producers="2", consumers="3", rates="20%")
    assert grid["sizes"] == {64} and grid["shapes"] == {(2, 3)} and grid["loads"] == {"20%"}
