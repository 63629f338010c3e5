"""The key file's integers are read by type: JSON `true`, `2.9` or `"2"` is not an integer
(Python's `True == 1` and `int(2.9) == 2` would otherwise let a malformed file pass)."""

from __future__ import annotations

from typing import Any

import pytest

from p2psocial.core.errors import KeyfileError
from p2psocial.core.identity import Identity
from p2psocial.store.keyfile import seal, unseal

SEED = bytes(range(32))


def _sealed(passphrase: str) -> dict[str, Any]:
    return seal(Identity(SEED), passphrase)


def test_a_well_formed_file_opens() -> None:
    assert unseal(_sealed(""), None).seed == SEED
    assert unseal(_sealed("pw"), "pw").seed == SEED


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_a_version_that_only_equals_one_is_refused(version: object) -> None:
    doc = _sealed("")
    doc["version"] = version
    with pytest.raises(KeyfileError, match="not a p2psocial key file"):
        unseal(doc, None)


@pytest.mark.parametrize("field", ["opslimit", "memlimit"])
@pytest.mark.parametrize("bad", [True, 2.9, "2"])
def test_argon2_parameters_must_be_integers(field: str, bad: object) -> None:
    doc = _sealed("pw")
    doc[field] = bad
    with pytest.raises(KeyfileError, match="corrupt"):
        unseal(doc, "pw")
