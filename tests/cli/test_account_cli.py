"""Accounts and devices from the command line, on real homes (issue 11): init --account,
upgrade, link + add between two homes, list, revoke, recover on a fresh home, rotate, and each
bad input (one line, nothing stored). The homes are separate; where a test needs one home to
hold another's account ops (what replication does), it copies them between the SQLite files.
"""

from __future__ import annotations

import hashlib
import json
import stat
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mnemonic import Mnemonic

from p2psocial.core.account.phrase import recovery_identity
from p2psocial.core.identity import parse_handle
from p2psocial.testing.account_ops import copy_account_ops

from .conftest import Cli

MakeCli = Callable[..., Cli]


def _ops(c: Cli) -> int:
    count: int = c.json("account", "show")["ops"]
    return count


def _secrets_of(phrase: str) -> list[bytes]:
    """What must never be written in a home: the phrase (as shown, or run together), the
    BIP-39 seed and the recovery key's seed, raw or as hex."""
    bip39_seed = hashlib.pbkdf2_hmac("sha512", unicodedata.normalize("NFKD", phrase).encode(),
                                     b"mnemonic", 2048)
    seed = recovery_identity(phrase).seed
    return [phrase.encode(), phrase.replace(" ", "").encode(), bip39_seed, seed,
            bip39_seed.hex().encode(), seed.hex().encode()]


def _assert_no_secret(home: Path, phrase: str) -> None:
    found = [p for p in home.rglob("*") if p.is_file()]
    assert found
    for path in found:
        data = path.read_bytes()
        for secret in _secrets_of(phrase):
            assert secret not in data, path


def _new_account(make_cli: MakeCli, name: str = "laptop") -> tuple[Cli, dict[str, Any]]:
    c = make_cli(name)
    made = json.loads(c("init", "--account", "--name", name, "--json").stdout)
    return c, made


def test_init_account_makes_private_files_and_shows_the_phrase_once(
        make_cli: MakeCli) -> None:
    c, made = _new_account(make_cli)
    phrase = made["recovery_phrase"]
    assert len(phrase.split()) == 24 and Mnemonic("english").check(phrase)
    for name in ("key.json", "account.json", "account-key.json"):
        assert stat.S_IMODE((c.home / name).stat().st_mode) == 0o600
    assert json.loads((c.home / "account-key.json").read_text())["kdf"] == "argon2id"
    assert c("id").stdout.strip() == made["account"]
    assert c("id", "--device").stdout.strip() == made["device"]
    shown = c.json("account", "show")
    assert (shown["account"], shown["device"], shown["device_status"]) == (
        made["account"], made["device"], "current")
    assert shown["holds_account_key"] and shown["has_recovery_key"]
    devices = {d["handle"]: d for d in c.json("device", "list")}
    assert devices[made["device"]]["name"] == "laptop"
    assert devices[made["device"]]["this_device"] and not devices[made["device"]]["admin"]
    text = c("init", "--account", check=False)  # a second init: refused, phrase not shown
    assert text.returncode != 0 and phrase.split()[0] not in text.stdout
    post = c.json("post", "from the first device")
    assert post["author"] == made["device"]
    _assert_no_secret(c.home, phrase)


def test_upgrade_a_single_key_identity(make_cli: MakeCli) -> None:
    c = make_cli("single")
    c("init", "--single-key")
    c("post", "before the upgrade")
    handle = c("id").stdout.strip()
    token = make_cli("second").json("device", "link", "--account", handle)["token"]
    assert "run `p2psocial account upgrade` first" in c.fails("device", "add", token)
    up = c.json("account", "upgrade")
    assert (up["account"], up["device"]) == (handle, handle)
    shown = c.json("account", "show")
    assert not shown["single_key"] and shown["has_recovery_key"] and shown["holds_account_key"]
    assert c("id").stdout.strip() == handle  # followers need do nothing
    c("post", "after the upgrade")
    assert len(c.json("log")["entries"]) == 2
    assert "already a device of an account" in c.fails("account", "upgrade")
    assert c.json("device", "add", token)["account"] == handle  # signed by the account key
    # rotating the key away: its two posts still count, nothing it writes later does
    result = c("account", "rotate", input=up["recovery_phrase"] + "\n")
    assert "entries after seq 2 no longer count" in result.stdout
    assert "can no longer post" in result.stdout
    assert "revoked from the account" in c.fails("post", "after the rotation")
    assert c.json("account", "show")["holds_account_key"]
    _assert_no_secret(c.home, up["recovery_phrase"])


def test_link_add_list_and_a_token_used_twice(make_cli: MakeCli) -> None:
    a, made = _new_account(make_cli)
    b = make_cli("phone")
    link = b.json("device", "link", "--account", made["account"], "--name", "phone")
    assert link["token"].startswith("p2psocial-pair:") and link["device_name"] == "phone"
    assert stat.S_IMODE((b.home / "account.json").stat().st_mode) == 0o600
    assert b.json("account", "show")["device_status"] == "pending"
    shown = b("device", "link", "--account", made["account"], "--qr").stdout.splitlines()
    assert shown[0].startswith("p2psocial-pair:") and len(shown) > 20
    assert max(len(line) for line in shown[1:]) <= 80  # the QR fits an 80-column terminal
    assert b("id").stdout.strip() == made["account"]
    added = a.json("device", "add", link["token"])
    assert (added["added"], added["name"]) == (link["device"], "phone")
    listed = {d["handle"]: d for d in a.json("device", "list")}
    assert listed[link["device"]]["status"] == "current"
    assert listed[link["device"]]["added"] is not None
    before = _ops(a)
    assert "already a device of this account" in a.fails("device", "add", link["token"])
    assert _ops(a) == before
    copy_account_ops(a.home, b.home, made["account"])
    assert b.json("account", "show")["device_status"] == "current"
    assert "phone" in b("device", "list").stdout
    b("post", "from the phone")
    mine = {d["name"]: d for d in b.json("device", "list")}["phone"]
    assert mine["this_device"] and mine["held"] == 1


def test_bad_tokens_are_one_line_and_store_nothing(make_cli: MakeCli) -> None:
    a, made = _new_account(make_cli)
    _other, other = _new_account(make_cli, "other")
    before = _ops(a)
    expired = make_cli("late").json("device", "link", "--account", made["account"],
                                    "--minutes", "0.001")["token"]
    assert "expired on" in a.fails("device", "add", expired)
    foreign = make_cli("foreign").json("device", "link", "--account", other["account"])
    assert f"is for the account {other['account']}" in a.fails("device", "add",
                                                                foreign["token"])
    assert "not a pairing token" in a.fails("device", "add", "hello")
    blank = make_cli("blank")
    assert "device name" in blank.fails("device", "link", "--account", made["account"],
                                        "--name", "  ")
    assert "--minutes" in blank.fails("device", "link", "--account", made["account"],
                                      "--minutes", "0")
    assert not blank.home.exists()
    token = make_cli("tampered").json("device", "link", "--account", made["account"])["token"]
    cut = token[:60] + ("2" if token[60] != "2" else "3") + token[61:]
    assert "pairing token" in a.fails("device", "add", cut)
    assert _ops(a) == before


def test_revoke_stops_the_device_posting_and_needs_the_power(make_cli: MakeCli) -> None:
    a, made = _new_account(make_cli)
    b = make_cli("phone")
    token = b.json("device", "link", "--account", made["account"], "--name", "phone")["token"]
    a("device", "add", token)
    copy_account_ops(a.home, b.home, made["account"])
    b("post", "one")
    b("post", "two")
    # the phone was added without --admin: it may not add devices
    third = make_cli("tablet").json("device", "link", "--account", made["account"])["token"]
    before = _ops(b)
    assert "no power to add or revoke devices" in b.fails("device", "add", third)
    assert _ops(b) == before
    revoked = a.json("device", "revoke", "phone")
    assert revoked["after"] == 0  # the laptop holds none of the phone's entries
    assert "already revoked" in a.fails("device", "revoke", "phone")
    assert "account rotate" in a.fails("device", "revoke", made["account"])
    assert "no device of this account is named" in a.fails("device", "revoke", "toaster")
    listed = {d["handle"]: d for d in a.json("device", "list")}
    assert (listed[b.json("account", "show")["device"]]["status"]) == "revoked"
    copy_account_ops(a.home, b.home, made["account"])
    assert "revoked from the account" in b.fails("post", "three")
    assert len(b.json("log")["entries"]) == 2
    assert b.json("account", "show")["device_status"] == "revoked"
    # a revoked key is never added again, whatever token it shows
    again = b.json("device", "link", "--account", made["account"])["token"]
    assert "revoked from this account" in a.fails("device", "add", again)


def test_recover_on_a_fresh_home(make_cli: MakeCli) -> None:
    a, made = _new_account(make_cli)
    phrase = made["recovery_phrase"]
    r = make_cli("restored")
    words = phrase.split()
    typo = " ".join([words[0] + "qq", *words[1:]])
    line = r.fails("recover", "--account", made["account"], input=typo + "\n")
    assert "word 1 of the recovery phrase" in line
    assert not r.home.exists()  # nothing made for a phrase with a typo
    line = r.fails("recover", "--account", made["account"], input=phrase + "\n")
    assert "holds no log of it yet" in line
    copy_account_ops(a.home, r.home, made["account"])  # what `p2psocial run` learns from a peer
    wrong = next(t for t in (" ".join([*words[:-1], w]) for w in ("zoo", "zone", "zero"))
                 if not Mnemonic("english").check(t))  # a valid word, a wrong checksum
    assert "checksum does not match" in r.fails("recover", input=wrong + "\n")
    _, other = _new_account(make_cli, "someone")
    assert "not the recovery phrase of the account" in r.fails(
        "recover", input=other["recovery_phrase"] + "\n")
    assert _ops(r) == 2
    done = json.loads(r("recover", "--json", input="  " + phrase.upper() + "\n").stdout)
    assert done["admin"] and done["account"] == made["account"]
    assert done["device"] not in (made["device"], made["account"])  # a new key, never reused
    listed = {d["handle"]: d for d in r.json("device", "list")}
    assert listed[done["device"]]["this_device"] and listed[done["device"]]["admin"]
    assert "already a device" in r.fails("recover", input=phrase + "\n")
    r("post", "back again")
    # the recovered device has the power: it approves a new one
    token = make_cli("new").json("device", "link", "--account", made["account"])["token"]
    r("device", "add", token)
    _assert_no_secret(r.home, phrase)


def test_rotate_replaces_the_account_key(make_cli: MakeCli) -> None:
    a, made = _new_account(make_cli)
    phrase = made["recovery_phrase"]
    before = a.json("account", "show")
    _, other = _new_account(make_cli, "someone")
    assert "not the recovery phrase" in a.fails("account", "rotate",
                                                input=other["recovery_phrase"] + "\n")
    assert _ops(a) == before["ops"]
    rotated = json.loads(a("account", "rotate", "--json", input=phrase + "\n").stdout)
    assert rotated["revoked"] == made["account"] and rotated["account_key"] != made["account"]
    assert rotated["after"] == 0  # the old account key wrote nothing held here
    shown = a.json("account", "show")
    assert shown["account"] == made["account"]  # the account id never changes
    assert shown["account_key"] == rotated["account_key"] and shown["holds_account_key"]
    sealed = json.loads((a.home / "account-key.json").read_text())
    assert parse_handle(rotated["account_key"]).hex() == sealed["public_key"]
    assert stat.S_IMODE((a.home / "account-key.json").stat().st_mode) == 0o600
    # the new account key signs: a new device joins
    token = make_cli("phone").json("device", "link", "--account", made["account"])["token"]
    a("device", "add", token)
    a("post", "still posting from the laptop")
    _assert_no_secret(a.home, phrase)
