"""A hostile peer for tests: it speaks the sync protocol over a real libp2p host, and lies.

    python -m p2psocial.testing.hostile --target /ip4/…/p2p/<handle> --mode forged-signature

Modes (what it sends once the honest node has said which feeds it wants):
    garbage            a frame of random bytes instead of a message
    oversized          a frame length of 2 MiB
    forged-signature   an entry of a wanted feed, signed by someone else
    wrong-author       an entry of another feed inside a frame for a wanted feed
    fork               a second, validly signed entry for a position the honest node holds
                       (needs the author's seed: --author-seed HEX; a malicious author)
    unsolicited        a thousand valid entries of a feed nobody asked for
    have-flood         HELLO, then --messages HAVE messages of 1,024 random feeds each
    stall              HELLO, then most of a 250,000-byte frame, then nothing (forever)
    silent             opens the stream and never sends a byte, not even HELLO
    return             garbage (so it is refused), then a new connection and stream: the
                       answer to the second is reported (`retry_after` too)
    refuser            the other way round: it listens (prints its address first, as
                       {"listening": addr}), answers every sync stream with HELLO and ERROR
                       refused, retry after --retry-after s, and after --wait s reports how
                       many streams were opened to it
With --streams N, stall and silent run N times at once, each from its own throwaway
identity ("answers", "seconds": one per stream). It prints one JSON line saying what it sent
and how the honest node answered, then exits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial
from typing import Any

import trio

from p2psocial.core.content import Post
from p2psocial.core.entry import create_content_entry
from p2psocial.core.errors import NetError, ProtocolError
from p2psocial.core.identity import Identity
from p2psocial.core.replication import (
    NEED_DATA,
    PROTOCOL_ID,
    PeerFailed,
    PeerHas,
    PeerWants,
    SyncSession,
    encode_frame,
    encode_message,
)
from p2psocial.core.replication.messages import MAX_NOTES, Bye, Entries, Have, HaveNote
from p2psocial.net import Channel, DhtMode, Host, HostConfig
from p2psocial.testing.builders import identity_for, make_feed

MODES = ("garbage", "oversized", "forged-signature", "wrong-author", "fork", "unsolicited",
         "stall", "silent", "return", "refuser", "have-flood")
STALL_FRAME = 250_000  # within the 256 KiB a node announces
CONFIG = HostConfig(listen_addrs=("/ip4/127.0.0.1/tcp/0",), dht_mode=DhtMode.OFF,
                    enable_gossip=False)


async def lie(target: str, mode: str, author_seed: bytes | None, *, streams: int = 1,
              wait: float = 60.0, messages: int = 100) -> dict[str, Any]:
    """Connect to `target`, misbehave as `mode`, report what happened."""
    if mode in ("stall", "silent"):
        return await _stall_many(target, mode, streams, wait)
    me = Identity(os.urandom(32))
    async with trio.open_nursery() as nursery:
        host: Host = await nursery.start(Host(me, CONFIG).serve)
        try:
            channel = await _open(host, target)
            report = await _misbehave(channel, "garbage" if mode == "return" else mode,
                                      author_seed, messages)
            if mode == "return":
                with trio.move_on_after(2):
                    while host.is_connected(target.rsplit("/p2p/", 1)[1]):
                        await trio.sleep(0.05)
                report = {**await _come_back(await _open(host, target)), "first": report}
        finally:
            await host.aclose()
    return report


async def _open(host: Host, target: str) -> Channel:
    await host.dial(target)
    channel = await host.open_stream(target.rsplit("/p2p/", 1)[1], PROTOCOL_ID)
    channel.read_timeout = 10
    return channel


async def _come_back(channel: Channel) -> dict[str, Any]:
    """After being refused: open again, send HELLO and WANT, report the answer."""
    session = SyncSession([], agent="hostile/1")
    await channel.send_all(session.initiate())
    seen: dict[str, Any] = {}
    answer = await _answer(channel, session, seen)
    return {"mode": "return", "answer": answer, **seen}


async def _stall_many(target: str, mode: str, streams: int, wait: float) -> dict[str, Any]:
    answers: list[str] = [""] * streams
    seconds: list[float] = [0.0] * streams

    async def one(index: int) -> None:
        async with trio.open_nursery() as nursery:
            host: Host = await nursery.start(Host(Identity(os.urandom(32)), CONFIG).serve)
            try:
                channel = await _open(host, target)
                channel.read_timeout = None
                start = trio.current_time()
                answers[index] = await _stall(channel, mode, wait)
                seconds[index] = round(trio.current_time() - start, 2)
            finally:
                await host.aclose()

    async with trio.open_nursery() as nursery:
        for index in range(streams):
            nursery.start_soon(one, index)
    return {"mode": mode, "answer": answers[0], "answers": answers, "seconds": seconds}


async def _stall(channel: Channel, mode: str, wait: float) -> str:
    """Say HELLO and send most of a frame (stall), or nothing (silent); then wait."""
    session = SyncSession([], agent="hostile/1")
    hello = session.initiate()
    if mode == "stall":
        prefix = encode_frame(bytes(STALL_FRAME))[:-STALL_FRAME]
        await channel.send_all(hello + prefix + bytes(STALL_FRAME - 1000))
    return await _answer(channel, session, {}, wait=wait)


async def refuser(retry_after: int, wait: float) -> dict[str, Any]:
    """Listen; refuse every sync stream with a retry-after; count them for `wait` s."""
    opened: list[float] = []

    async def refuse(channel: Channel) -> None:
        opened.append(trio.current_time())
        await channel.send_all(SyncSession([], agent="hostile/1").refuse(
            "refused", "go away", retry_after))

    async with trio.open_nursery() as nursery:
        host: Host = await nursery.start(Host(Identity(os.urandom(32)), CONFIG).serve)
        try:
            host.set_stream_handler(PROTOCOL_ID, refuse)
            print(json.dumps({"listening": host.listen_addrs()[0]}))
            sys.stdout.flush()
            start = trio.current_time()
            await trio.sleep(wait)
        finally:
            await host.aclose()
    return {"mode": "refuser", "streams": len(opened),
            "at": [round(t - start, 2) for t in opened]}


async def _have_flood(channel: Channel, session: SyncSession, messages: int
                      ) -> dict[str, Any]:
    """HAVE notes for feeds nobody wants, as many as the peer will take."""
    for _ in range(messages):
        notes = tuple(HaveNote(os.urandom(32), 1, 1) for _ in range(MAX_NOTES))
        await channel.send_all(encode_frame(encode_message(Have(notes))))
    await channel.send_all(encode_frame(encode_message(Bye("done"))))
    return {"mode": "have-flood", "sent": messages * MAX_NOTES,
            "answer": await _answer(channel, session)}


async def _misbehave(channel: Channel, mode: str, author_seed: bytes | None,
                     messages: int = 0) -> dict[str, Any]:
    session = SyncSession([], agent="hostile/1")
    await channel.send_all(session.initiate())
    if mode == "garbage":
        # random bytes in a well-formed frame: raw random bytes would sometimes announce a
        # frame longer than what follows, and the honest node rightly waits for the rest
        await channel.send_all(encode_frame(b"\xff" + os.urandom(4095)))
        return await _report(channel, session, {"mode": mode})
    if mode == "oversized":
        await channel.send_all(b"\x80\x80\x80\x01" + b"\0" * 1024)
        return await _report(channel, session, {"mode": mode})
    if mode == "have-flood":
        return await _have_flood(channel, session, messages)
    wants, holds = await _learn_wants(channel, session)
    feed = next(iter(wants), None)
    if feed is None:
        return {"mode": mode, "answer": "the honest node wants nothing"}
    if mode == "forged-signature":
        forger = identity_for("forger")
        entry = create_content_entry(forger, seq=1, prev=None, timestamp=1_700_000_000_000,
                                     content=Post(text="I am not who I say"))
        header = bytearray(entry.header)
        # bytes 6..37 hold the author key (map head, key 0, version, key 1, 0x58 0x20):
        # claim the wanted author; the forger's signature no longer verifies
        header[6:38] = feed
        frame = _entries(feed, [(bytes(header), entry.payload)])
    elif mode == "wrong-author":
        other = make_feed(identity_for("someone-else"), 1)[0]
        frame = _entries(feed, [(other.header, other.payload)])
    elif mode == "fork":
        if author_seed is None:
            raise SystemExit("fork needs --author-seed")
        author = Identity(author_seed)
        feed = author.public_key
        if holds.get(feed, (0, 0))[1] < 1:
            return {"mode": mode, "answer": "the honest node holds nothing to fork"}
        twin = create_content_entry(author, seq=1, prev=None, timestamp=1,
                                    content=Post(text="the other history"))
        frame = _entries(feed, [(twin.header, twin.payload)])
    elif mode == "unsolicited":
        flood = make_feed(identity_for("spammer"), 1000)
        spam = flood[0].author
        frame = b"".join(_entries(spam, [(e.header, e.payload) for e in flood[i:i + 250]])
                         for i in range(0, 1000, 250))
    else:
        raise SystemExit(f"unknown mode {mode}")
    await channel.send_all(frame)
    return await _report(channel, session, {"mode": mode, "feed": feed.hex()})


async def _report(channel: Channel, session: SyncSession, report: dict[str, Any]
                  ) -> dict[str, Any]:
    """`report` with the honest node's answer (and its retry-after, if it gave one)."""
    seen: dict[str, Any] = {}
    answer = await _answer(channel, session, seen)
    return {**report, "answer": answer, **seen}


def _entries(feed: bytes, entries: list[tuple[bytes, bytes | None]]) -> bytes:
    return encode_frame(encode_message(Entries(feed, tuple(entries))))


async def _learn_wants(channel: Channel, session: SyncSession
                       ) -> tuple[list[bytes], dict[bytes, tuple[int, int]]]:
    """Read until the honest node's WANT arrives: the feeds it wants and what it holds."""
    wants: list[bytes] = []
    holds: dict[bytes, tuple[int, int]] = {}
    with trio.move_on_after(10):
        while not wants:
            data = await channel.receive_some()
            if not data:
                break
            session.receive_data(data)
            while (event := session.next_event()) is not NEED_DATA:
                if isinstance(event, PeerWants):
                    for note in event.notes:
                        wants.append(note.feed)
                        holds[note.feed] = (note.lo, note.hi)
                elif isinstance(event, PeerHas):
                    continue
    return wants, holds


async def _answer(channel: Channel, session: SyncSession,
                  seen: dict[str, Any] | None = None, *, wait: float = 5.0) -> str:
    """How the honest node reacted: an ERROR code, a clean close, or silence. An ERROR's
    retry-after goes into `seen`."""
    with trio.move_on_after(wait):
        try:
            while data := await channel.receive_some():
                failed = _failure_in(session, data, {} if seen is None else seen)
                if failed:
                    return failed
        except NetError as exc:
            return f"reset:{type(exc).__name__}"
        return "closed"
    return "silence"


def _failure_in(session: SyncSession, data: bytes, seen: dict[str, Any]) -> str | None:
    try:
        session.receive_data(data)
        while (event := session.next_event()) is not NEED_DATA:
            if isinstance(event, PeerFailed):
                seen["retry_after"] = event.retry_after
                return f"error:{event.code}"
    except ProtocolError as exc:
        return f"unreadable:{exc.code}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--target", help="the honest node's full multiaddr")
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--author-seed", help="hex seed of the author (for --mode fork)")
    parser.add_argument("--streams", type=int, default=1, help="stall/silent: how many")
    parser.add_argument("--wait", type=float, default=60.0,
                        help="stall/silent: how long to wait for an answer; refuser: to run")
    parser.add_argument("--retry-after", type=int, default=60, help="refuser: seconds")
    parser.add_argument("--messages", type=int, default=100, help="have-flood: how many")
    args = parser.parse_args(argv)
    seed = bytes.fromhex(args.author_seed) if args.author_seed else None
    if args.mode == "refuser":
        report = trio.run(refuser, args.retry_after, args.wait)
    elif args.target is None:
        parser.error("--target is required")
    else:
        report = trio.run(partial(lie, streams=args.streams, wait=args.wait,
                                  messages=args.messages),
                          args.target, args.mode, seed)
    print(json.dumps(report))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
