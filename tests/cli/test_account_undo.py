"""`account rotate --undo OP` refusals (one line, nothing signed, the phrase not even asked)
and `account show` listing the applied ops with their hashes (docs/protocol.md S6)."""

from __future__ import annotations

import json
from collections.abc import Callable

from .conftest import Cli

MakeCli = Callable[..., Cli]


def test_undo_names_an_applied_op_after_the_init(make_cli: MakeCli) -> None:
    c = make_cli("laptop")
    c("init", "--account", "--name", "laptop", "--json")
    log = c.json("account", "show")["log"]
    assert [row["type"] for row in log] == ["init", "add"]
    assert all(len(row["hash"]) == 64 for row in log)
    assert log[0]["hash"][:16] in c("account", "show").stdout
    init = log[0]["hash"]
    assert "at least 8 hex digits" in c.fails("account", "rotate", "--undo", "abc")
    assert "at least 8 hex digits" in c.fails("account", "rotate", "--undo", "zzzzzzzzzz")
    assert "no op of this account" in c.fails("account", "rotate", "--undo",
                                              "0" * 8 if not init.startswith("0" * 8)
                                              else "f" * 8)
    assert "the init cannot be undone" in c.fails("account", "rotate", "--undo", init[:10])
    assert c.json("account", "show")["log"] == log  # nothing was signed


def test_undo_overrides_the_named_op(make_cli: MakeCli) -> None:
    c = make_cli("laptop")
    made = json.loads(c("init", "--account", "--name", "laptop", "--json").stdout)
    add = c.json("account", "show")["log"][1]["hash"]
    c("account", "rotate", "--undo", add[:12], input=made["recovery_phrase"] + "\n")
    shown = c.json("account", "show")
    assert [row["type"] for row in shown["log"]] == ["init", "rotate"]
    assert shown["device_status"] == "pending"  # its add was undone: not a device any more
