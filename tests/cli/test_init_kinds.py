"""`p2psocial init` makes an account by default (issue 11); `--single-key` the identity of
before accounts; `--account` is still accepted. Both kinds post, and the post verifies."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable

from mnemonic import Mnemonic

from .conftest import Cli

MakeCli = Callable[..., Cli]


def _phrase_lines(stdout: str) -> list[str]:
    return [ln for ln in stdout.splitlines() if ln.startswith("recovery phrase")]


def _posts_and_verifies(c: Cli, author: str) -> None:
    post = c.json("post", "hello from this home")
    assert post["author"] == author
    report = c.json("verify")  # exits 0 only if every feed verifies
    mine = [f for f in report["feeds"] if f["author"] == author]
    assert mine and mine[0]["checked"] == 1 and not mine[0]["problems"]


def test_plain_init_makes_an_account_and_shows_the_phrase_once(make_cli: MakeCli) -> None:
    c = make_cli("plain")
    made = c("init", "--name", "laptop")
    assert len(_phrase_lines(made.stdout)) == 1
    words = [w for ln in made.stdout.splitlines()[4:] for w in ln.split()
             if not w.rstrip(".").isdigit()]
    assert len(words) == 24 and Mnemonic("english").check(" ".join(words))
    for name in ("key.json", "account.json", "account-key.json"):
        assert stat.S_IMODE((c.home / name).stat().st_mode) == 0o600
    shown = c.json("account", "show")
    assert not shown["single_key"] and shown["has_recovery_key"] and shown["holds_account_key"]
    assert made.stdout.splitlines()[0] == f"created account {shown['account']}"
    assert c("id").stdout.strip() == shown["account"]
    assert c("id", "--device").stdout.strip() == shown["device"] != shown["account"]
    again = c("init", check=False)  # refused; the phrase is not shown again
    assert again.returncode != 0 and shown["account"] in again.stderr
    assert not _phrase_lines(again.stdout)
    _posts_and_verifies(c, shown["device"])


def test_init_without_a_passphrase_still_shows_the_phrase_once(make_cli: MakeCli) -> None:
    c = make_cli("unattended", passphrase=None)
    made = c("init", "--no-passphrase")
    assert len(_phrase_lines(made.stdout)) == 1
    assert "warning: no passphrase" in made.stderr
    assert json.loads((c.home / "account-key.json").read_text())["kdf"] == "none"
    as_json = make_cli("as-json", passphrase=None)
    doc = json.loads(as_json("init", "--no-passphrase", "--json").stdout)
    assert len(doc["recovery_phrase"].split()) == 24 and doc["single_key"] is False


def test_init_single_key_makes_the_old_home(make_cli: MakeCli) -> None:
    c = make_cli("single")
    made = c("init", "--single-key")
    assert not _phrase_lines(made.stdout)
    assert not (c.home / "account.json").exists()
    assert not (c.home / "account-key.json").exists()
    handle = c("id").stdout.strip()
    assert made.stdout.splitlines()[0] == f"created identity {handle}"
    assert c("id", "--device").stdout.strip() == handle
    assert c.json("account", "show")["single_key"]
    _posts_and_verifies(c, handle)
    doc = json.loads(make_cli("single-json")("init", "--single-key", "--json").stdout)
    assert doc["single_key"] is True and doc["handle"].startswith("12D3KooW")


def test_account_is_still_accepted_and_single_key_excludes_it(make_cli: MakeCli) -> None:
    c = make_cli("old-script")
    c("init", "--account")
    assert not c.json("account", "show")["single_key"]
    both = make_cli("both")
    assert "not allowed with argument" in both.fails("init", "--single-key", "--account")
    assert "single-key identity has none" in both.fails("init", "--single-key", "--name", "x")
    assert not both.home.exists()
