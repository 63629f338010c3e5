"""The passphrase may come through a pipe (P2PSOCIAL_PASSPHRASE_FILE=/dev/fd/N, as the demo
hands the new passphrase to the UI): it is read once (issue 9, item 10: the first run asked
three times)."""

from __future__ import annotations

import os

import pytest

from p2psocial.cli import passphrase
from p2psocial.store import keyfile
from p2psocial.testing import identity_for


def test_a_passphrase_given_through_a_pipe_unlocks_the_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    me = identity_for("pipe")
    doc = keyfile.seal(me, "a demo secret")
    read, write = os.pipe()
    os.write(write, b"a demo secret\n")
    os.close(write)
    try:
        monkeypatch.setenv(passphrase.ENV_PASSPHRASE_FILE, f"/dev/fd/{read}")
        assert passphrase.unlock_interactively(doc).public_key == me.public_key
    finally:
        os.close(read)
