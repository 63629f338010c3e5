"""Sealing and opening wraps (docs/protocol.md §Private messages, M8-M10; claims D3-D5)."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psocial.core.encoding import encode
from p2psocial.core.errors import MailError, UsageError
from p2psocial.core.limits import MAX_WRAP_BYTES
from p2psocial.core.mail.inner import Kind, make_inner, parse_inner
from p2psocial.core.mail.pad import pad
from p2psocial.core.mail.wrap import Wrap, open_wrap, parse_wrap, seal
from p2psocial.testing.builders import BASE_TS, identity_for

ALICE, BOB, CAROL, DAVE, ERIN = (identity_for(n) for n in
                                 ("alice", "bob", "carol", "dave", "erin"))
A, B = ALICE.public_key, BOB.public_key


def _message(text: str = "Meet at 10?") -> bytes:
    return make_inner(ALICE, account=A, to=[B], msg_id=bytes(16), ts=BASE_TS,
                      kind=Kind.TEXT, text=text).raw


def test_every_device_reads_and_others_find_no_slot() -> None:
    inner = _message()
    wrap = seal(inner, mailbox=B, devices=[B, CAROL.public_key, DAVE.public_key])
    assert wrap.to == B and len(wrap.slots) == 4
    for device in (BOB, CAROL, DAVE):
        assert open_wrap(wrap, device) == inner
    for outsider in (ALICE, ERIN):  # D5
        assert open_wrap(wrap, outsider) is None
    assert parse_inner(inner).text == "Meet at 10?"


@pytest.mark.parametrize(("devices", "slots"), [(1, 4), (4, 4), (5, 8), (9, 16), (16, 16)])
def test_slot_counts(devices: int, slots: int) -> None:
    keys = [identity_for(f"device-{n}").public_key for n in range(devices)]
    wrap = seal(_message(), mailbox=B, devices=keys)
    assert len(wrap.slots) == slots
    assert list(wrap.slots) == sorted(wrap.slots)


def test_of_more_than_16_devices_the_16_added_last() -> None:
    people = [identity_for(f"device-{n}") for n in range(18)]
    wrap = seal(_message(), mailbox=B, devices=[p.public_key for p in people])
    assert [open_wrap(wrap, p) is not None for p in people] == [False] * 2 + [True] * 16


def test_d3_two_wraps_of_one_message_share_no_16_byte_run() -> None:
    inner = _message()  # one wrap per participant account (M17), the same text in each
    wraps = [seal(inner, mailbox=k, devices=[k]).raw for k in (A, B, CAROL.public_key)]
    for one, other in itertools.combinations(wraps, 2):
        runs = {one[i:i + 16] for i in range(len(one) - 15)}
        shared = [i for i in range(len(other) - 15) if other[i:i + 16] in runs]
        assert not shared


def test_d4_length_depends_only_on_bucket_and_slots() -> None:
    short = seal(_message("x"), mailbox=B, devices=[B])
    long = seal(_message("y" * 200), mailbox=B, devices=[B])
    assert len(short.raw) == len(long.raw)


def test_a_device_key_that_is_no_curve_point_gets_no_slot() -> None:
    with pytest.raises(UsageError):
        seal(_message(), mailbox=B, devices=[bytes(32)])
    wrap = seal(_message(), mailbox=B, devices=[bytes(32), B])
    assert open_wrap(wrap, BOB) is not None


def _fields(wrap: Wrap) -> dict[int, Any]:
    return dict(cbor2.loads(wrap.raw))


def _m10(fields: dict[Any, Any] | bytes) -> None:
    raw = fields if isinstance(fields, bytes) else encode(fields)
    with pytest.raises(MailError) as caught:
        parse_wrap(raw)
    assert caught.value.rule == "M10"


def test_m10_structure() -> None:
    wrap = seal(_message(), mailbox=B, devices=[B])
    f = _fields(wrap)
    _m10({**f, 3: f[3][:3]})
    _m10({**f, 3: [f[3][0][:55], *f[3][1:]]})
    _m10({**f, 3: list(reversed(f[3]))})
    _m10({**f, 5: f[5][:300]})
    _m10({**f, 6: 0})
    _m10({**f, 0: 2})
    _m10({k: v for k, v in f.items() if k != 4})
    _m10(wrap.raw + b"\x00")
    _m10(bytes(MAX_WRAP_BYTES + 1))
    same_id = [f[3][0], f[3][0][:8] + b"\xff" * 48, *f[3][2:]]
    _m10({**f, 3: sorted(same_id)})


def test_the_largest_wrap_is_max_wrap_bytes() -> None:
    keys = [identity_for(f"device-{n}").public_key for n in range(16)]
    wrap = seal(bytes(16_382), mailbox=B, devices=keys)
    assert len(wrap.raw) == MAX_WRAP_BYTES


def test_m9_small_order_epk_and_tampered_box() -> None:
    wrap = seal(_message(), mailbox=B, devices=[B])
    f = _fields(wrap)
    with pytest.raises(MailError) as caught:
        open_wrap(parse_wrap(encode({**f, 2: bytes(32)})), BOB)
    assert caught.value.rule == "M9"
    box = bytearray(f[5])
    box[-1] ^= 1
    with pytest.raises(MailError) as caught:
        open_wrap(parse_wrap(encode({**f, 5: bytes(box)})), BOB)
    assert caught.value.rule == "M9"


def test_m7_bad_padding_inside_a_good_box() -> None:
    counter = itertools.count()

    def fixed(label: str, size: int) -> bytes:
        return bytes([len(label), next(counter)]) * (size // 2)
    padded = bytearray(pad(_message()))
    padded[-1] = 1
    import nacl.bindings
    wrap = seal(_message(), mailbox=B, devices=[B], draw=fixed)
    f = _fields(wrap)
    key = bytes([3, 0]) * 16  # the first draw: "key"
    box = nacl.bindings.crypto_secretbox_easy(bytes(padded), f[4], key)
    with pytest.raises(MailError) as caught:
        open_wrap(parse_wrap(encode({**f, 5: box})), BOB)
    assert caught.value.rule == "M7"


@settings(max_examples=200)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_raise_mail_error(data: bytes) -> None:
    with contextlib.suppress(MailError):
        parse_wrap(data)


@settings(max_examples=50)
@given(st.integers(0, 5), st.binary(min_size=1, max_size=60))
def test_a_mutated_wrap_parses_or_raises_and_opens_or_raises(key: int, value: bytes) -> None:
    f = _fields(seal(_message(), mailbox=B, devices=[B]))
    try:
        wrap = parse_wrap(encode({**f, key: value}))
    except MailError:
        return
    with contextlib.suppress(MailError):
        open_wrap(wrap, BOB)


def test_a_random_source_that_repeats_itself_is_refused() -> None:
    with pytest.raises(UsageError):
        seal(_message(), mailbox=B, devices=[B], draw=lambda label, size: bytes(size))
