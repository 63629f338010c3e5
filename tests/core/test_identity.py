"""Identities and handles: the handle is the libp2p PeerID of the signing key."""

from __future__ import annotations

import base58
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from libp2p.crypto.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from libp2p.peer.id import ID

from p2psocial.core.errors import HandleError, UsageError
from p2psocial.core.identity import (
    Identity,
    handle_of,
    parse_handle,
    short_handle,
    verify_signature,
)
from p2psocial.testing import identity_for

seeds = st.binary(min_size=32, max_size=32)
ALICE = identity_for("alice")
ZERO_SEED_HANDLE = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"


def libp2p_peer_id(seed: bytes) -> str:
    private = Ed25519PrivateKey(nacl.signing.SigningKey(seed))
    return str(ID.from_pubkey(private.get_public_key()).to_base58())


# --- handles -------------------------------------------------------------------------------


@given(seeds)
@settings(max_examples=60)
def test_handle_is_the_libp2p_peer_id(seed: bytes) -> None:
    identity = Identity(seed)
    assert identity.handle == handle_of(identity.public_key) == libp2p_peer_id(seed)
    assert len(identity.handle) == 52 and identity.handle.startswith("12D3KooW")


def test_handle_of_the_zero_seed_is_a_fixed_vector() -> None:
    assert Identity(bytes(32)).handle == ZERO_SEED_HANDLE == libp2p_peer_id(bytes(32))


@given(seeds)
@settings(max_examples=60)
def test_parse_handle_inverts_handle_of_in_every_accepted_spelling(seed: bytes) -> None:
    key = Identity(seed).public_key
    handle = handle_of(key)
    for text in (handle, "@" + handle, f"  {handle}\n", key.hex(), key.hex().upper(),
                 "@" + key.hex(), f"\t{key.hex()} "):
        assert parse_handle(text) == key


@pytest.mark.parametrize("text", [
    "", "   ", "@", "@@" + ZERO_SEED_HANDLE, "hello", "0" * 63, "0" * 65,
    ZERO_SEED_HANDLE[:-1], ZERO_SEED_HANDLE + "1",
    ZERO_SEED_HANDLE[:10] + "0" + ZERO_SEED_HANDLE[11:],  # 0 is not a base58 digit
    ZERO_SEED_HANDLE.replace("K", "l"), "12D3KooW", "café", "\u0000" * 52,
    "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",  # a sha256 (RSA-style) PeerID
])
def test_parse_handle_rejects_junk(text: str) -> None:
    with pytest.raises(HandleError):
        parse_handle(text)


def test_parse_handle_rejects_a_base58_string_with_the_wrong_key_type() -> None:
    key = ALICE.public_key
    wrong_type = bytes([0x00, 0x24, 0x08, 0x02, 0x12, 0x20]) + key  # KeyType 2 = secp256k1
    with pytest.raises(HandleError):
        parse_handle(base58.b58encode(wrong_type).decode())
    with pytest.raises(HandleError):
        parse_handle(base58.b58encode(key).decode())  # bare key, no multihash prefix


@given(st.text(max_size=80))
@settings(max_examples=300)
def test_parse_handle_of_any_text_returns_a_key_or_raises_handle_error(text: str) -> None:
    try:
        key = parse_handle(text)
    except HandleError:
        return
    assert len(key) == 32


def test_handle_errors_are_usage_errors() -> None:
    assert issubclass(HandleError, UsageError)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_handle_of_rejects_keys_of_the_wrong_size(size: int) -> None:
    with pytest.raises(HandleError):
        handle_of(b"\x01" * size)


def test_short_handle_is_the_tail_of_the_handle() -> None:
    assert short_handle(ALICE.public_key) == "…" + ALICE.handle[-8:]


# --- identities ----------------------------------------------------------------------------


@given(seeds)
@settings(max_examples=50)
def test_repr_and_str_never_show_the_seed(seed: bytes) -> None:
    identity = Identity(seed)
    for shown in (repr(identity), str(identity), f"{identity}", repr([identity])):
        assert seed.hex() not in shown
        assert seed.hex().upper() not in shown
        assert repr(seed) not in shown
        assert identity.handle in shown


def test_identity_has_no_instance_dict_to_leak_through() -> None:
    with pytest.raises(TypeError):
        vars(ALICE)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_identity_rejects_seeds_of_the_wrong_size(size: int) -> None:
    with pytest.raises(HandleError):
        Identity(b"\x07" * size)


def test_identity_is_deterministic_from_its_seed() -> None:
    again = Identity(ALICE.seed)
    assert again.public_key == ALICE.public_key
    assert again.seed == ALICE.seed != identity_for("bob").seed
    assert bytes(ALICE.signing_key.verify_key) == ALICE.public_key


def test_generated_identities_differ() -> None:
    assert Identity.generate().public_key != Identity.generate().public_key


def test_signatures_verify_only_for_their_key_and_message() -> None:
    bob = identity_for("bob")
    signature = ALICE.sign(b"message")
    assert len(signature) == 64
    assert verify_signature(ALICE.public_key, b"message", signature)
    assert not verify_signature(bob.public_key, b"message", signature)
    assert not verify_signature(ALICE.public_key, b"messagE", signature)
    assert not verify_signature(ALICE.public_key, b"message", bytes(64))


@pytest.mark.parametrize(("key", "signature"), [
    (b"\x01" * 31, bytes(64)), (b"", bytes(64)), (bytes(32), b"\x01" * 63), (b"\xff" * 32, b""),
])
def test_verify_signature_of_malformed_input_is_false_not_an_exception(
        key: bytes, signature: bytes) -> None:
    assert verify_signature(key, b"message", signature) is False


def test_libp2p_accepts_our_signatures_under_the_host_key() -> None:
    signature = ALICE.sign(b"same key for entries and the host")
    public = Ed25519PublicKey.from_bytes(ALICE.public_key)
    assert public.verify(b"same key for entries and the host", signature)
