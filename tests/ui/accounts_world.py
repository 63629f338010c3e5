"""A home whose owner is a device of an account (issue 11), for the UI tests of accounts.

My account (MY_ACCOUNT) has two devices: this home's key (ME, "laptop", added by the account
key, which the home holds unsealed in account-key.json) and PHONE. I follow Dana's account
(DANA, whose account key never posts) and the single-key identity ALICE. Dana posts from
her tablet; my phone posts too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from p2psocial.core.account.ops import Op, OpType, consent_for, make_op
from p2psocial.core.identity import Identity
from p2psocial.runtime.account_home import LocalAccount, write_account, write_account_key
from p2psocial.store.home import Home
from p2psocial.store.sqlite import Store
from p2psocial.testing import FeedBuilder, identity_for, raw_entries
from p2psocial.testing.builders import BASE_TS

from .conftest import ALICE, ME, make_home

MY_ACCOUNT = identity_for("ui-acct-mine")
MY_RECOVERY = identity_for("ui-acct-mine-recovery")
PHONE = identity_for("ui-acct-phone")
DANA = identity_for("ui-acct-dana")
DANA_RECOVERY = identity_for("ui-acct-dana-recovery")
TABLET = identity_for("ui-acct-tablet")
NEW_DEVICE = identity_for("ui-acct-new-device")


def account_ops(account: Identity, recovery: Identity,
                devices: list[tuple[Identity, str]]) -> list[Op]:
    """An init, then one add per device (signed by the account key)."""
    a = account.public_key
    ops = [make_op(account, account=a, op_type=OpType.INIT, key=recovery.public_key,
                   timestamp=BASE_TS)]
    for i, (device, name) in enumerate(devices, start=1):
        ops.append(make_op(account, account=a, op_type=OpType.ADD, key=device.public_key,
                           timestamp=BASE_TS + i, prev=ops[-1].hash, name=name,
                           consent=consent_for(device, a, OpType.ADD)))
    return ops


class AccountWorld:
    """The entries and ops of the home, by name."""

    def __init__(self) -> None:
        me, phone = FeedBuilder(ME), FeedBuilder(PHONE, start_ts=BASE_TS + 500)
        tablet, alice = FeedBuilder(TABLET, start_ts=BASE_TS + 700), FeedBuilder(ALICE)
        self.builders = {"me": me, "phone": phone, "tablet": tablet, "alice": alice}
        me.about("Sam")
        me.follow(DANA.public_key)
        me.follow(ALICE.public_key)
        self.my_post = me.post("from my laptop")
        self.phone_post = phone.post("from my phone")
        tablet.about("Dana")
        self.dana_post = tablet.post("dana writes from her tablet")
        alice.about("Alice")
        self.alice_post = alice.post("alice has one key")
        self.ops = (account_ops(MY_ACCOUNT, MY_RECOVERY, [(ME, "laptop"), (PHONE, "phone")])
                    + account_ops(DANA, DANA_RECOVERY, [(TABLET, "tablet")]))

    def raw(self) -> list[tuple[bytes, bytes | None]]:
        out = []
        for builder in self.builders.values():
            out.extend(raw_entries(builder.entries))
        return out


async def fill_accounts(home: Home, world: AccountWorld) -> None:
    store = await Store.open(home.database)
    try:
        await store.set_owner(ME.public_key)
        await store.accounts.add_ops(world.ops)
        report = await store.ingest(world.raw())
        assert report.ok, report.error
    finally:
        await store.close()


def make_account_home(root: Path) -> Home:
    """The home: key.json (ME), account.json (my account, "laptop"), account-key.json."""
    home = make_home(root)
    write_account(home, LocalAccount(account=MY_ACCOUNT.public_key, device_name="laptop"))
    write_account_key(home, MY_ACCOUNT, "")
    return home


def build_account_home_sync(root: Path, world: AccountWorld | None = None) -> Home:
    """A filled account home, for tests that run the app outside an event loop."""
    home = make_account_home(root)
    asyncio.run(fill_accounts(home, world or AccountWorld()))
    return home
