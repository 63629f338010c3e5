"""The mail holder on a running node (runtime/mail_holder.py, spec M14-M25, D6).

Alice runs as an OS process and holds her own mailbox (POW bits 8 by her config); bob, an
in-process node on loopback, writes to her over the real `/p2psocial/mail/1.0.0` stream. A
stranger is asked for a stamp, then stored, then told `duplicate`; alice's mailbox is not
fetched by bob (D6); a wrap for a mailbox not held there is `not-here`; a bad request closes
the stream unanswered and stores nothing; once alice blocks bob he is told `blocked`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from p2psocial.core.identity import Identity, parse_handle
from p2psocial.core.mail import delivery
from p2psocial.core.mail.inner import Kind, make_inner
from p2psocial.core.mail.stamp import day_of, make_stamp
from p2psocial.core.mail.wire import (
    MailboxRequest,
    Op,
    Put,
    Stamp,
    Status,
    encode_request,
    parse_answer,
)
from p2psocial.core.mail.wrap import parse_wrap
from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.mail_holder import exchange
from p2psocial.runtime.node import Node
from p2psocial.runtime.replicator import Replicator
from p2psocial.store import keyfile
from p2psocial.store.home import Home
from p2psocial.testing import identity_for
from p2psocial.testing.nodes import NodeProcess

BOB = identity_for("mail-holder-bob")
CAROL = identity_for("mail-holder-carol")
LOOPBACK = "/ip4/127.0.0.1/tcp/0"


def make_node(root: Path, identity: Identity) -> Node:
    home = Home(root)
    home.create()
    keyfile.write_doc(home.key_file, keyfile.seal(identity, ""))
    return Node(home, identity, NodeConfig(
        listen=[LOOPBACK], mdns=False, dht=False, announce=False, look_seconds=3600.0),
        offline=False)


def wrap_for(writer: Identity, reader: bytes, text: str = "hello") -> bytes:
    message = make_inner(writer, account=writer.public_key, to=[reader], msg_id=os.urandom(16),
                         ts=time.time_ns() // 1_000_000, kind=Kind.TEXT, text=text)
    wraps = delivery.seal_all(message, {reader: [reader], writer.public_key: [writer.public_key]})
    assert [w.to for w in wraps] == [reader]
    return wraps[0].raw


def held_wraps(home: Path) -> list[bytes]:
    with sqlite3.connect(f"file:{home / 'p2psocial.db'}?mode=ro", uri=True) as db:
        return [bytes(r[0]) for r in db.execute("SELECT wrap FROM mailbox ORDER BY cursor")]


@pytest.mark.asyncio
@pytest.mark.timeout(90)
async def test_the_holder_answers_puts_and_fetches_by_the_spec(tmp_path: Path) -> None:
    alice = NodeProcess.create(tmp_path / "alice")
    alice.home.joinpath("config.json").write_text(json.dumps({"mail_pow_bits": 8}))
    alice.start(extra=("--no-dht",))
    alice_key = parse_handle(alice.handle)
    bob = make_node(tmp_path / "bob", BOB)
    try:
        await bob.start()
        await bob.connect(alice.addrs()[0])
        net = bob._network
        assert isinstance(net, Replicator)

        async def ask(request: bytes) -> bytes:
            return await exchange(net._bridge, net._host, alice.handle, request)

        raw = wrap_for(BOB, alice_key)
        answer = parse_answer(await ask(encode_request(Put(raw))))
        assert (answer.status, answer.extra) == (Status.POW, 8)
        day = day_of(time.time_ns() // 1_000_000)
        stamp = Stamp(make_stamp(parse_wrap(raw).hash, day, 8), day)
        assert parse_answer(await ask(encode_request(Put(raw, stamp)))).status is Status.STORED
        again = parse_answer(await ask(encode_request(Put(raw, stamp))))
        assert again.status is Status.DUPLICATE
        fetch = encode_request(MailboxRequest(Op.FETCH, alice_key, 0))
        assert parse_answer(await ask(fetch)).status is Status.FORBIDDEN  # D6
        other = encode_request(Put(wrap_for(BOB, CAROL.public_key)))
        assert parse_answer(await ask(other)).status is Status.NOT_HERE
        assert await ask(b"\xa1\x00\x02not a mail request") == b""  # closed, unanswered
        bad = encode_request(Put(b"\x00" * 600))
        assert parse_answer(await ask(bad)).status is Status.BAD
        assert held_wraps(alice.home) == [raw]

        alice.cli("block", bob.handle)
        later = encode_request(Put(wrap_for(BOB, alice_key, "again")))
        assert parse_answer(await ask(later)).status is Status.BLOCKED
        assert held_wraps(alice.home) == [raw]
        # bob's own client (M18): a `blocked` answer from every holder tried ends the try at
        # once, "not delivered", instead of retrying for 7 days
        await bob.service.send_message([alice.handle], "let me in")
        deadline = time.monotonic() + 30
        while await bob.store.outbox.next_due() is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await bob.store.outbox.next_due() is None
        assert held_wraps(alice.home) == [raw]
    finally:
        await bob.stop()
        alice.stop()


def test_the_config_refuses_a_stamp_no_holder_may_ask(tmp_path: Path) -> None:
    from p2psocial.core.errors import UsageError
    from p2psocial.runtime.config import load_config
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"mail_pow_bits": 29}))
    with pytest.raises(UsageError, match="mail_pow_bits"):
        load_config(path)
    path.write_text(json.dumps({"mail_pow_bits": 8, "mail_stranger_per_day": 2}))
    config = load_config(path)
    assert (config.mail_pow_bits, config.mail_stranger_per_day) == (8, 2)
