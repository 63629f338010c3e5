"""The proof-of-work stamp (docs/protocol.md §Private messages, M25)."""

from __future__ import annotations

import hashlib

import pytest

from p2psocial.core.errors import UsageError
from p2psocial.core.mail.stamp import DAY_MS, make_stamp, stamp_hash, stamp_is_good, zero_bits

WRAP_HASH = hashlib.blake2b(b"a wrap", digest_size=32).digest()
DAY = 19_675


def test_a_stamp_is_the_first_n_that_meets_the_bits() -> None:
    n = make_stamp(WRAP_HASH, DAY, 8)
    assert zero_bits(stamp_hash(WRAP_HASH, DAY, n)) >= 8
    first = int.from_bytes(n, "big")
    assert all(zero_bits(stamp_hash(WRAP_HASH, DAY, k.to_bytes(8, "big"))) < 8
               for k in range(first))
    expected = hashlib.blake2b(WRAP_HASH + DAY.to_bytes(4, "big") + n, digest_size=32,
                               person=b"p2ps/mail/pow/1").digest()
    assert stamp_hash(WRAP_HASH, DAY, n) == expected


def test_a_stamp_is_good_today_and_yesterday_only() -> None:
    n = make_stamp(WRAP_HASH, DAY, 8)
    today = DAY * DAY_MS + 5
    assert stamp_is_good(WRAP_HASH, DAY, n, bits=8, now_ms=today)
    assert stamp_is_good(WRAP_HASH, DAY, n, bits=8, now_ms=today + DAY_MS)
    assert not stamp_is_good(WRAP_HASH, DAY, n, bits=8, now_ms=today + 2 * DAY_MS)
    assert not stamp_is_good(WRAP_HASH, DAY, n, bits=8, now_ms=today - DAY_MS)


def test_a_stamp_for_another_wrap_or_more_bits_is_not_good() -> None:
    n = make_stamp(WRAP_HASH, DAY, 8)
    bits = zero_bits(stamp_hash(WRAP_HASH, DAY, n))
    today = DAY * DAY_MS
    assert not stamp_is_good(WRAP_HASH, DAY, n, bits=bits + 1, now_ms=today)
    assert not stamp_is_good(WRAP_HASH, DAY, n[:7], bits=0, now_ms=today)


def test_zero_bits() -> None:
    assert zero_bits(bytes(32)) == 256
    assert zero_bits(b"\x00\x01" + bytes(30)) == 15
    assert zero_bits(b"\x80" + bytes(31)) == 0


def test_more_than_28_bits_is_refused() -> None:
    with pytest.raises(UsageError):
        make_stamp(WRAP_HASH, DAY, 29)
