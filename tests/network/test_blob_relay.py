"""A member's pictures stay available through its relay while the member is offline
(docs/protocol.md B8): the relay fetches them at once from its member; a follower in
another private namespace, who can never reach the author, gets the post and its picture
from the relay. Every node is its own OS process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from p2psocial.store.blobs import BlobStore
from p2psocial.testing.nodes import NodeProcess
from tests.network.test_relays import World, internet, relay_state, shows, world

pytestmark = pytest.mark.slow
__all__ = ["internet", "world"]  # fixtures used here


def held(node: NodeProcess, blob: str) -> bool:
    return BlobStore(node.home / "blobs").has(bytes.fromhex(blob))


def test_a_relay_keeps_its_members_pictures_for_followers(world: World,
                                                           tmp_path: Path) -> None:
    r = world.node("r", public=True)
    a, b = world.node("a", public=False), world.node("b", public=False)
    r_addr = world.start(r, relay=True)
    a.cli("relays", "add", r_addr)
    file = tmp_path / "notes.bin"
    file.write_bytes(os.urandom(200_000))  # four chunks, not an image: any file travels
    post = a.json("post", "my notes from the talk", "--attach", str(file))
    blob = post["content"]["attachments"][0]["blob"]
    world.start(a)
    a.wait_for(lambda n: relay_state(n, r_addr) == "reserved", timeout=30,
               what="a's reservation on r")
    r.wait_for(lambda n: held(n, blob), timeout=30, what="r fetching its member's file")
    token = a.cli("invite").stdout.strip()
    a.stop()

    b.cli("follow", token)
    world.start(b)
    b.wait_for(shows("my notes from the talk", a.handle), timeout=30, what="a's post via r")
    b.wait_for(lambda n: held(n, blob), timeout=30, what="a's file from r, a offline")
    assert (b.home / "blobs" / blob[:2] / blob).read_bytes() == file.read_bytes()
