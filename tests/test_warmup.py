"""The warm-up before a measured batch: a quarter of it, at most WARMUP_MAX_S long, and none
in a case's first (calibrating) run, whose calibration batches just warmed the processes."""

from __future__ import annotations

from typing import Any

import pytest

from ipcbench.harness import driver
from ipcbench.harness.settings import build_settings
from ipcbench.measure.patterns.base import Measurement
from ipcbench.params import Case

NS_PER_MESSAGE = 10_000  # the fake session: 10 us per message


class FakeSession:
    """Records the batch sizes it is asked to run; no channel, no children."""

    wire_bytes = 64

    def __init__(self) -> None:
        self.batches: list[int] = []

    def run(self, n: int) -> Measurement:
        self.batches.append(n)
        return Measurement(n_messages=n, elapsed_ns=n * NS_PER_MESSAGE)


class Report:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)


@pytest.mark.parametrize(
    "n, target_s, expected",
    [
        (10_000, 0.1, 200),  # 2 ms of a 100 ms batch (a quarter would be 25 ms)
        (10_000, 0.15, 134),  # 2 ms of a 150 ms batch, rounded up
        (100, 0.004, 25),  # a quarter of a 4 ms batch is 1 ms: under the cap
        (3, 0.1, 1),  # never none
        (100, 0.0, 1),  # no target time: the smallest warm-up
    ],
)
def test_warmup_is_a_quarter_at_most_the_cap(n: int, target_s: float, expected: int) -> None:
    assert driver.warmup_messages(n, target_s) == expected


def _measured(n_messages: int | None, warmups: int) -> list[int]:
    settings = build_settings({"warmups": warmups, "target_time": 0.1, "quiet": True})
    session = FakeSession()
    report = Report()
    rnd = driver.Round(repeat=0, n_messages=n_messages)
    driver._measure(session, Case("memcpy", "stream", 64), settings, report, rnd)  # type: ignore[arg-type]
    (row,) = report.sent
    assert row.fields["n_messages"] == session.batches[-1]
    return session.batches


def test_a_calibrating_run_has_no_warmup_after_calibration() -> None:
    batches = _measured(None, warmups=2)
    calibrated = batches[-1]
    assert calibrated == pytest.approx(0.1e9 / NS_PER_MESSAGE, rel=0.01)
    # calibration: one message, then x4 from 2 until >= 1/16 of the target; then the batch
    assert batches[:-1] == [1, 2, 8, 32, 128, 512, 2048] and calibrated not in batches[:-1]


def test_a_later_run_warms_up_then_measures() -> None:
    assert _measured(10_000, warmups=2) == [200, 200, 10_000]
    assert _measured(10_000, warmups=0) == [10_000]
