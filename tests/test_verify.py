from __future__ import annotations

import pytest

from ipcbench.errors import DeliveryError
from ipcbench.verify import (
    FanReceiver,
    Verifier,
    fan_seq,
    make_payload,
    new_frame,
    stamp,
    window_crc,
)


@pytest.mark.parametrize("size", [8, 100, 192, 193, 4096, 1 << 20])
def test_good_frames_pass(size: int) -> None:
    payload, check = make_payload("bytes", size)
    verifier = Verifier(check)
    frame = new_frame(payload)
    for seq in range(3):
        verifier.frame(bytes(stamp(frame, seq)))
    assert verifier.expected == 3


def _frames(size: int = 4096) -> tuple[Verifier, list[bytes]]:
    payload, check = make_payload("bytes", size)
    frame = new_frame(payload)
    return Verifier(check), [bytes(stamp(frame, s)) for s in range(4)]


def test_loss_caught() -> None:
    verifier, frames = _frames()
    verifier.frame(frames[0])
    with pytest.raises(DeliveryError, match="lost"):
        verifier.frame(frames[2])


def test_duplicate_caught() -> None:
    verifier, frames = _frames()
    verifier.frame(frames[0])
    with pytest.raises(DeliveryError, match="duplicated"):
        verifier.frame(frames[0])


def test_truncation_caught() -> None:
    verifier, frames = _frames()
    with pytest.raises(DeliveryError, match="truncated"):
        verifier.frame(frames[0][:-1])


@pytest.mark.parametrize("offset", [8, 2048 + 8, 4096 + 7])
def test_corruption_in_a_window_caught(offset: int) -> None:
    verifier, frames = _frames()
    damaged = bytearray(frames[0])
    damaged[offset] ^= 0xFF
    with pytest.raises(DeliveryError, match="corrupted"):
        verifier.frame(damaged)


def test_object_messages() -> None:
    payload, check = make_payload("object", 4096)
    verifier = Verifier(check)
    verifier.message((0, payload))
    with pytest.raises(DeliveryError, match="truncated"):
        verifier.message((1, payload[:-1]))
    verifier = Verifier(check)
    with pytest.raises(DeliveryError, match="corrupted"):
        verifier.message((0, [(-1, 0.0, "x"), *payload[1:]]))
    with pytest.raises(DeliveryError, match="malformed"):
        Verifier(check).message(payload)


def test_bytes_payload_over_object_wire() -> None:
    payload, check = make_payload("bytes", 1000)
    verifier = Verifier(check)
    verifier.message((0, payload))
    with pytest.raises(DeliveryError, match="corrupted"):
        verifier.message((1, bytes([payload[0] ^ 1]) + payload[1:]))


def test_object_payload_pickles_to_about_the_size() -> None:
    import pickle

    for size in (4096, 1 << 20):
        payload, _ = make_payload("object", size)
        assert 0.8 * size < len(pickle.dumps(payload, protocol=5)) < 1.2 * size


def test_window_crc_sees_head_middle_tail_only_for_large() -> None:
    data = bytearray(10_000)
    base = window_crc(data)
    data[1000] = 1  # outside the three windows
    assert window_crc(data) == base
    data[5000] = 1  # in the middle window
    assert window_crc(data) != base


def test_fan_message_from_an_earlier_batch_is_a_duplicate() -> None:
    """A pipe pair's consumer stops at its expected count; a duplicate it did not read shows up
    in the next batch, numbered before that batch's first message."""
    payload, check = make_payload("bytes", 64)
    receiver = FanReceiver(check, "object", producers=2, n_per=4, first=5)
    receiver.accept((fan_seq(1, 5), payload))
    with pytest.raises(DeliveryError, match="producer 0 message 3: duplicated"):
        receiver.accept((fan_seq(0, 3), payload))
