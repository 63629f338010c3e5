"""The recovery phrase: 24 BIP-39 English words, and the recovery key they derive
(docs/protocol.md §Recovery phrase).

Rules:
- `new_phrase` draws 256 random bits: 24 words, the last carrying an 8-bit checksum.
- `recovery_identity` reads a phrase as a person types it: case and runs of whitespace do not
  matter. It checks every word against the list and then the checksum before deriving
  anything, and says in one line what is wrong (which word is not a BIP-39 word, how many words
  there are, or that the checksum does not match).
- The recovery key's seed is BLAKE2b-256(bip39_seed, person="p2ps/recovery/v1"), where
  bip39_seed is BIP-39's PBKDF2-HMAC-SHA512 of the phrase (NFKD) with salt "mnemonic" and
  2,048 rounds, no BIP-39 passphrase.
- Neither the phrase nor the seed is kept, logged or shown in an error.
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata

from mnemonic import Mnemonic

from p2psocial.core.errors import RecoveryPhraseError
from p2psocial.core.identity import Identity

PHRASE_WORDS = 24
PHRASE_BITS = 256
RECOVERY_PERSON = b"p2ps/recovery/v1"


@functools.lru_cache(maxsize=1)
def _bip39() -> Mnemonic:
    return Mnemonic("english")


def new_phrase() -> str:
    """A fresh recovery phrase: 24 words separated by single spaces."""
    return _bip39().generate(strength=PHRASE_BITS)


def normalize_phrase(phrase: str) -> str:
    """The phrase as BIP-39 reads it: NFKD, lower case, single spaces, no edges.

    Raises:
        RecoveryPhraseError: a word is not in the BIP-39 list, there are not 24 words, or the
            checksum does not match.
    """
    words = unicodedata.normalize("NFKD", phrase).lower().split()
    if not words:
        raise RecoveryPhraseError("the recovery phrase is empty")
    known = _wordset()
    for position, word in enumerate(words, start=1):
        if word not in known:
            raise RecoveryPhraseError(f"word {position} of the recovery phrase, {word!r}, "
                                      "is not a BIP-39 word: check its spelling")
    if len(words) != PHRASE_WORDS:
        raise RecoveryPhraseError(f"a recovery phrase has {PHRASE_WORDS} words, this one has "
                                  f"{len(words)}")
    text = " ".join(words)
    if not _bip39().check(text):
        raise RecoveryPhraseError("the recovery phrase's checksum does not match: a word is "
                                  "wrong or out of order")
    return text


def recovery_identity(phrase: str) -> Identity:
    """The recovery key derived from `phrase` (see `normalize_phrase` for what is checked)."""
    text = normalize_phrase(phrase)
    bip39_seed = Mnemonic.to_seed(text, passphrase="")
    return Identity(hashlib.blake2b(bip39_seed, digest_size=32,
                                    person=RECOVERY_PERSON).digest())


@functools.lru_cache(maxsize=1)
def _wordset() -> frozenset[str]:
    return frozenset(_bip39().wordlist)
