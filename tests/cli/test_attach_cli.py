"""`post --attach`, `blob` and `storage` from the command line: what a user sees, and every
bad input one clear line with nothing posted and nothing left behind."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from tests.cli.conftest import Cli


def _png(path: Path) -> Path:
    Image.new("RGB", (32, 24), (200, 120, 40)).save(path)
    return path


def test_a_post_with_a_picture_and_a_file(cli: Cli, tmp_path: Path) -> None:
    photo, notes = _png(tmp_path / "river.png"), tmp_path / "notes.txt"
    notes.write_text("three things\n")
    out = cli("post", "--attach", str(photo), "--alt", "river at dusk", "--attach",
              str(notes), "Golden hour").stdout
    assert "[picture: river at dusk] image/png" in out
    assert "[file: notes.txt] text/plain 13 B" in out
    [post] = json.loads(cli("feed", "--json").stdout)
    picture, file = post["content"]["attachments"]
    assert picture["alt"] == "river at dusk" and picture["name"] == "river.png"
    assert file["type"] == "text/plain" and "alt" not in file
    saved = tmp_path / "copy.png"
    got = json.loads(cli("blob", "get", picture["blob"], "-o", str(saved), "--json").stdout)
    assert saved.read_bytes() == photo.read_bytes() and got["alt"] == "river at dusk"
    assert cli("blob", "hash", str(notes)).stdout.strip() == file["blob"]
    storage = json.loads(cli("storage", "--json").stdout)
    assert storage["blobs"] == 2
    assert storage["blob_bytes"] == photo.stat().st_size + notes.stat().st_size
    assert "pictures and files" in cli("storage").stdout


def test_bad_attachments_are_one_line_and_post_nothing(cli: Cli, tmp_path: Path) -> None:
    fake = tmp_path / "fake.jpg"
    fake.write_text("not a picture")
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (5 * 1024 * 1024 + 1))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    cases = [
        (("--attach", str(fake)), "not an image that can be read"),
        (("--attach", str(big)), "over the 5 MiB"),
        (("--attach", str(empty)), "is empty"),
        (("--attach", str(tmp_path / "missing.png")), "does not exist"),
        (("--attach", str(tmp_path)), "is a directory"),
        (("--alt", "no picture"), "more --alt than --attach"),
        (tuple(x for i in range(5) for x in ("--attach", str(_png(tmp_path / f"{i}.png")))),
         "at most 4"),
        (("--attach", str(_png(tmp_path / "a.png")), "--alt", "x" * 1501), "limit is 1500"),
    ]
    for args, words in cases:
        line = cli.fails("post", *args, "text")
        assert words in line, (args, line)
    assert json.loads(cli("feed", "--json").stdout) == []
    blobs = cli.home / "blobs"
    assert not blobs.exists() or not [p for p in blobs.rglob("*") if p.is_file()]
    assert "not a blob id" in cli.fails("blob", "get", "abc")
    assert "not held here" in cli.fails("blob", "get", "ab" * 32)
    assert "not a size" in cli.fails("storage", "budget", "lots")
    assert "needs the running node" in cli.fails("storage", "prune")
    assert "budget 2.0 GB" in cli("storage", "budget", "2GB").stdout.replace("at most ", "budget ")
    assert "applied by the node" in cli("storage").stdout


def test_arguments_that_are_not_utf8_are_one_line(cli: Cli, tmp_path: Path) -> None:
    """Bytes a terminal in another encoding sends reach Python as lone surrogates: every
    verb refuses them in one line (they crashed several with an internal error), except in
    file names, which may hold any bytes."""
    bad = "bad \udcff byte"
    for args in (("post", bad), ("post", "--cw", bad, "text"), ("mute", bad),
                 ("about", "--name", bad), ("follow", bad), ("search", bad),
                 ("dm", bad, "hi")):
        line = cli.fails(*args)
        assert "is not UTF-8 text" in line and "bad \\xff byte" in line, (args, line)
    latin1 = tmp_path / "riv\udce9r.png"  # a file name in Latin-1 on disk
    _png(latin1)
    out = cli("post", "--attach", str(latin1), "a picture with a Latin-1 file name").stdout
    assert "[picture: riv\ufffdr.png]" in out
    assert json.loads(cli("feed", "--json").stdout)[0]["text"].startswith("a picture")
