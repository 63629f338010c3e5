"""The social verbs' service (runtime/service/social.py) over a real SQLite store: people are
accounts, and a profile's counts agree with the lists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from p2psocial.core.account.ops import OpType, consent_for, make_op
from p2psocial.core.content import Follow
from p2psocial.core.errors import UsageError
from p2psocial.runtime.service import Service
from p2psocial.store.sqlite import Store
from p2psocial.testing import FeedBuilder, identity_for, raw_entries
from p2psocial.testing.builders import BASE_TS

ME = identity_for("social-service-me")
ACC = identity_for("social-service-account")
REC = identity_for("social-service-recovery")
PHONE = identity_for("social-service-phone")
LAPTOP = identity_for("social-service-laptop")


@pytest_asyncio.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    store = await Store.open(tmp_path / "db", verify_processes=0)
    await store.set_owner(ME.public_key)
    try:
        yield Service(store, ME.public_key, lambda: ME)
    finally:
        await store.close()


async def account_with_two_devices_following_me(store: Store) -> None:
    first = make_op(ACC, account=ACC.public_key, op_type=OpType.INIT, key=REC.public_key,
                    timestamp=BASE_TS)
    ops, prev = [first], first
    for i, device in enumerate((PHONE, LAPTOP)):
        prev = make_op(ACC, account=ACC.public_key, op_type=OpType.ADD, key=device.public_key,
                       timestamp=BASE_TS + 1 + i, prev=prev.hash,
                       consent=consent_for(device, ACC.public_key, OpType.ADD),
                       name=device.handle[-6:])
        ops.append(prev)
    await store.accounts.add_ops(ops)
    phone, laptop, own = FeedBuilder(PHONE), FeedBuilder(LAPTOP), FeedBuilder(ACC)
    phone.follow(ME.public_key)
    laptop.follow(ME.public_key)
    own.about("Acme")
    for b in (phone, laptop, own):
        assert (await store.ingest(raw_entries(b.entries))).ok


@pytest.mark.asyncio
async def test_an_account_following_from_two_devices_is_one_follower(service: Service) -> None:
    await account_with_two_devices_following_me(service.store)
    await service.store.append(ME, Follow(feed=PHONE.public_key))
    await service.store.append(ME, Follow(feed=LAPTOP.public_key))
    followers = await service.followers()
    assert [(f.author, f.name, f.following) for f in followers] == [
        (ACC.handle, "Acme", True)]
    assert [f.author for f in await service.followed()] == [ACC.handle]
    me = await service.feed()
    assert (me.followers, me.follows) == (1, 1)  # the profile counts what the lists list
    theirs = await service.feed(PHONE.handle)
    assert (theirs.followers, theirs.follows) == (1, 1)


@pytest.mark.asyncio
async def test_muting_a_device_mutes_its_account_and_myself_is_refused(
        service: Service) -> None:
    await account_with_two_devices_following_me(service.store)
    view = await service.mute(LAPTOP.handle)
    assert (view.kind, view.value, view.name) == ("account", ACC.handle, "Acme")
    assert service.store.mutes.accounts == {ACC.public_key}
    with pytest.raises(UsageError, match="yourself"):
        await service.mute("@" + ME.handle)
    with pytest.raises(UsageError, match="muted already"):
        await service.mute(PHONE.handle)
    assert [(m.kind, m.value) for m in await service.mutes()] == [("account", ACC.handle)]
