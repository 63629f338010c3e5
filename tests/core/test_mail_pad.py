"""Padding (docs/protocol.md §Private messages, M7)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psocial.core.errors import MailError, UsageError
from p2psocial.core.limits import MAX_INNER_BYTES
from p2psocial.core.mail.pad import BUCKETS, bucket_for, pad, unpad


@pytest.mark.parametrize(("size", "bucket"), [(0, 512), (10, 512), (510, 512), (511, 1024),
                                              (16_382, 16_384)])
def test_sizes_go_to_the_smallest_bucket(size: int, bucket: int) -> None:
    inner = bytes([7]) * size
    padded = pad(inner)
    assert len(padded) == bucket == bucket_for(size)
    assert padded[:2] == size.to_bytes(2, "big")
    assert unpad(padded) == inner


def test_too_long_is_refused() -> None:
    with pytest.raises(UsageError):
        pad(bytes(MAX_INNER_BYTES + 1))


@pytest.mark.parametrize("bad", [
    bytes(256),  # not a bucket
    (600).to_bytes(2, "big") + bytes(510),  # length field past the end
    (10).to_bytes(2, "big") + bytes(1022),  # a 1024 bucket for what fits 512
    (10).to_bytes(2, "big") + bytes(10) + b"\x01" + bytes(499),  # a pad byte not zero
])
def test_bad_padding_is_m7(bad: bytes) -> None:
    with pytest.raises(MailError) as caught:
        unpad(bad)
    assert caught.value.rule == "M7"


@given(st.binary(max_size=600))
def test_pad_round_trips_and_any_bytes_unpad_or_raise(data: bytes) -> None:
    assert unpad(pad(data)) == data
    assert len(pad(data)) in BUCKETS
    with contextlib.suppress(MailError):
        unpad(data)
