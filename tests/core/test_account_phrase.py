"""The recovery phrase: 24 BIP-39 words, typo detection, and the recovery key derivation."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest
from mnemonic import Mnemonic

from p2psocial.core.account.phrase import (
    PHRASE_WORDS,
    RECOVERY_PERSON,
    new_phrase,
    normalize_phrase,
    recovery_identity,
)
from p2psocial.core.errors import RecoveryPhraseError
from p2psocial.core.identity import Identity

# BIP-39's all-zero 256-bit entropy: "abandon" x23 then "art" (its checksum word).
ZERO_PHRASE = " ".join(["abandon"] * 23 + ["art"])


def _expected_key(phrase: str) -> bytes:
    """The spec's derivation, written out independently of the module."""
    bip39_seed = hashlib.pbkdf2_hmac("sha512", unicodedata.normalize("NFKD", phrase).encode(),
                                     b"mnemonic", 2048)
    seed = hashlib.blake2b(bip39_seed, digest_size=32, person=b"p2ps/recovery/v1").digest()
    return Identity(seed).public_key


def test_a_new_phrase_is_24_valid_words_and_differs_each_time() -> None:
    phrase = new_phrase()
    assert len(phrase.split(" ")) == PHRASE_WORDS
    assert Mnemonic("english").check(phrase)
    assert new_phrase() != phrase


def test_the_recovery_key_follows_the_spec_derivation() -> None:
    assert RECOVERY_PERSON == b"p2ps/recovery/v1"
    assert recovery_identity(ZERO_PHRASE).public_key == _expected_key(ZERO_PHRASE)
    phrase = new_phrase()
    assert recovery_identity(phrase).public_key == _expected_key(phrase)


def test_case_and_whitespace_do_not_matter() -> None:
    messy = "  " + ZERO_PHRASE.upper().replace(" ", " \n\t ", 5) + "\n"
    assert normalize_phrase(messy) == ZERO_PHRASE
    assert recovery_identity(messy).public_key == recovery_identity(ZERO_PHRASE).public_key


def test_a_misspelt_word_is_named_by_position() -> None:
    words = ZERO_PHRASE.split()
    words[6] = "abandn"
    with pytest.raises(RecoveryPhraseError) as caught:
        recovery_identity(" ".join(words))
    assert str(caught.value) == ("word 7 of the recovery phrase, 'abandn', is not a BIP-39 "
                                 "word: check its spelling")


def test_a_valid_word_in_the_wrong_place_fails_the_checksum() -> None:
    words = new_phrase().split()
    words[3], words[4] = words[4], words[3]
    if Mnemonic("english").check(" ".join(words)):  # 1 in 256: swap two others
        words[3], words[4], words[0], words[1] = words[4], words[3], words[1], words[0]
    with pytest.raises(RecoveryPhraseError, match="checksum does not match: a word is wrong "
                       "or out of order"):
        recovery_identity(" ".join(words))


def test_a_wrong_last_word_fails_the_checksum() -> None:
    with pytest.raises(RecoveryPhraseError, match="checksum"):
        recovery_identity(" ".join(["abandon"] * 24))


@pytest.mark.parametrize("count", [0, 12, 23, 25])
def test_a_phrase_of_another_length_is_refused(count: int) -> None:
    with pytest.raises(RecoveryPhraseError, match=r"24 words|empty"):
        recovery_identity(" ".join(["abandon"] * count))


def test_the_checksum_error_never_holds_the_phrase() -> None:
    with pytest.raises(RecoveryPhraseError) as caught:
        recovery_identity(" ".join(["zoo"] * 24))
    assert "zoo" not in str(caught.value)
