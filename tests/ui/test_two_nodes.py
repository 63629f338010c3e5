"""End to end: two real nodes on loopback, each in its own process, and an app attached to
each. A post composed in Alice's app appears live in Bob's (issue 5, acceptance 3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from p2psocial.testing.nodes import NodeProcess
from p2psocial.ui.app import SocialApp
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.launch import attach
from p2psocial.ui.network import NetworkScreen
from p2psocial.ui.postlist import PostList

from .conftest import SIZE, until

pytestmark = pytest.mark.slow


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[NodeProcess, NodeProcess]]:
    alice = NodeProcess.create(tmp_path / "alice", name="Alice")
    bob = NodeProcess.create(tmp_path / "bob", name="Bob")
    try:
        alice.start()
        bob.cli("follow", alice.handle, "--unknown")
        bob.start(peers=[alice.addrs()[0]])
        yield alice, bob
    finally:
        bob.stop()
        alice.stop()


def texts(app: SocialApp) -> list[str]:
    if not isinstance(app.screen, HomeScreen):
        return []
    return [r.post.text or "" for r in app.screen.query_one(PostList).rows]


@pytest.mark.asyncio
async def test_a_post_composed_in_one_app_appears_live_in_the_other(
        pair: tuple[NodeProcess, NodeProcess]) -> None:
    alice, bob = pair
    alice_app = SocialApp(attach(alice.home / "node.sock"))
    bob_app = SocialApp(attach(bob.home / "node.sock"))
    async with alice_app.run_test(size=SIZE) as a, bob_app.run_test(size=SIZE) as b:
        await until(b, lambda: bob_app.state.mode == "attached", what="bob's app")
        await until(b, lambda: bob_app.state.network not in ("starting…", "offline"),
                    what="bob's node online")
        await until(a, lambda: isinstance(alice_app.screen, HomeScreen), what="alice's app")
        await a.press("c", *"hello bob, from my app", "ctrl+s")
        await until(a, lambda: texts(alice_app)[:1] == ["hello bob, from my app"],
                    what="the post in alice's app")
        await until(b, lambda: texts(bob_app)[:1] == ["hello bob, from my app"],
                    timeout=20, what="the post, live in bob's app")
        row = bob_app.screen.query_one(PostList).rows[0]
        assert "Alice" in (bob_app.state.names.get(row.post.author), row.post.name)
        await b.press("4")  # the network screen shows alice as a direct peer
        assert isinstance(bob_app.screen, NetworkScreen)
        peers = bob_app.screen.query_one("#peers", DataTable)
        await until(b, lambda: peers.row_count == 1 and peers.get_row_at(0)[1] == "direct",
                    what="alice among bob's peers")
        banners = bob_app.screen.query_one("#banners", Static)
        assert "Offline" not in str(banners.render())
