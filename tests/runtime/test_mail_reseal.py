"""A message sent to an account whose ops were not held is sealed blind, to the account's
own key (M16: it might be a single-key identity), which none of its devices can open. When
the account's ops arrive within the delivery window, `reseal_blind` seals it again to the
devices; past the window the note is forgotten. Real SQLite store, the real service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from p2psocial.core.account.ops import OpType, consent_for, make_op
from p2psocial.core.identity import Identity
from p2psocial.core.mail.inner import parse_inner
from p2psocial.core.mail.route import DELIVERY_WINDOW_MS
from p2psocial.core.mail.wrap import open_wrap, parse_wrap
from p2psocial.runtime.service import Service
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for
from p2psocial.testing.builders import BASE_TS

ME = identity_for("reseal-me")
ACC = identity_for("reseal-account")
REC = identity_for("reseal-recovery")
PHONE = identity_for("reseal-phone")
KNOWN = identity_for("reseal-known")


def ops_of(account: Identity, device: Identity) -> list[object]:
    first = make_op(account, account=account.public_key, op_type=OpType.INIT,
                    key=REC.public_key, timestamp=BASE_TS)
    add = make_op(account, account=account.public_key, op_type=OpType.ADD,
                  key=device.public_key, timestamp=BASE_TS + 1, prev=first.hash,
                  consent=consent_for(device, account.public_key, OpType.ADD), name="phone")
    return [first, add]


async def texts_for(store: Store, device: Identity, account: bytes) -> list[str]:
    """What `device` can read of the wraps queued for `account`'s mailbox."""
    out = []
    for item in await store.outbox.due(2**53 - 1, limit=100):
        if item.account == account:
            inner = open_wrap(parse_wrap(item.wrap), device)
            if inner is not None:
                out.append(parse_inner(inner).text)
    return out


@pytest.mark.asyncio
async def test_a_blind_message_is_sealed_again_when_the_ops_come(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db", verify_processes=0)
    try:
        await store.set_owner(ME.public_key)
        service = Service(store, ME.public_key, lambda: ME)
        await store.accounts.add_ops(ops_of(KNOWN, identity_for("reseal-known-phone")))
        await service.send_message([KNOWN.handle], "to a known account")
        assert await store.outbox.blind() == []  # its devices were known: nothing blind

        await service.send_message([ACC.handle], "hello")
        [blind] = await store.outbox.blind()
        assert blind.account == ACC.public_key
        assert await texts_for(store, PHONE, ACC.public_key) == []  # the phone cannot open it
        assert await service.reseal_blind() == 0  # the ops have not come

        await store.accounts.add_ops(ops_of(ACC, PHONE))
        assert await service.reseal_blind() == 1
        assert await texts_for(store, PHONE, ACC.public_key) == ["hello"]
        assert await store.outbox.blind() == [] and await service.reseal_blind() == 0

        await service.send_message([identity_for("reseal-late").handle], "too late")
        [late] = await store.outbox.blind()
        assert await service.reseal_blind(late.since + DELIVERY_WINDOW_MS + 1) == 0
        assert await store.outbox.blind() == []  # forgotten past the window
    finally:
        await store.close()


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_burst_of_ops_costs_one_pass_not_a_task_each(tmp_path: Path) -> None:
    """A reconnect brings ops in thousands of batches; each asked for a pass of its own."""
    from p2psocial.runtime.config import NodeConfig
    from p2psocial.runtime.node import Node
    from p2psocial.store import keyfile
    from p2psocial.store.home import Home

    home = Home(tmp_path / "me")
    home.create()
    keyfile.write_doc(home.key_file, keyfile.seal(ME, ""))
    node = Node(home, ME, NodeConfig(listen=["/ip4/127.0.0.1/tcp/0"], mdns=False, dht=False,
                                     announce=False, look_seconds=3600.0), offline=False)
    await node.start()
    try:
        from p2psocial.runtime.replicator import Replicator
        network = node._network
        assert isinstance(network, Replicator)
        accounts = network.accounts
        assert accounts.on_new_ops is not None  # the mail client listens
        for _ in range(1000):
            accounts.on_new_ops()
        passes = [t for t in asyncio.all_tasks() if t.get_name() == "mail reseal"]
        assert len(passes) == 1
        await asyncio.wait(passes, timeout=10)
        accounts.on_new_ops()  # after a pass, a new batch asks for one more
        assert len([t for t in asyncio.all_tasks() if t.get_name() == "mail reseal"]) == 1
    finally:
        await node.stop()
