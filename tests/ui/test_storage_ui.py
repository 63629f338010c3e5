"""The Storage screen (issue 13: "a Storage view (disk per peer and per hop, prune now)"):
reached with s on the Me screen and from the : palette; disk, budget, bytes per hop, the
feeds taking most room, what the budget would drop; p prunes, b sets the budget, r measures
again.

The home is real: my picture is attached through Service.post (a small file), Alice's and
Carol's files are real blob files, their posts real signed entries. Without a running
node's keeper the screen is the offline one (no per-hop figures, p is one line); with a
StorageKeeper set as the service's keeper and a small budget, the figures and pruning are the
node's, in process and over the control socket of the running node."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image
from textual.command import CommandPalette
from textual.widgets import Input, Static

from p2psocial.core.content import Attachment
from p2psocial.core.wants import Want
from p2psocial.runtime.config import NodeConfig, load_config
from p2psocial.runtime.node import Node
from p2psocial.runtime.storage_keeper import StorageKeeper, disk_usage
from p2psocial.runtime.views import StorageView
from p2psocial.store.blobs import BlobStore
from p2psocial.ui.app import SocialApp
from p2psocial.ui.backend import InProcessBackend
from p2psocial.ui.budget_dialog import BudgetDialog
from p2psocial.ui.help import HelpScreen
from p2psocial.ui.launch import attach
from p2psocial.ui.me import MeScreen
from p2psocial.ui.storage import StorageScreen
from p2psocial.ui.storage_text import drop_text, hop_rank, prune_line
from p2psocial.ui.widgets import FitFooter

from .conftest import ALICE, BOB, CAROL, ME, SIZE, World, fill, make_home, until

PICTURE_BYTES = 40_000
OFFLINE_PRUNE = "pruning needs the running node"


def shared_posts(world: World, blobs: BlobStore) -> list[bytes]:
    """Pictures posted by Alice (hop 1) and Carol (not wanted): real blob files."""
    ids = []
    for name, count in (("alice", 2), ("carol", 2)):
        builder = world.builders[name]
        for i in range(count):
            manifest = blobs.add_bytes(os.urandom(PICTURE_BYTES))
            builder.post(f"{name}'s picture {i}", attachments=(
                Attachment(manifest.id, manifest.size, "image/png", alt=f"{name} {i}"),))
            ids.append(manifest.id)
    return ids


@pytest_asyncio.fixture
async def stored(tmp_path: Path) -> AsyncIterator[Node]:
    """An offline node (no keeper): my post with a small picture, Alice's and Carol's."""
    world = World()
    home = make_home(tmp_path / "home")
    shared_posts(world, BlobStore(home.blobs))
    await fill(home, world.raw())
    node = Node(home, ME, NodeConfig(), offline=True)
    await node.start()
    mine = tmp_path / "mine.png"
    Image.new("RGB", (40, 30), (200, 90, 30)).save(mine)
    await node.service.post("my picture", attach=[[str(mine), "mine"]])
    yield node
    await node.stop()


def keep(node: Node, over_by: int) -> StorageKeeper:
    """Give the node a keeper, as a running node has, with a budget `over_by` bytes below
    what the home takes now."""
    wants = {ME.public_key: Want(0, 0), ALICE.public_key: Want(1, 0),
             BOB.public_key: Want(1, 0)}
    store, blobs = node.service.store, node.service.blob_store
    assert blobs is not None
    keeper = StorageKeeper(store, blobs, budget=disk_usage(store, blobs) - over_by,
                           grace_ms=7 * 86_400_000, wants=lambda: wants,
                           mine=lambda: {ME.public_key})
    node.service.keeper = keeper
    return keeper


def app_on(node: Node) -> SocialApp:
    backend = InProcessBackend(node, owns_node=False)

    async def opener() -> InProcessBackend:
        return backend
    return SocialApp(opener)


def text_of(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def footer_keys(app: SocialApp) -> list[str]:
    return [key.key for footer in app.screen.query(FitFooter) for key in footer.query("FooterKey")
            if key.display]


async def storage_screen(pilot: Any) -> StorageScreen:
    """Me (3), then s: the Storage screen, measured."""
    app = pilot.app
    await until(pilot, lambda: app.backend is not None, what="the backend")
    await pilot.press("3")
    await until(pilot, lambda: isinstance(app.screen, MeScreen), what="me")
    await until(pilot, lambda: "s" in footer_keys(app), what="s in the footer")
    await pilot.press("s")
    await until(pilot, lambda: isinstance(app.screen, StorageScreen), what="storage")
    screen: StorageScreen = app.screen
    await until(pilot, lambda: "total" in text_of(screen, "#storage-disk"), what="figures")
    return screen


# --- offline ------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_offline_the_screen_shows_the_disk_the_configured_budget_and_the_feeds(
        stored: Node) -> None:
    node = stored
    load_config(node.home.config_file).with_overrides(storage_budget=5_000_000).save(
        node.home.config_file)
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await storage_screen(pilot)
        disk = text_of(screen, "#storage-disk")
        assert "database" in disk and "pictures and files" in disk
        assert "5 held" in disk  # two of Alice's, two of Carol's, mine
        assert "5.0 MB" in disk and "applied by the node" in disk
        assert "known to the running node" in text_of(screen, "#storage-hops")
        feeds = text_of(screen, "#storage-feeds")
        assert "Most room, by feed" in feeds and "Alice" in feeds and "Carol" in feeds
        assert "running node knows" in text_of(screen, "#storage-drop")
        assert {"p", "b", "r"} <= set(footer_keys(app))
        assert "Storage" in str(screen.query_one("TopBar").render())


@pytest.mark.asyncio
async def test_offline_no_budget_says_so(stored: Node) -> None:
    app = app_on(stored)
    async with app.run_test(size=SIZE) as pilot:
        screen = await storage_screen(pilot)
        assert "none" in text_of(screen, "#storage-disk")
        assert "b sets one" in text_of(screen, "#storage-disk")


@pytest.mark.asyncio
async def test_offline_p_is_the_one_line_of_why_and_nothing_goes(stored: Node) -> None:
    node = stored
    before = list(node.service.blob_store.whole())  # type: ignore[union-attr]
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await storage_screen(pilot)
        await pilot.press("p")
        await until(pilot, lambda: OFFLINE_PRUNE in screen.result, what="the line")
        shown = screen.query_one("#storage-result", Static)
        assert shown.has_class("-error") and "\n" not in screen.result
        assert "Traceback" not in app.export_screenshot()
        assert not app._notifications
    assert list(node.service.blob_store.whole()) == before  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_b_refuses_what_is_not_a_size_in_the_dialog_then_saves_it(stored: Node) -> None:
    node = stored
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await storage_screen(pilot)
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BudgetDialog), what="the dialog")
        dialog = app.screen
        await pilot.press(*"lots", "enter")
        error = dialog.query_one("#budget-error", Static)
        await until(pilot, lambda: error.display, what="the error line")
        assert "is not a size" in str(error.render()) and app.screen is dialog
        assert load_config(node.home.config_file).storage_budget == 0
        dialog.query_one(Input).value = ""
        await pilot.press(*"2GB", "enter")
        await until(pilot, lambda: app.screen is screen, what="the dialog closed")
        assert load_config(node.home.config_file).storage_budget == 2_000_000_000
        assert "at most 2.0 GB" in screen.result
        assert "applies when the node starts" in screen.result
        await until(pilot, lambda: "2.0 GB" in text_of(screen, "#storage-disk"),
                    what="the budget shown")
        assert "applied by the node" in text_of(screen, "#storage-disk")


# --- with the node's keeper ---------------------------------------------------------------

@pytest.mark.asyncio
async def test_with_the_node_it_shows_hops_and_what_would_go_and_p_prunes(
        stored: Node) -> None:
    node = stored
    keeper = keep(node, over_by=PICTURE_BYTES + 1000)
    blobs = node.service.blob_store
    assert blobs is not None
    held = len(list(blobs.whole()))
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await storage_screen(pilot)
        hops = text_of(screen, "#storage-hops")
        assert "hop 0 · mine" in hops and "hop 1 · I follow" in hops
        assert "not wanted" in hops
        assert hops.index("hop 0") < hops.index("hop 1") < hops.index("not wanted")
        drop = text_of(screen, "#storage-drop")
        assert "Over the budget by" in drop and "2 pictures and files" in drop
        assert "not wanted" in drop  # Carol's go first: no hop wants her
        assert "in force" in text_of(screen, "#storage-disk")
        await pilot.press("p")
        await until(pilot, lambda: screen.result.startswith("Pruned:"), what="pruned")
        assert "→" in screen.result and "2 pictures and files" in screen.result
        assert not screen.query_one("#storage-result", Static).has_class("-error")
        await until(pilot, lambda: "Within the budget" in text_of(screen, "#storage-drop"),
                    what="measured again")
    assert len(list(blobs.whole())) == held - 2
    assert disk_usage(node.service.store, blobs) <= keeper.budget


@pytest.mark.asyncio
async def test_with_the_node_b_sets_its_budget_now_and_in_config(stored: Node) -> None:
    node = stored
    keeper = keep(node, over_by=PICTURE_BYTES)
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await storage_screen(pilot)
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BudgetDialog), what="the dialog")
        await pilot.press("0", "enter")
        await until(pilot, lambda: app.screen is screen, what="the dialog closed")
        assert keeper.budget == 0
        assert load_config(node.home.config_file).storage_budget == 0
        assert "no limit" in screen.result and "in force now" in screen.result
        await until(pilot, lambda: "No budget" in text_of(screen, "#storage-drop"),
                    what="measured again")


@pytest.mark.asyncio
async def test_attached_to_a_running_node_the_figures_and_prune_come_over_its_socket(
        stored: Node) -> None:
    node = stored
    keep(node, over_by=PICTURE_BYTES + 1000)
    app = SocialApp(attach(node.home.control_socket, node.home))
    async with app.run_test(size=SIZE) as pilot:
        screen = await storage_screen(pilot)
        assert app.state.mode == "attached"
        assert "hop 1 · I follow" in text_of(screen, "#storage-hops")
        assert "Over the budget by" in text_of(screen, "#storage-drop")
        await pilot.press("p")
        await until(pilot, lambda: screen.result.startswith("Pruned:"), what="pruned")
        assert "2 pictures and files" in screen.result
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BudgetDialog), what="the dialog")
        await pilot.press(*"1GB", "enter")
        await until(pilot, lambda: app.screen is screen, what="the dialog closed")
        assert node.service.keeper.budget == 1_000_000_000
        assert load_config(node.home.config_file).storage_budget == 1_000_000_000


# --- reaching it, help, text ----------------------------------------------------------------

@pytest.mark.asyncio
async def test_the_palette_opens_storage(stored: Node) -> None:
    app = app_on(stored)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.backend is not None, what="the backend")
        await pilot.press("colon")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"Storage")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, StorageScreen), what="storage")
        await pilot.press("r")
        await until(pilot, lambda: "total" in text_of(app.screen, "#storage-disk"),
                    what="figures")


@pytest.mark.asyncio
async def test_help_lists_the_storage_keys_on_me_and_on_storage(stored: Node) -> None:
    app = app_on(stored)
    async with app.run_test(size=SIZE) as pilot:
        screen = await storage_screen(pilot)
        rows = dict(HelpScreen(screen).sections())
        own = dict(rows["On this screen (Storage)"])
        assert "Prune now" in own["p"] and "budget" in own["b"] and own["r"]
        me = next(s for s in app.screen_stack if isinstance(s, MeScreen))
        assert "Storage" in dict(dict(HelpScreen(me).sections())["On this screen (Me)"])["s"]


def test_hops_sort_by_number_and_a_prune_is_one_line() -> None:
    names = ["unnamed", "hop 10", "not wanted", "hop 2", "hop 0"]
    assert sorted(names, key=hop_rank) == ["hop 0", "hop 2", "hop 10", "not wanted",
                                           "unnamed"]
    line = prune_line({"before": 2_500_000, "after": 1_900_000, "blobs": 1,
                       "blob_bytes": 500_000, "payloads": 3, "payload_bytes": 900,
                       "feeds_purged": 2})
    assert line == ("Pruned: 2.5 MB → 1.9 MB: 1 picture or file (500.0 kB) and the text of "
                    "3 posts (900 B); 2 feeds that left went")
    assert prune_line({"before": 10, "after": 10}).endswith("nothing had to go")


# --- the snapshot ---------------------------------------------------------------------------

FIXED = StorageView(
    database_bytes=3_412_000, blobs=14, blob_bytes=18_750_000, total_bytes=22_162_000,
    wanted_blobs=3, budget=20_000_000,
    top_feeds=[[ALICE.handle, "Alice", 1_204_000], [BOB.handle, "Bob", 880_000],
               [CAROL.handle, None, 312_000], [ME.handle, "Me Myself", 90_000]],
    would_drop={"blobs": 2, "blob_bytes": 2_100_000, "payloads": 120, "payload_bytes": 61_000,
                "by_hop": {"not wanted": 1_300_000, "hop 2": 861_000},
                "before": 22_162_000, "after": 22_162_000, "budget": 20_000_000},
    by_hop={"hop 0": 2_100_000, "hop 1": 14_200_000, "hop 2": 4_000_000,
            "not wanted": 1_500_000, "unnamed": 362_000})


class FixedFigures(InProcessBackend):
    """The node's backend with fixed figures: the snapshot is the same on every run."""

    async def storage(self) -> StorageView:
        return FIXED


def test_storage_screen_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    """The Storage screen at 80×24 with a running node's figures (fixed)."""
    home = make_home(tmp_path / "home")
    (tmp_path / "home" / "ui.json").write_text(json.dumps({"muted": []}))

    async def opener() -> FixedFigures:
        await fill(home, World().raw())
        node = Node(home, ME, NodeConfig(), offline=True)
        await node.start()
        return FixedFigures(node)

    async def open_storage(pilot: Any) -> None:
        await storage_screen(pilot)
        await until(pilot, lambda: pilot.app.state.network == "offline", what="the status")
        await pilot.pause(0.1)
    app = SocialApp(opener, settings_path=tmp_path / "home" / "ui.json")
    assert snap_compare(app, terminal_size=SIZE, run_before=open_storage)


def test_over_the_budget_with_nothing_that_may_go_is_not_called_within_it() -> None:
    """Seen in tmux: a home of mine only, over a small budget, said "Within the budget"."""
    view = StorageView(database_bytes=254_000, blobs=1, blob_bytes=638, total_bytes=254_638,
                       budget=200_000, by_hop={"hop 0": 1_100},
                       would_drop={"blobs": 0, "payloads": 0, "before": 254_638,
                                   "after": 254_638, "budget": 200_000, "by_hop": {}})
    text = drop_text(view).plain
    assert "Within" not in text
    assert text.startswith("Over the budget by 54.6 kB, but nothing here may go")


class TenFeeds(FixedFigures):
    """Ten feeds with long names, every hop, and a prune that reports."""

    async def storage(self) -> StorageView:
        feeds = [[ALICE.handle, f"Someone with a very long display name number {i}",
                  1_000_000 - i] for i in range(10)]
        return StorageView(**{**FIXED.to_json(), "top_feeds": feeds,
                              "by_hop": {**(FIXED.by_hop or {}), "hop 3": 1_000}})

    async def prune(self) -> dict[str, Any]:
        return {"before": 22_162_000, "after": 19_900_000, "blobs": 2,
                "blob_bytes": 2_100_000, "payloads": 120, "payload_bytes": 61_000,
                "feeds_purged": 0, "entries_purged": 0, "compacted": True}


@pytest.mark.asyncio
async def test_at_80x24_long_names_are_cut_on_their_line_and_the_prune_line_is_seen(
        stored: Node) -> None:
    backend = TenFeeds(stored, owns_node=False)

    async def opener() -> TenFeeds:
        return backend
    app = SocialApp(opener)
    async with app.run_test(size=SIZE) as pilot:
        screen = await storage_screen(pilot)
        feeds = screen.query_one("#storage-feeds", Static)
        await until(pilot, lambda: "number 9" in str(feeds.render()), what="ten feeds")
        await pilot.pause(0.05)
        assert feeds.size.height == 11  # a heading and ten rows: none wrapped
        assert screen.query_one("#storage-hops", Static).size.height == 7
        await pilot.press("p")
        await until(pilot, lambda: screen.result.startswith("Pruned:"), what="pruned")
        result = screen.query_one("#storage-result", Static)
        scroll = screen.query_one("#storage")
        await until(pilot, lambda: result.size.height and scroll.scrollable_content_region
                    .contains_region(result.region), what="the line in sight")
        assert "22.2 MB → 19.9 MB" in screen.result
