"""One account on three devices, each a real node process, posting at the same time; a
follower (a fourth process) that follows the account id ends up with every post of every
device and no fork (issue 11, acceptance 2; spec O1-O3).

The account's ops (init by the account key, an add of each device) are made with core
make_op and stored in each device's home before it starts, as pairing leaves them; the
account key itself runs no node. The follower knows only the account's handle and the
devices' addresses: the ops it receives tell it which feeds to want.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from p2psocial.core.account.ops import Op, OpType, consent_for, make_op
from p2psocial.core.identity import Identity
from p2psocial.store import keyfile
from p2psocial.store.home import Home
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for
from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow

ACC, RECOVERY = identity_for("three-device-account"), identity_for("three-device-recovery")
POSTS = 3   # per device
T = 1_700_000_000_000


def account_ops(devices: list[Identity]) -> list[Op]:
    ops = [make_op(ACC, account=ACC.public_key, op_type=OpType.INIT,
                   key=RECOVERY.public_key, timestamp=T)]
    for index, device in enumerate(devices, 1):
        ops.append(make_op(ACC, account=ACC.public_key, op_type=OpType.ADD,
                           key=device.public_key, timestamp=T + index, prev=ops[-1].hash,
                           consent=consent_for(device, ACC.public_key, OpType.ADD),
                           name=f"device {index}"))
    return ops


async def store_ops(home: Path, ops: list[Op]) -> None:
    store = await Store.open(Home(home).database)
    try:
        await store.accounts.add_ops(ops)
    finally:
        await store.close()


@pytest.fixture
def homes(tmp_path: Path) -> Iterator[list[NodeProcess]]:
    made = [NodeProcess.create(tmp_path / name) for name in ("d1", "d2", "d3", "follower")]
    yield made
    for node in made:
        node.stop()


def in_parallel(jobs: list[Callable[[], object]]) -> None:
    """Run `jobs` at the same time, each in a thread; re-raise the first failure."""
    failures: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            job()
        except BaseException as exc:  # reported to the test below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if failures:
        raise failures[0]


def feeds_of(node: NodeProcess) -> dict[str, dict[str, Any]]:
    return {f["author"]: f for f in node.json("status")["feeds"]}


def test_three_devices_posting_at_once_reach_a_follower_whole(
        homes: list[NodeProcess]) -> None:
    *devices, follower = homes
    keys = [keyfile.unseal(keyfile.read_doc(Home(d.home).key_file), None) for d in devices]
    ops = account_ops(keys)
    for device in devices:
        asyncio.run(store_ops(device.home, ops))
    in_parallel([lambda d=d: d.start() for d in devices])
    follower.cli("follow", ACC.handle, "--unknown")
    follower.start(peers=[d.addrs()[0] for d in devices])

    def post_all(device: NodeProcess, name: str) -> None:
        for i in range(POSTS):
            device.cli("post", f"{name} says {i}")

    in_parallel([lambda d=d, n=n: post_all(d, f"device {n}")
                 for n, d in enumerate(devices, 1)])

    handles = [key.handle for key in keys]

    def every_post_held(node: NodeProcess) -> bool:
        feeds = feeds_of(node)
        return all(feeds.get(h, {}).get("hi") == POSTS for h in handles)

    follower.wait_for(every_post_held, timeout=60, what="every device's posts")
    feeds = feeds_of(follower)
    assert not any(f["forked"] for f in feeds.values())
    assert {feeds[h]["depth"] for h in handles} == {feeds[ACC.handle]["depth"]}
    for n, (device, handle) in enumerate(zip(devices, handles, strict=True), 1):
        assert sorted(follower.texts(handle)) == sorted(f"device {n} says {i}"
                                                        for i in range(POSTS))
        assert device.json("status")["feeds"]  # the device node is still up and answering
    shown = {item["text"] for item in follower.json("feed", "--limit", "100")}
    assert shown == {f"device {n} says {i}" for n in (1, 2, 3) for i in range(POSTS)}
