"""`device list` and `account show` show the account key apart from the devices (issue 11):
an account key that posts nothing is not a device; an upgraded single-key identity's key,
which posts, is the account key and counts as its device; a rotated one is a former key."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .conftest import Cli

MakeCli = Callable[..., Cli]


def _by_role(c: Cli) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for d in c.json("device", "list"):
        out.setdefault(d["role"], []).append(d)
    return out


def test_a_new_accounts_key_is_listed_apart_and_not_counted(make_cli: MakeCli) -> None:
    c = make_cli("laptop")
    made = json.loads(c("init", "--name", "laptop", "--json").stdout)
    roles = _by_role(c)
    assert [d["handle"] for d in roles["device"]] == [made["device"]]
    assert [d["handle"] for d in roles["account key"]] == [made["account"]]
    assert roles["account key"][0]["held"] == 0 and roles["account key"][0]["account_key"]
    lines = c("device", "list").stdout.splitlines()
    assert lines[0].startswith("laptop  " + made["device"])
    assert lines[1] == "current devices: 1"
    assert lines[2].startswith(f"role: account key  {made['account']}")
    assert "not a device" in lines[2]
    assert c.json("account", "show")["devices"] == 1
    assert "current devices: 1 " in c("account", "show").stdout


def test_an_upgraded_identitys_key_is_the_account_key_and_its_device(
        make_cli: MakeCli) -> None:
    c = make_cli("single")
    c("init", "--single-key")
    handle = c("id").stdout.strip()
    c("post", "one")
    up = c.json("account", "upgrade")
    roles = _by_role(c)
    assert "device" not in roles
    (key,) = roles["account key"]
    assert (key["handle"], key["this_device"], key["held"]) == (handle, True, 1)
    text = c("device", "list").stdout
    assert "current devices: 1" in text and "posts too; 1 entries held" in text
    assert c.json("account", "show")["devices"] == 1
    c("account", "rotate", input=up["recovery_phrase"] + "\n")
    roles = _by_role(c)
    (former,) = roles["former account key"]
    assert (former["handle"], former["status"], former["after"]) == (handle, "revoked", 1)
    (new_key,) = roles["account key"]
    assert new_key["handle"] != handle and not new_key["this_device"]
    text = c("device", "list").stdout
    assert "current devices: 0" in text and "role: former account key  " + handle in text
    assert c.json("account", "show")["devices"] == 0
