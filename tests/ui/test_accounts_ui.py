"""Accounts in the UI (issue 11): posts show the account, not the device; the Me screen lists
my devices and approves a pairing token; a profile lists its account's devices on `d`."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from textual.widgets import Input, Static

from p2psocial.core.account.pairing import PAIR_NONCE_BYTES, make_token
from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.node import Node
from p2psocial.testing import FeedBuilder
from p2psocial.ui.app import SocialApp
from p2psocial.ui.help import HelpScreen
from p2psocial.ui.me import MeScreen
from p2psocial.ui.postlist import PostList
from p2psocial.ui.profile import ProfileScreen
from p2psocial.ui.render import now_ms, short

from .accounts_world import (
    DANA,
    MY_ACCOUNT,
    NEW_DEVICE,
    PHONE,
    TABLET,
    AccountWorld,
    fill_accounts,
    make_account_home,
)
from .conftest import ALICE, ME, SIZE, app_for, deliver, until


@pytest_asyncio.fixture
async def aworld() -> AccountWorld:
    return AccountWorld()


@pytest_asyncio.fixture
async def anode(tmp_path: Path, aworld: AccountWorld) -> AsyncIterator[Node]:
    home = make_account_home(tmp_path / "home")
    await fill_accounts(home, aworld)
    n = Node(home, ME, NodeConfig(), offline=True)
    await n.start()
    yield n
    await n.stop()


async def loaded(pilot, app: SocialApp, count: int) -> PostList:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: app.screen.query(PostList) and
                len(app.screen.query_one(PostList).rows) >= count, what="rows")
    return app.screen.query_one(PostList)


def lines(post_list: PostList) -> list[str]:
    return [post_list.render_line(y).text for y in range(post_list.size.height)]


def header_of(post_list: PostList, text: str) -> str:
    """The header line above the row whose body starts with `text`."""
    shown = lines(post_list)
    at = next(i for i, line in enumerate(shown) if text in line)
    return shown[at - 1]


def static_text(app: SocialApp, selector: str) -> str:
    """The text of a Static on the current screen ("" while it is not there yet)."""
    found = app.screen.query(selector)
    return str(found.first(Static).render()) if found else ""


@pytest.mark.asyncio
async def test_posts_show_the_account_name_and_handle_not_the_device(anode: Node) -> None:
    app = app_for(anode)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await loaded(pilot, app, 4)
        dana = header_of(post_list, "dana writes from her tablet")
        assert "Dana" in dana and short(DANA.handle) in dana
        assert short(TABLET.handle) not in dana
        phone = header_of(post_list, "from my phone")  # my other device: my account
        assert "Sam" in phone and short(MY_ACCOUNT.handle) in phone
        assert short(PHONE.handle) not in phone
        alice = header_of(post_list, "alice has one key")  # a single-key identity: as before
        assert "Alice" in alice and short(ALICE.handle) in alice
        assert all(len(line.rstrip()) <= SIZE[0] for line in lines(post_list))
        # the profile a row opens is the account's, with the posts of all its devices
        post_list.select(next(i for i, r in enumerate(post_list.rows)
                              if r.post.author == TABLET.handle))
        await pilot.press("p")
        assert isinstance(app.screen, ProfileScreen) and app.screen.handle == DANA.handle
        posts = await loaded(pilot, app, 1)
        await until(pilot, lambda: "Dana" in static_text(app, "#card"), what="card")
        card = static_text(app, "#card")
        assert DANA.handle in card and "nothing of this feed" not in card
        assert [r.post.author for r in posts.rows] == [TABLET.handle]


@pytest.mark.asyncio
async def test_a_live_post_from_another_device_shows_under_the_account(
        anode: Node, aworld: AccountWorld) -> None:
    app = app_for(anode)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await loaded(pilot, app, 4)
        tablet = FeedBuilder(TABLET, start_ts=now_ms(), after=aworld.builders["tablet"].last)
        live = tablet.post("live from the tablet")
        await deliver(anode, [live])
        await until(pilot, lambda: any(r.post.hash == live.hash.hex()
                                       for r in post_list.rows), what="the live post")
        await pilot.pause(0.05)
        header = header_of(post_list, "live from the tablet")
        assert "Dana" in header and short(DANA.handle) in header


@pytest.mark.asyncio
async def test_me_lists_my_devices(anode: Node) -> None:
    app = app_for(anode)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app, 4)
        await pilot.press("3")
        assert isinstance(app.screen, MeScreen)
        await until(pilot, lambda: "phone" in static_text(app, "#devices"), what="devices")
        text = static_text(app, "#devices")
        assert "laptop" in text and "this device" in text and short(ME.handle) in text
        assert "phone" in text and short(PHONE.handle) in text and "current" in text
        assert MY_ACCOUNT.handle in static_text(app, "#who")  # the account handle to share
        # the account key (it never posts) is shown apart, after the devices, as what it is
        key_at = text.index("Account key")
        assert key_at > text.index("phone") and short(MY_ACCOUNT.handle) in text[key_at:]
        assert "not a device" in text[key_at:] and short(MY_ACCOUNT.handle) not in text[:key_at]


def token_for(device: str = "desk", account: bytes | None = None,
              minutes: float = 10) -> str:
    return make_token(NEW_DEVICE, account=account or MY_ACCOUNT.public_key, name=device,
                      expires=now_ms() + int(minutes * 60_000),
                      nonce=secrets.token_bytes(PAIR_NONCE_BYTES), addrs=[])


@pytest.mark.asyncio
async def test_pasting_a_pairing_token_on_the_me_screen_adds_the_device(anode: Node) -> None:
    from p2psocial.ui.devices import DeviceDialog
    app = app_for(anode)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app, 4)
        await pilot.press("3")
        await until(pilot, lambda: "phone" in static_text(app, "#devices"), what="devices")
        # a token of another account: one line, nothing stored
        await pilot.press("a")
        assert isinstance(app.screen, DeviceDialog)
        app.screen.query_one("#token", Input).value = token_for(account=DANA.public_key)
        await pilot.press("enter")
        await until(pilot, lambda: "not this one" in static_text(app, "#error"),
                    what="the refusal")
        assert "\n" not in static_text(app, "#error").strip()  # one line
        assert len(await anode.store.accounts.ops_of(MY_ACCOUNT.public_key)) == 3
        # a good one: the device is added and listed
        app.screen.query_one("#token", Input).value = token_for("desk")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MeScreen), what="dialog closed")
        await until(pilot, lambda: "desk" in static_text(app, "#devices"), what="new device")
        state = await anode.store.accounts.state_of(MY_ACCOUNT.public_key)
        assert state.devices[NEW_DEVICE.public_key].current
        assert not state.devices[NEW_DEVICE.public_key].admin


@pytest.mark.asyncio
async def test_a_profile_lists_its_accounts_devices_on_d(anode: Node) -> None:
    app = app_for(anode)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app, 4)
        app.push_screen(ProfileScreen(DANA.handle))
        await until(pilot, lambda: "Dana" in static_text(app, "#card"), what="card")
        devices = app.screen.query_one("#devices", Static)
        assert not devices.display
        await pilot.press("d")
        await until(pilot, lambda: "tablet" in static_text(app, "#devices"), what="devices")
        assert devices.display and short(TABLET.handle) in static_text(app, "#devices")
        await pilot.press("d")
        assert not devices.display
        # a single-key identity has one device: itself
        app.push_screen(ProfileScreen(ALICE.handle))
        await until(pilot, lambda: "Alice" in static_text(app, "#card"), what="card")
        await pilot.press("d")
        await until(pilot, lambda: "single key" in static_text(app, "#devices"),
                    what="devices")


@pytest.mark.asyncio
async def test_help_lists_the_device_keys(anode: Node) -> None:
    app = app_for(anode)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app, 4)
        await pilot.press("3")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "Add a device" in str(app.screen.query_one("#help-keys", Static).render())
        await pilot.press("escape")
        app.push_screen(ProfileScreen(DANA.handle))
        await pilot.press("question_mark")
        assert "devices" in str(app.screen.query_one("#help-keys", Static).render())


@pytest.mark.asyncio
async def test_my_other_devices_profile_is_my_account_and_reads_as_me(anode: Node) -> None:
    app = app_for(anode)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app, 4)
        app.push_screen(ProfileScreen(PHONE.handle))  # a device's handle: its account's profile
        await until(pilot, lambda: "Sam" in static_text(app, "#card"), what="card")
        screen = app.screen
        assert isinstance(screen, ProfileScreen) and screen.handle == MY_ACCOUNT.handle
        card = static_text(app, "#card")
        assert "this is you" in card and "not following" not in card
        await pilot.press("F")  # I cannot follow myself: nothing is written
        await pilot.pause(0.2)
        assert MY_ACCOUNT.public_key not in await anode.store.following(ME.public_key)


@pytest.mark.asyncio
async def test_a_sealed_account_key_is_asked_for_in_the_dialog(tmp_path: Path,
                                                              aworld: AccountWorld) -> None:
    """The account key sealed with a passphrase: the dialog asks for it; a wrong one is one
    line and stores nothing; the right one signs the add."""
    from p2psocial.runtime.account_home import write_account_key
    from p2psocial.ui.devices import DeviceDialog
    home = make_account_home(tmp_path / "home")
    write_account_key(home, MY_ACCOUNT, "correct horse")
    await fill_accounts(home, aworld)
    node = Node(home, ME, NodeConfig(), offline=True)
    await node.start()
    try:
        app = app_for(node)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot, app, 4)
            await pilot.press("3")
            await until(pilot, lambda: "phone" in static_text(app, "#devices"),
                        what="devices")
            await pilot.press("a")
            assert isinstance(app.screen, DeviceDialog)
            dialog = app.screen
            passphrase = dialog.query_one("#passphrase", Input)
            assert not passphrase.display
            dialog.query_one("#token", Input).value = token_for("desk")
            await pilot.press("enter")
            await until(pilot, lambda: passphrase.display, what="the passphrase field")
            assert "passphrase" in static_text(app, "#error")
            passphrase.value = "wrong"
            await pilot.press("enter")
            await until(pilot, lambda: "wrong passphrase" in static_text(app, "#error"),
                        timeout=20, what="the refusal")
            assert len(await node.store.accounts.ops_of(MY_ACCOUNT.public_key)) == 3
            passphrase.value = "correct horse"
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MeScreen), timeout=20,
                        what="dialog closed")
            await until(pilot, lambda: "desk" in static_text(app, "#devices"),
                        what="new device")
    finally:
        await node.stop()


@pytest.mark.asyncio
async def test_my_other_devices_live_name_and_follows_are_mine(
        anode: Node, aworld: AccountWorld) -> None:
    app = app_for(anode)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await loaded(pilot, app, 4)
        phone = FeedBuilder(PHONE, start_ts=now_ms(), after=aworld.builders["phone"].last)
        await deliver(anode, [phone.post("the phone posts first")])  # the device is learnt
        await until(pilot, lambda: len(post_list.rows) == 5, what="the phone's post")
        await deliver(anode, [phone.about("Samantha"), phone.follow(TABLET.public_key)])
        await until(pilot, lambda: app.state.my_name == "Samantha", what="my new name")
        await until(pilot, lambda: TABLET.handle in app.state.following, what="the follow")
        await pilot.pause(0.1)
        assert "Samantha" in header_of(post_list, "the phone posts first")
