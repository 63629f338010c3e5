"""Private messages: only the named readers (and the author) can open them; anything else,
including a tampered or hand-crafted message, opens to None and never raises."""

from __future__ import annotations

import dataclasses
from typing import Any

import cbor2
import nacl.public
import nacl.secret
import nacl.signing
import nacl.utils
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psocial.core import limits
from p2psocial.core.content import PrivateMessage, content_payload, parse_content
from p2psocial.core.dm import OpenedMessage, open_message, seal_message
from p2psocial.core.encoding import encode
from p2psocial.core.entry import create_content_entry, decode_entry
from p2psocial.core.errors import UsageError
from p2psocial.core.identity import Identity
from p2psocial.testing import identity_for

ALICE, BOB, CAROL, DAVE = (identity_for(n) for n in ("alice", "bob", "carol", "dave"))
MESSAGE = seal_message(ALICE, [BOB.public_key, CAROL.public_key], "meet at noon")


def readers_of(message: PrivateMessage) -> set[bytes]:
    """Which of our test identities can open `message` (by trying each)."""
    return {i.public_key for i in (ALICE, BOB, CAROL, DAVE) if open_message(i, message)}


def craft(readers: list[Identity], plaintext: bytes) -> PrivateMessage:
    """A message sealed correctly for `readers` around any plaintext (a malicious author)."""
    key = nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(key).encrypt(plaintext, nonce).ciphertext
    sealed = tuple(
        bytes(nacl.public.SealedBox(r.signing_key.verify_key.to_curve25519_public_key())
              .encrypt(key))
        for r in readers)
    return PrivateMessage(keys=sealed, nonce=nonce, box=bytes(box))


def flip(data: bytes, position: int, xor: int) -> bytes:
    out = bytearray(data)
    out[position] ^= xor
    return bytes(out)


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("reader", [ALICE, BOB, CAROL], ids=["author", "bob", "carol"])
def test_every_reader_and_the_author_can_open(reader: Identity) -> None:
    opened = open_message(reader, MESSAGE)
    assert opened == OpenedMessage(text="meet at noon", readers=opened.readers if opened else ())
    assert opened is not None
    assert set(opened.readers) == {ALICE.public_key, BOB.public_key, CAROL.public_key}


def test_a_non_reader_gets_none() -> None:
    assert open_message(DAVE, MESSAGE) is None
    assert open_message(Identity.generate(), MESSAGE) is None


@given(st.text(max_size=limits.MAX_POST_CHARS),
       st.lists(st.sampled_from([BOB, CAROL, DAVE]), min_size=1, max_size=3))
@settings(max_examples=25)
def test_seal_open_round_trip(text: str, readers: list[Identity]) -> None:
    message = seal_message(ALICE, [r.public_key for r in readers], text)
    expected = {ALICE.public_key} | {r.public_key for r in readers}
    assert len(message.keys) == len(expected)
    assert readers_of(message) == expected
    for reader in (ALICE, *readers):
        opened = open_message(reader, message)
        assert opened is not None and opened.text == text
        assert set(opened.readers) == expected


def test_a_sealed_message_survives_the_entry_path() -> None:
    payload = content_payload(MESSAGE)
    assert parse_content("dm", payload) == MESSAGE
    entry = create_content_entry(ALICE, seq=1, prev=None, timestamp=1, content=MESSAGE)
    content = decode_entry(entry.header, entry.payload).content
    assert isinstance(content, PrivateMessage)
    opened = open_message(BOB, content)
    assert opened is not None and opened.text == "meet at noon"


def test_the_largest_message_to_the_most_readers_fits_one_entry() -> None:
    readers = [identity_for(f"reader {i}").public_key for i in range(limits.MAX_DM_RECIPIENTS)]
    message = seal_message(ALICE, readers, "😀" * limits.MAX_POST_CHARS)
    assert len(message.keys) == limits.MAX_DM_RECIPIENTS + 1
    entry = create_content_entry(ALICE, seq=1, prev=None, timestamp=1, content=message)
    assert decode_entry(entry.header, entry.payload).content == message


def test_each_seal_uses_a_fresh_key_and_nonce() -> None:
    again = seal_message(ALICE, [BOB.public_key, CAROL.public_key], "meet at noon")
    assert again.nonce != MESSAGE.nonce and again.box != MESSAGE.box
    assert not set(again.keys) & set(MESSAGE.keys)


def test_sealed_keys_are_shuffled() -> None:
    author_curve = nacl.public.SealedBox(ALICE.signing_key.to_curve25519_private_key())

    def author_slot(message: PrivateMessage) -> int:
        for index, sealed in enumerate(message.keys):
            try:
                author_curve.decrypt(sealed)
            except nacl.exceptions.CryptoError:
                continue
            return index
        raise AssertionError("the author cannot open their own message")

    slots = {author_slot(seal_message(ALICE, [BOB.public_key, CAROL.public_key], "x"))
             for _ in range(30)}
    assert len(slots) > 1  # the same slot 30 times in a row has chance 3 × 3^-30


def test_duplicate_readers_and_the_author_as_reader_are_sealed_once() -> None:
    message = seal_message(ALICE, [BOB.public_key, BOB.public_key, ALICE.public_key], "hi")
    assert len(message.keys) == 2
    opened = open_message(BOB, message)
    assert opened is not None and opened.readers == (BOB.public_key, ALICE.public_key)


# --- usage errors --------------------------------------------------------------------------


@pytest.mark.parametrize("readers", [[], [ALICE.public_key], [ALICE.public_key] * 3])
def test_a_message_needs_a_reader_besides_the_author(readers: list[bytes]) -> None:
    with pytest.raises(UsageError):
        seal_message(ALICE, readers, "hello")


def test_too_many_readers() -> None:
    readers = [identity_for(f"r{i}").public_key for i in range(limits.MAX_DM_RECIPIENTS + 1)]
    with pytest.raises(UsageError):
        seal_message(ALICE, readers, "hello")
    assert len(seal_message(ALICE, readers[:-1], "hello").keys) == limits.MAX_DM_RECIPIENTS + 1


def test_text_too_long() -> None:
    with pytest.raises(UsageError):
        seal_message(ALICE, [BOB.public_key], "x" * (limits.MAX_POST_CHARS + 1))


@pytest.mark.parametrize("key", [b"\x01" * 31, b"\x01" * 33, b""])
def test_a_reader_key_that_is_not_a_key(key: bytes) -> None:
    with pytest.raises(UsageError):
        seal_message(ALICE, [key], "hello")


# --- tampering: None, never an exception ---------------------------------------------------


@given(st.data())
@settings(max_examples=150)
def test_any_tampered_byte_opens_to_none(data: st.DataObject) -> None:
    part = data.draw(st.sampled_from(["box", "nonce", "key"]))
    xor = data.draw(st.integers(1, 255))
    if part == "key":
        # tamper with every sealed key at one position: no reader can find a key any more
        position = data.draw(st.integers(0, 79))
        message = dataclasses.replace(
            MESSAGE, keys=tuple(flip(k, position, xor) for k in MESSAGE.keys))
    else:
        value: bytes = getattr(MESSAGE, part)
        position = data.draw(st.integers(0, len(value) - 1))
        message = dataclasses.replace(MESSAGE, **{part: flip(value, position, xor)})
    for reader in (ALICE, BOB, CAROL, DAVE):
        assert open_message(reader, message) is None


@pytest.mark.parametrize("change", [
    {"box": b""}, {"box": b"\x00" * 15}, {"box": MESSAGE.box[:-1]}, {"box": MESSAGE.box + b"\0"},
    {"keys": ()}, {"keys": (b"",)}, {"keys": (b"\x00" * 80,) * 3},
], ids=["empty-box", "short-box", "truncated-box", "extended-box", "no-keys", "empty-key",
        "zero-keys"])
def test_malformed_messages_open_to_none(change: dict[str, Any]) -> None:
    message = dataclasses.replace(MESSAGE, **change)
    for reader in (ALICE, BOB):
        assert open_message(reader, message) is None


@pytest.mark.parametrize("nonce", [b"", b"\x00" * 23, b"\x00" * 25])
def test_a_nonce_of_the_wrong_size_opens_to_none(nonce: bytes) -> None:
    assert open_message(BOB, dataclasses.replace(MESSAGE, nonce=nonce)) is None


def test_one_reader_key_tampered_leaves_the_others_able_to_read() -> None:
    for index in range(len(MESSAGE.keys)):
        keys = list(MESSAGE.keys)
        keys[index] = flip(keys[index], 40, 0x01)
        message = dataclasses.replace(MESSAGE, keys=tuple(keys))
        assert len(readers_of(message)) == 2


@pytest.mark.parametrize("plaintext", [
    pytest.param(b"", id="empty"),
    pytest.param(b"\xff\xfe", id="not-cbor"),
    pytest.param(encode({"text": "hi", "to": []}) + b"\x00", id="trailing"),
    pytest.param(b"\xa1\x64text\x78\x02hi", id="non-canonical"),
    pytest.param(encode(["hi"]), id="not-a-map"),
    pytest.param(encode({"to": []}), id="no-text"),
    pytest.param(encode({"text": 5, "to": []}), id="text-not-text"),
    pytest.param(cbor2.dumps(cbor2.CBORTag(99, "x")), id="tagged"),
    pytest.param(cbor2.dumps({"text": "hi", "to": 1.5}), id="float-inside"),
])
def test_a_crafted_plaintext_opens_to_none(plaintext: bytes) -> None:
    assert open_message(BOB, craft([BOB], plaintext)) is None


def test_a_crafted_plaintext_with_odd_readers_keeps_only_keys() -> None:
    opened = open_message(BOB, craft([BOB], encode({"text": "hi", "to": [BOB.public_key, 5]})))
    assert opened == OpenedMessage(text="hi", readers=(BOB.public_key,))
    opened = open_message(BOB, craft([BOB], encode({"text": "hi"})))
    assert opened == OpenedMessage(text="hi", readers=())


@pytest.mark.parametrize("to", [5, None, True], ids=["int", "null", "bool"])
def test_a_crafted_plaintext_whose_readers_are_not_a_list_does_not_raise(to: Any) -> None:
    opened = open_message(BOB, craft([BOB], encode({"text": "hi", "to": to})))
    # protocol.md leaves this case open: unreadable (None) or readable with no reader list
    assert opened is None or opened == OpenedMessage(text="hi", readers=())
