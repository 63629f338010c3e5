"""Pictures between real nodes in separate OS processes on loopback (docs/protocol.md
§Blobs, B8): a follower (hop 1) fetches a post's picture at once; a reader at hop 2 does
not, and gets it on demand with `blob get`; offline, a blob not held is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from p2psocial.store.blobs import BlobStore
from p2psocial.testing.nodes import NodeProcess
from tests.network.test_nodes import Make, nodes

pytestmark = pytest.mark.slow
__all__ = ["nodes"]  # the fixture, from test_nodes


def picture(path: Path) -> Path:
    image = Image.new("RGB", (400, 300))
    image.putdata([(x % 256, y % 256, (x * y) % 256) for y in range(300) for x in range(400)])
    image.save(path)  # ~100 kB of PNG: two chunks
    return path


def held(node: NodeProcess, blob: str) -> bool:
    return BlobStore(node.home / "blobs").has(bytes.fromhex(blob))


def test_followers_fetch_pictures_at_once_and_others_on_demand(nodes: Make,
                                                               tmp_path: Path) -> None:
    alice, bob, carol = nodes("Alice"), nodes("Bob"), nodes("Carol")
    photo = picture(tmp_path / "river.png")
    [post] = [alice.json("post", "Golden hour #photography", "--attach", str(photo),
                         "--alt", "the river at dusk")]
    [attachment] = post["content"]["attachments"]
    blob = attachment["blob"]
    assert attachment["type"] == "image/png" and attachment["alt"] == "the river at dusk"
    assert held(alice, blob)

    line = carol.cli("blob", "get", blob, check=False)
    assert line.returncode != 0 and "not held here" in line.stderr
    assert "Traceback" not in line.stderr

    alice.start()
    bob.cli("follow", alice.handle, "--unknown")
    bob.start(peers=[alice.addrs()[0]])
    bob.wait_for(lambda n: held(n, blob), what="bob fetching alice's picture at once")
    assert (bob.home / "blobs" / blob[:2] / blob).read_bytes() == photo.read_bytes()

    carol.cli("follow", bob.handle, "--unknown")  # alice is at hop 2 for carol
    carol.start(peers=[bob.addrs()[0]])
    carol.wait_for(lambda n: "Golden hour #photography" in n.texts(alice.handle),
                   what="carol syncing alice's post at hop 2")
    assert not held(carol, blob)
    out = tmp_path / "saved.png"
    got = carol.json("blob", "get", blob, "-o", str(out))
    assert got["alt"] == "the river at dusk" and got["type"] == "image/png"
    assert out.read_bytes() == photo.read_bytes() and held(carol, blob)
    storage = carol.json("storage")
    assert storage["blobs"] == 1 and storage["blob_bytes"] == photo.stat().st_size
    assert storage["by_hop"]["hop 2"] >= photo.stat().st_size  # alice's post and picture
    assert storage["by_hop"]["hop 1"] > 0 and storage["would_drop"]["blobs"] == 0
