"""A real home for UI tests: my identity, a database of signed feeds built by the builders,
and an offline node on it. The app reaches it through the in-process backend."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest_asyncio
from textual.pilot import Pilot

from p2psocial.core.entry import Entry
from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.node import Node
from p2psocial.store import keyfile
from p2psocial.store.home import Home
from p2psocial.store.sqlite import Store
from p2psocial.testing import FeedBuilder, identity_for, raw_entries
from p2psocial.ui.app import SocialApp
from p2psocial.ui.backend import InProcessBackend

ME = identity_for("ui-me")
ALICE = identity_for("ui-alice")
BOB = identity_for("ui-bob")
CAROL = identity_for("ui-carol")
SIZE = (80, 24)


class World:
    """The entries in the test home, by name."""

    def __init__(self) -> None:
        me, alice, bob, carol = (FeedBuilder(i) for i in (ME, ALICE, BOB, CAROL))
        self.builders = {"me": me, "alice": alice, "bob": bob, "carol": carol}
        me.about("Me Myself")
        me.follow(ALICE.public_key)
        me.follow(BOB.public_key)
        self.my_post = me.post("my first post, from the builder")
        alice.about("Alice", "I write about #gardens")
        self.alice_post = alice.post("hello from alice #gardens")
        self.alice_cw = alice.post("the ending of the film", cw="film spoilers")
        bob.about("Bob")
        self.bob_reply = bob.reply(self.alice_post, "nice garden, alice")
        self.bob_post = bob.post(f"hey @{ME.handle} look at this", mentions=(ME.public_key,))
        bob.react(self.my_post, "👍")
        bob.follow(ME.public_key)
        carol.about("Carol")
        self.carol_post = carol.post("carol is not followed yet")
        self.alice_reply = alice.reply(self.bob_reply, "thanks bob")

    def raw(self) -> list[tuple[bytes, bytes | None]]:
        out = []
        for builder in self.builders.values():
            out.extend(raw_entries(builder.entries))
        return out


def make_home(root: Path) -> Home:
    home = Home(root)
    home.create()
    keyfile.write_doc(home.key_file, keyfile.seal(ME, ""))
    return home


async def fill(home: Home, raw: list[tuple[bytes, bytes | None]]) -> None:
    store = await Store.open(home.database)
    try:
        await store.set_owner(ME.public_key)
        report = await store.ingest(raw)
        assert report.ok, report.error
    finally:
        await store.close()


def build_home_sync(root: Path, world: World | None = None) -> Home:
    """A filled home, for tests that run the app outside an event loop (snapshots)."""
    home = make_home(root)
    asyncio.run(fill(home, (world or World()).raw()))
    return home


@pytest_asyncio.fixture
async def world() -> World:
    return World()


@pytest_asyncio.fixture
async def node(tmp_path: Path, world: World) -> AsyncIterator[Node]:
    home = make_home(tmp_path / "home")
    await fill(home, world.raw())
    n = Node(home, ME, NodeConfig(), offline=True)
    await n.start()
    yield n
    await n.stop()


def app_for(node: Node, settings: Path | None = None) -> SocialApp:
    backend = InProcessBackend(node, owns_node=False)

    async def opener() -> InProcessBackend:
        return backend
    return SocialApp(opener, settings_path=settings)


async def until(pilot: Pilot[object], check: Callable[[], object], timeout: float = 5.0,
                what: str = "condition") -> None:
    """Let the app run until `check()` is true."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def deliver(node: Node, entries: list[Entry]) -> None:
    """Store received entries and announce them, as the replicator does."""
    report = await node.store.ingest(raw_entries(entries))
    assert report.ok, report.error
    node.entries_stored(report.accepted)
