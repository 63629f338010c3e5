"""Backups of a device of an account never reuse its key (issue 11, acceptance 2): importing
its archive into a fresh home, a single-key home or another account's is refused in one line
pointing to `recover` / `device link`, with nothing written; a new device of the same account
stores the archive's posts as data, keeping its own key; the device's own home restores it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from p2psocial.testing.account_ops import copy_account_ops

from .conftest import Cli

MakeCli = Callable[..., Cli]


def test_an_account_devices_archive_never_makes_a_second_copy_of_its_key(
        make_cli: MakeCli, tmp_path: Path) -> None:
    laptop = make_cli("laptop")
    made = json.loads(laptop("init", "--name", "laptop", "--json").stdout)
    account, device = made["account"], made["device"]
    laptop("post", "one")
    laptop("post", "two")
    archive = tmp_path / "laptop.p2psocial"
    exported = laptop("export", str(archive)).stdout
    assert f"recover --account {account}" in exported

    fresh = make_cli("fresh")
    line = fresh.fails("import", str(archive))
    assert f"device {device} of the account {account}" in line
    assert f"recover --account {account}" in line and "device link" in line
    assert not fresh.home.exists()  # nothing written: no key, no database
    single = make_cli("single")
    single("init", "--single-key")
    assert "this home holds another identity" in single.fails("import", str(archive))
    other = make_cli("other")
    other("init")
    assert "a device of another account" in other.fails("import", str(archive))
    assert other.json("log")["entries"] == []

    # a new device of the same account: the archive's posts are stored as data
    phone = make_cli("phone")
    token = phone.json("device", "link", "--account", account, "--name", "phone")["token"]
    laptop("device", "add", token)
    copy_account_ops(laptop.home, phone.home, account)
    phone_device = phone("id", "--device").stdout.strip()
    result = phone("import", str(archive))
    assert f"imported 2 entries of {device}" in result.stdout
    assert "post --force" not in result.stdout  # this home is not in the restored state
    assert phone("id", "--device").stdout.strip() == phone_device != device
    assert [e["text"] for e in phone.json("log", device)["entries"]] == ["two", "one"]
    assert phone.json("post", "from the phone")["author"] == phone_device

    # the device's own home may take its archive back (a lost database, say)
    again = laptop("import", str(archive)).stdout
    assert "2 already here" in again
