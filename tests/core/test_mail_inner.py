"""The inner message (docs/protocol.md §Private messages, M1-M6): build, parse, admit."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psocial.core import limits
from p2psocial.core.encoding import encode
from p2psocial.core.errors import MailError, UsageError
from p2psocial.core.mail.inner import (
    MAIL_CONTEXT,
    InnerMessage,
    Kind,
    admit,
    conversation_id,
    make_inner,
    message_fields,
    parse_inner,
    signing_bytes,
)
from p2psocial.testing.builders import BASE_TS, identity_for

ALICE, BOB, CAROL, DAVE = (identity_for(n) for n in ("alice", "bob", "carol", "dave"))
A, B, C, D = (i.public_key for i in (ALICE, BOB, CAROL, DAVE))
MID = bytes(range(16))


def _text(to: list[bytes] | None = None, text: str = "hi", **kw: Any) -> InnerMessage:
    return make_inner(ALICE, account=A, to=to or [B], msg_id=MID, ts=BASE_TS, kind=Kind.TEXT,
                      text=text, **kw)


def _signed(fields: dict[str, Any], signer: Any = ALICE) -> bytes:
    return encode({**fields, "sig": signer.sign(signing_bytes(fields))})


def _fields(**changes: Any) -> dict[str, Any]:
    fields = message_fields(account=A, dev=A, to=[B], msg_id=MID, ts=BASE_TS, kind=Kind.TEXT,
                            text="hi")
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def test_a_message_round_trips_and_names_its_conversation() -> None:
    message = _text([C, B])
    again = parse_inner(message.raw)
    assert again == message
    assert message.to == tuple(sorted([B, C]))
    assert message.participants == tuple(sorted([A, B, C]))
    assert message.conversation == conversation_id([C, A, B]) != conversation_id([A, B])
    assert message.raw.startswith(b"\xa9")  # 9 fields, text keys


def test_the_signature_covers_the_context() -> None:
    fields = _fields()
    assert signing_bytes(fields) == MAIL_CONTEXT + encode(fields)
    without_context = encode({**fields, "sig": ALICE.sign(encode(fields))})
    with pytest.raises(MailError) as caught:
        parse_inner(without_context)
    assert caught.value.rule == "M5b"


@pytest.mark.parametrize(("changes", "why"), [
    ({"text": "   \n"}, "blank"),
    ({"text": "x" * (limits.MAX_POST_CHARS + 1)}, "too long"),
    ({"to": sorted([B, C], reverse=True)}, "unsorted"),
    ({"to": [B, B]}, "repeated"),
    ({"to": sorted([A, B])}, "from in to"),
    ({"to": []}, "nobody"),
    ({"to": [bytes([n]) * 32 for n in range(17)]}, "17 others"),
    ({"kind": "edit"}, "edit without target"),
    ({"kind": "accept"}, "accept with text"),
    ({"kind": "delete", "target": MID}, "delete with text"),
    ({"reply": b"x" * 15}, "short reply"),
    ({"v": 2}, "version"),
    ({"v": True}, "version true"),
    ({"ts": limits.MAX_TIMESTAMP_MS + 1}, "ts"),
    ({"id": b"x" * 17}, "id"),
    ({"dev": None}, "dev missing"),
    ({"kind": "poll"}, "kind"),
])
def test_m5a_form(changes: dict[str, Any], why: str) -> None:
    with pytest.raises(MailError) as caught:
        parse_inner(_signed(_fields(**changes)))
    assert caught.value.rule == "M5a", why


def test_unknown_keys_are_ignored_and_null_is_absent() -> None:
    with_extras = {**_fields(), "zz": [1, 2], "reply": None}
    message = parse_inner(_signed(with_extras))
    assert (message.text, message.reply) == ("hi", None)
    # the signature covers the map as written, the null and the unknown key included
    forged = encode({**with_extras, "sig": ALICE.sign(signing_bytes(_fields()))})
    with pytest.raises(MailError) as caught:
        parse_inner(forged)
    assert caught.value.rule == "M5b"


def test_non_canonical_and_oversized_bytes_are_m5a() -> None:
    raw = _text().raw
    for bad in (raw + b"\x00", b"\xbf" + raw[1:] + b"\xff", bytes(limits.MAX_INNER_BYTES + 1),
                encode([1, 2]), encode({1: 2})):
        with pytest.raises(MailError) as caught:
            parse_inner(bad)
        assert caught.value.rule == "M5a"


def test_writers_get_a_usage_error_for_what_readers_reject() -> None:
    for bad in ({"text": " "}, {"text": "x" * 3001}, {"to": [A]}):
        with pytest.raises(UsageError):
            make_inner(ALICE, **{"account": A, "to": [B], "msg_id": MID, "ts": 1,
                                 "kind": Kind.TEXT, "text": "hi", **bad})


def test_admit_m5c_a_message_rewrapped_to_a_third_party() -> None:
    message = _text([B])
    assert admit(message, reader_account=B, devices=None, waiting_since_ms=0, now_ms=0)
    assert admit(message, reader_account=A, devices=None, waiting_since_ms=0, now_ms=0)
    with pytest.raises(MailError) as caught:
        admit(message, reader_account=D, devices=None, waiting_since_ms=0, now_ms=0)
    assert caught.value.rule == "M5c"


def test_admit_m5d_devices_of_the_writer() -> None:
    by_bob = make_inner(BOB, account=A, to=[C], msg_id=MID, ts=1, kind=Kind.TEXT, text="hi")
    # bob signs for alice's account: without alice's ops it waits, up to 7 days, then fails
    assert not admit(by_bob, reader_account=C, devices=None, waiting_since_ms=0, now_ms=0)
    assert not admit(by_bob, reader_account=C, devices=None, waiting_since_ms=0,
                     now_ms=limits.MAIL_WAIT_OPS_MS)
    with pytest.raises(MailError) as caught:
        admit(by_bob, reader_account=C, devices=None, waiting_since_ms=0,
              now_ms=limits.MAIL_WAIT_OPS_MS + 1)
    assert caught.value.rule == "M5d"
    assert admit(by_bob, reader_account=C, devices={A, B}, waiting_since_ms=0, now_ms=0)
    with pytest.raises(MailError) as caught:  # bob revoked: not a current device
        admit(by_bob, reader_account=C, devices={A}, waiting_since_ms=0, now_ms=0)
    assert caught.value.rule == "M5d"


def test_admit_m5e_an_accept_only_from_my_own_account() -> None:
    accept = make_inner(BOB, account=B, to=[A], msg_id=MID, ts=1, kind=Kind.ACCEPT)
    assert admit(accept, reader_account=B, devices=None, waiting_since_ms=0, now_ms=0)
    with pytest.raises(MailError) as caught:
        admit(accept, reader_account=A, devices=None, waiting_since_ms=0, now_ms=0)
    assert caught.value.rule == "M5e"


def test_conversation_id_is_blake2b_personalised_over_sorted_ids() -> None:
    import nacl.bindings
    import nacl.hash
    expected = nacl.hash.blake2b(b"".join(sorted([A, B])), digest_size=32,
                                 person=b"p2ps/mail/conv/1", encoder=nacl.encoding.RawEncoder)
    assert conversation_id([B, A]) == expected == conversation_id([A, B, A])


@given(st.binary(max_size=400))
def test_any_bytes_parse_or_raise_mail_error(data: bytes) -> None:
    with contextlib.suppress(MailError):
        parse_inner(data)


@given(st.dictionaries(st.sampled_from(["v", "from", "dev", "to", "id", "ts", "kind", "text",
                                        "target", "reply", "sig", "x"]),
                       st.one_of(st.integers(-2, 2**64), st.binary(max_size=70), st.text(),
                                 st.none(), st.booleans(), st.lists(st.binary(max_size=33)))))
def test_any_map_parses_or_raises_mail_error(fields: dict[str, Any]) -> None:
    with contextlib.suppress(MailError):
        parse_inner(_signed({**_fields(), **fields}))
