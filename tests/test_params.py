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
    ],
)
def test_bad_settings(options: dict, message: str) -> None:
    with pytest.raises(IpcbenchError, match=message.replace("(", r"\(")):
        build_settings(options)
