"""A living demo network on this machine, and the terminal UI on your own node inside it.

    python examples/demo_network.py [--home DIR] [--demo-dir DIR] [--no-ui]

`make run` runs this. It:
1. creates your home if it holds no identity yet (on a terminal the passphrase is asked
   twice, new and repeat, and handed to `p2psocial init` and then to the UI through pipes,
   so the UI does not ask a third time; unattended, the key is stored unencrypted and a
   warning says so);
2. starts a local relay (`p2psocial relay`, open policy, on a loopback port kept in the demo
   directory) and three demo peers (Ana, Ben, Chioma) that use it as their relay, each a
   `p2psocial run` process listening on loopback with its own home under the demo directory
   (default: your home's path + "-demo");
   the first time, they write a small history over their control sockets: profiles, posts,
   replies, reactions, a repost, a content warning, follows (of each other and of you);
3. opens the UI on your own node (`p2psocial` with no command, so the node runs inside the
   UI) and, once that node is online, has it follow the peers and connect to them and to
   the demo relay (as a peer: the relay's loopback address is never published in your
   signed log, nor written to your config);
4. keeps the peers talking while you look: one of them posts, replies or reacts now and
   then, and each of your posts gets one reaction and one reply within seconds (once: the
   posts answered are kept in the demo directory, so a restarted demo does not answer
   them again), replies that vary with what you wrote;
5. stops the peers when you leave the UI (q on the home timeline, or ctrl+q).

From its start until it ends, keys typed on the terminal are not echoed: a passphrase
typed before the UI's prompt shows (seconds after the demo starts) is kept for that prompt,
not printed in clear where the scrollback keeps it.

With --no-ui your node runs headless (`p2psocial run`) instead, until interrupted (SIGINT or
SIGTERM): for scripts and tests. The demo's logs are in the demo directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from p2psocial.cli import passphrase
from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.control import ControlClient
from p2psocial.store.home import Home, resolve_home
from p2psocial.testing.nodes import NodeProcess

T = TypeVar("T")
log = logging.getLogger("demo")
LOOPBACK = "/ip4/127.0.0.1/tcp/0"
SEEDED = ".seeded"
TICK = 2.0  # seconds between looks at your feed (to answer your new posts)
RETRY = 20.0  # seconds to keep retrying a reply until its parent has replicated


@dataclass(frozen=True)
class Persona:
    """A demo peer: who they are and what they say."""

    name: str
    bio: str
    posts: tuple[str, ...]
    chatter: tuple[str, ...]  # said later, one now and then


PEOPLE = (
    Persona("Ana", "Gardener, balcony farmer, seed swapper. #gardening",
            ("The tomatoes finally turned red 🍅 #gardening",
             "Question for everyone: which plant can nobody kill? #gardening"),
            ("Seed swap on Saturday: bring what you have, take what you need. #gardening",
             "Rain at last. The basil is very smug about it.",
             "Compost update: it is warm, which means it is working. #gardening",
             "If you follow someone here, you also see a bit of who they follow. Try it.")),
    Persona("Ben", "Writes small tools in Rust and Python. Cycles to work, rain or shine.",
            ("Shipped a tiny CLI today. Feedback welcome #coding",),
            ("Hot take: the best config format is the one you don't need. #coding",
             "Flat tyre, 7 km from home. The bike won. 🚲",
             "Reading the py-libp2p source on the train. Send coffee. #coding",
             "Nobody can take this account away from me: the key is on my laptop.")),
    Persona("Chioma", "Photographer. Rivers, markets, light. Prints on request.",
            ("Golden hour over the river. No filter. #photography",),
            ("Market day: the colours never get old. #photography",
             "Testing a 50 mm lens that is older than me. It is sharp. #photography",
             "Fog this morning: the city looked like a pencil sketch.",
             "Tip: press 2 in the app to see who replied to you.")),
)
SPOILER = ("Season finale: the twist was obvious from episode two, and I still gasped.",
           "TV spoilers")
REACTIONS = ("❤", "👍", "🎉", "👀")
REPLIES_TO_YOU = ("Welcome! Nice to see a new face here.", "Hello from the demo network 👋",
                  "Good to hear from you. Tell us more?", "Nice one!",
                  "Ha, I was just thinking the same thing.", "Noted. Keep them coming!",
                  "This made my day, thanks.", "Interesting. What got you into it?")
REPLIES_TO_QUESTIONS = ("Good question. I'd say: try it and see!",
                        "Hmm, ask me again after coffee.",
                        "I have opinions about this. Many opinions.")
ANSWERED = "answered.json"  # the newcomer's posts answered so far (hashes)


def reply_to(text: str, deck: list[str]) -> str:
    """A reply that fits `text` (a question, a #tag) and, else, the next one of `deck` (a
    shuffled list of REPLIES_TO_YOU, refilled when empty: no reply repeats before every
    other one has been said)."""
    tags = [w.strip(".,!?") for w in text.split() if w.startswith("#") and len(w) > 1]
    if text.rstrip().endswith("?"):
        return random.choice(REPLIES_TO_QUESTIONS)
    if tags and random.random() < 0.5:
        return f"More {tags[0]} here, please!"
    if not deck:
        deck.extend(random.sample(REPLIES_TO_YOU, len(REPLIES_TO_YOU)))
    return deck.pop()


def golden_hour(path: Path) -> Path:
    """Draw Chioma's picture: a sunset over a river (made here, so the demo ships no image)."""
    from PIL import Image, ImageDraw

    width, height = 480, 320
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    horizon = height * 3 // 5
    for y in range(horizon):  # the sky: deep blue above, orange at the horizon
        t = y / horizon
        draw.line([(0, y), (width, y)], fill=(int(40 + 215 * t), int(40 + 120 * t),
                                              int(110 - 60 * t)))
    draw.ellipse([width // 2 - 40, horizon - 60, width // 2 + 40, horizon + 20],
                 fill=(255, 214, 120))
    for y in range(horizon, height):  # the river, darker with depth, the sun's path in gold
        t = (y - horizon) / (height - horizon)
        draw.line([(0, y), (width, y)], fill=(int(180 - 120 * t), int(100 - 50 * t),
                                              int(70 - 20 * t)))
        if y % 6 < 3:
            half = int(50 * (1 - t) + 10)
            draw.line([(width // 2 - half, y), (width // 2 + half, y)], fill=(255, 200, 90))
    draw.rectangle([0, horizon - 14, width, horizon], fill=(30, 40, 25))  # the far bank
    image.save(path)
    return path


class DemoPeer:
    """A demo peer: its home, its `p2psocial run` process, and a control-socket client."""

    def __init__(self, persona: Persona, root: Path) -> None:
        self.persona = persona
        self.node = NodeProcess(root / persona.name.lower())
        self.client: ControlClient | None = None
        self.handle = ""
        self.addr = ""

    @property
    def name(self) -> str:
        return self.persona.name

    def prepare(self, relay: str) -> None:
        """Create the home the first time (an unencrypted throwaway identity), and make
        `relay` its one relay."""
        if not self.node.home.joinpath("key.json").exists():
            self.node.cli("init", "--no-passphrase", "--single-key")
            self.node.cli("about", "--name", self.name, "--bio", self.persona.bio)
        for old in json.loads(self.node.cli("relays", "list", "--json").stdout):
            if old["addr"] != relay:
                self.node.cli("relays", "remove", old["addr"])
        if not self.node.cli("relays", "list").stdout.startswith(relay):
            self.node.cli("relays", "add", relay)

    def start(self) -> None:
        """Start the node (blocking: run it in a thread) and learn its handle and address."""
        self.node.start(listen=LOOPBACK)
        status = self.node.json("status")
        self.handle, self.addr = status["handle"], status["listen"][0]

    async def open(self) -> None:
        self.client = await ControlClient.open(self.node.home / "node.sock")

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        assert self.client is not None
        return await self.client.call(method, *args, **kwargs)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    def stop(self) -> None:
        self.node.stop()


@dataclass
class DemoNetwork:
    """A local relay and the demo peers around your node."""

    root: Path
    peers: list[DemoPeer] = field(default_factory=list)
    chatter: list[tuple[DemoPeer, str]] = field(default_factory=list)
    relay: NodeProcess | None = None
    relay_addr: str = ""

    def start_relay(self) -> str:
        """Start the demo relay on its kept port (a new one if that is taken); its address."""
        node = self.relay = NodeProcess(self.root / "relay")
        if not node.home.joinpath("key.json").exists():
            node.cli("init", "--no-passphrase", "--single-key")
            node.cli("about", "--name", "Demo relay")
        port_file = self.root / "relay.port"
        port = int(port_file.read_text()) if port_file.exists() else 0
        try:
            node.start(listen=f"/ip4/127.0.0.1/tcp/{port}", verb="relay")
        except AssertionError:  # the kept port is taken: any free one
            node.start(listen=LOOPBACK, verb="relay")
        self.relay_addr = node.json("status")["listen"][0]
        port_file.write_text(self.relay_addr.split("/tcp/")[1].split("/")[0])
        return self.relay_addr

    @classmethod
    def of(cls, root: Path) -> DemoNetwork:
        return cls(root, [DemoPeer(p, root) for p in PEOPLE])

    async def start(self) -> None:
        """Start every peer at once, connect them to each other, and open their clients."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._answered()  # the first run: posts are answered from now on
        relay = await asyncio.to_thread(self.start_relay)
        await asyncio.gather(*(asyncio.to_thread(_prepare_and_start, p, relay)
                               for p in self.peers))
        for peer in self.peers:
            await peer.open()
        for i, peer in enumerate(self.peers):
            for other in self.peers[i + 1:]:
                await _quietly(peer.call("connect", other.addr))
        log.info("peers up: %s", ", ".join(f"{p.name} {p.addr}" for p in self.peers))

    async def stop(self) -> None:
        for peer in self.peers:
            await peer.close()
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in self.peers))
        if self.relay is not None:
            await asyncio.to_thread(self.relay.stop)

    # --- the story so far ---------------------------------------------------------------

    async def befriend(self, newcomer: str) -> None:
        """Peers follow each other and the newcomer (what they follow already is kept)."""
        for peer in self.peers:
            following = set(await peer.call("following"))
            for handle in [p.handle for p in self.peers if p is not peer] + [newcomer]:
                if handle not in following and handle != peer.handle:
                    await peer.call("follow", handle, unknown=True)

    async def seed(self, newcomer: str) -> None:
        """The first run: a small history with replies, reactions and a repost."""
        marker = self.root / SEEDED
        if marker.exists():
            return
        ana, ben, chioma = self.peers
        posts: dict[str, str] = {}
        for peer in self.peers:
            for i, text in enumerate(peer.persona.posts):
                attach = []
                if text.startswith("Golden hour"):  # Chioma's picture
                    attach = [[str(golden_hour(self.root / "golden-hour.png")),
                               "The sun low over a wide river, the water gold and rippled, "
                               "dark trees on the far bank."]]
                posts[f"{peer.name}{i}"] = (await peer.call("post", text,
                                                            attach=attach)).hash
        await ben.call("post", SPOILER[0], cw=SPOILER[1])
        await chioma.call("post", f"Welcome to the network, @{newcomer}! Press c to write "
                                  "your first post, ? for every key.")
        mint = await _retry(lambda: ben.call("post", "Mint. It will outlive us all.",
                                             reply_to=posts["Ana1"]))
        await _retry(lambda: chioma.call("post", "Mint and rosemary, can confirm.",
                                         reply_to=mint.hash))
        await _retry(lambda: ana.call("post", "Stunning light!", reply_to=posts["Chioma0"]))
        await _retry(lambda: ana.call("react", posts["Chioma0"], "❤"))
        await _retry(lambda: ben.call("react", posts["Ana0"], "👍"))
        await _retry(lambda: chioma.call("react", posts["Ben0"], "🎉"))
        await _retry(lambda: ben.call("repost", posts["Chioma0"]))
        marker.write_text(json.dumps({p.name: p.handle for p in self.peers}) + "\n")
        log.info("seeded the demo history")

    # --- life -----------------------------------------------------------------------------

    async def live(self, newcomer: str, pace: float) -> None:
        """Answer each of the newcomer's posts once, within seconds; say something every
        `pace` s. The posts written before the demo first ran are not answered; those
        answered are kept in ANSWERED (a restarted demo, or peers that only now hold the
        newcomer's older posts, must not answer them again)."""
        self.chatter = [(p, text) for p in self.peers for text in p.persona.chatter]
        random.shuffle(self.chatter)
        since, answered = self._answered()
        deck: list[str] = []
        next_chat = time.monotonic() + pace
        while True:
            await asyncio.sleep(TICK)
            posts = await self._newcomer_posts(newcomer)
            for ref, text, timestamp in posts:
                if ref in answered or timestamp < since:
                    continue
                answered.add(ref)  # once, even if answering fails (the demo carries on)
                self._keep_answered(since, answered)
                await _quietly(self._answer(ref, reply_to(text, deck)))
            log.info("looked at your posts: %d answered so far", len(answered))
            if time.monotonic() >= next_chat:
                next_chat = time.monotonic() + pace * random.uniform(0.6, 1.4)
                await _quietly(self._chat())

    def _answered(self) -> tuple[int, set[str]]:
        """Since when (ms) posts are answered, and those answered (from ANSWERED)."""
        path = self.root / ANSWERED
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            data = json.loads(path.read_text())
            return int(data["since"]), {str(h) for h in data["answered"]}
        since = int(time.time() * 1000)
        self._keep_answered(since, set())
        return since, set()

    def _keep_answered(self, since: int, answered: set[str]) -> None:
        path = self.root / ANSWERED
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"since": since, "answered": sorted(answered)}) + "\n")
        os.replace(tmp, path)

    async def _newcomer_posts(self, newcomer: str) -> list[tuple[str, str, int]]:
        """(hash, text, timestamp) of the newcomer's recent posts that the peers hold,
        oldest first."""
        views = await _quietly(self.peers[0].call("posts", newcomer, limit=10))
        return [(v.hash, v.text or "", v.timestamp) for v in reversed(views or [])
                if v.type == "post"]

    async def _answer(self, ref: str, reply: str) -> None:
        reactor, replier = random.sample(self.peers, 2)
        await _retry(lambda: reactor.call("react", ref, random.choice(REACTIONS)))
        await _retry(lambda: replier.call("post", reply, reply_to=ref))

    async def _chat(self) -> None:
        if not self.chatter:
            return
        peer, text = self.chatter.pop()
        view = await peer.call("post", text)
        listener = random.choice([p for p in self.peers if p is not peer])
        await _retry(lambda: listener.call("react", view.hash, random.choice(REACTIONS)))


def _prepare_and_start(peer: DemoPeer, relay: str) -> None:
    peer.prepare(relay)
    peer.start()


async def _retry(call: Callable[[], Awaitable[T]], timeout: float = RETRY) -> T:
    """Retry a call that needs an entry another peer wrote (until it has replicated)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await call()
        except P2PSocialError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _quietly(call: Awaitable[T]) -> T | None:
    """A call whose failure is logged, not fatal (the demo carries on)."""
    try:
        return await call
    except P2PSocialError as exc:
        log.warning("%s", exc)
        return None


# --- your node --------------------------------------------------------------------------

def ensure_identity(home: Home) -> str | None:
    """Create your identity if the home has none. On a terminal the new passphrase is asked
    here (twice) and returned, for the UI to unlock the key without asking a third time."""
    if home.exists():
        return None
    # a single key: an account's recovery phrase, shown once, would scroll away under the UI
    command = [sys.executable, "-m", "p2psocial", "--home", str(home.root), "init",
               "--single-key"]
    if not sys.stdin.isatty() or os.environ.get(passphrase.ENV_PASSPHRASE_FILE):
        command.append("--no-passphrase")  # unattended: `init` warns it is unencrypted
        subprocess.run(command, check=True)
        return None
    print("Creating your identity: a key pair kept in", home.root)
    secret = passphrase.ask_new(no_passphrase=False)
    if not secret:
        command.append("--no-passphrase")
    with passphrase_pipe(secret) as (fd, env):
        subprocess.run(command, check=True, pass_fds=(fd,), env=env)
    return secret or None


@contextlib.contextmanager
def passphrase_pipe(secret: str) -> Iterator[tuple[int, dict[str, str]]]:
    """A pipe holding `secret` and the environment that makes a p2psocial child read it
    (P2PSOCIAL_PASSPHRASE_FILE=/dev/fd/N): the passphrase never touches the disk."""
    read, write = os.pipe()
    try:
        os.write(write, secret.encode() + b"\n")
        os.close(write)
        yield read, {**os.environ, passphrase.ENV_PASSPHRASE_FILE: f"/dev/fd/{read}"}
    finally:
        os.close(read)


async def your_node(socket_path: Path, alive: Callable[[], bool]) -> ControlClient | None:
    """A client of your node, once it answers and is online; None if `alive()` turns false
    first (you left the UI, or the node could not start: it said why)."""
    while alive():
        with contextlib.suppress(P2PSocialError, OSError):
            client = await ControlClient.open(socket_path)
            try:
                if (await client.call("status")).listen:
                    return client
            except P2PSocialError:
                pass
            await client.close()
        await asyncio.sleep(0.2)
    return None


async def join(client: ControlClient, network: DemoNetwork) -> None:
    """Your node follows the demo peers and connects to them and to the demo relay. The
    relay is not made one of your relays: that would sign its loopback address into your
    permanent log (and your config is yours too); your node reaches it anyway, as a peer
    and through the relay lists the peers publish."""
    following = set(await client.call("following"))
    for peer in network.peers:
        if peer.handle not in following:
            await client.call("follow", peer.handle, unknown=True)
    for peer in network.peers:
        await _quietly(client.call("connect", peer.addr))
    if network.relay_addr:  # as a peer: nothing about the demo is signed into your log
        await _quietly(client.call("connect", network.relay_addr))


# --- running it -------------------------------------------------------------------------

async def run(home: Home, demo_dir: Path, *, ui: bool, pace: float,
              secret: str | None = None) -> int:
    """Everything above; returns when your UI (or, headless, a signal) ends it."""
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, main_task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await _run(home, demo_dir, ui=ui, pace=pace, secret=secret)
    return 0


async def _run(home: Home, demo_dir: Path, *, ui: bool, pace: float,
               secret: str | None) -> None:
    network = DemoNetwork.of(demo_dir)
    me = subprocess.run([sys.executable, "-m", "p2psocial", "--home", str(home.root), "id"],
                        check=True, capture_output=True, text=True).stdout.strip()
    yours = await (start_ui(home, secret) if ui else start_headless(home))
    tasks: list[asyncio.Task[Any]] = []
    try:
        await network.start()
        client = await your_node(home.control_socket, lambda: yours.returncode is None)
        if client is None:
            return
        await join(client, network)
        await network.befriend(me)
        if not ui:
            print(f"demo network up: you are {me}; peers: "
                  + ", ".join(f"{p.name} {p.handle}" for p in network.peers), flush=True)
        await network.seed(me)
        if not ui:
            print("ready", flush=True)
        tasks.append(asyncio.create_task(network.live(me, pace)))
        await yours.wait()
        await client.close()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if yours.returncode is None:
            yours.send_signal(signal.SIGTERM)
            await yours.wait()
        await network.stop()


async def start_ui(home: Home, secret: str | None) -> asyncio.subprocess.Process:
    """The UI on your home, on this terminal (its node runs inside it); `secret` is the
    passphrase just chosen, if any (else the UI asks for it, once)."""
    command = [sys.executable, "-m", "p2psocial", "--home", str(home.root)]
    if secret is None:
        return await asyncio.create_subprocess_exec(*command)
    with passphrase_pipe(secret) as (fd, env):
        return await asyncio.create_subprocess_exec(*command, pass_fds=(fd,), env=env)


async def start_headless(home: Home) -> asyncio.subprocess.Process:
    """Your node without the UI, on loopback."""
    log_file = (home.root / "node.log").open("ab")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "p2psocial", "--home", str(home.root), "run", "--listen",
        LOOPBACK, "--no-mdns", stdout=log_file, stderr=log_file, stdin=subprocess.DEVNULL)


@contextlib.contextmanager
def typed_ahead_hidden() -> Iterator[None]:
    """Keys typed on this terminal are not echoed while inside (then echo is as it was);
    nothing changes if stdin is not a terminal."""
    try:
        fd = sys.stdin.fileno()
        old = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        yield
        return
    quiet = list(old)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        with contextlib.suppress(OSError, termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, old)


def parse(argv: Iterable[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--home", help="your data directory (default: $P2PSOCIAL_HOME or the "
                                  "platform's user data directory)")
    p.add_argument("--demo-dir", help="where the demo peers live (default: HOME-demo)")
    p.add_argument("--no-ui", action="store_true", help="run your node headless instead")
    p.add_argument("--pace", type=float, default=25.0,
                   help="seconds between the peers' chatter (default 25)")
    return p.parse_args(None if argv is None else list(argv))


def main(argv: Iterable[str] | None = None) -> int:
    args = parse(argv)
    home = resolve_home(args.home)
    demo_dir = Path(args.demo_dir) if args.demo_dir else home.root.with_name(
        home.root.name + "-demo")
    demo_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=demo_dir / "demo.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        with typed_ahead_hidden():
            secret = ensure_identity(home)
            if not args.no_ui:
                print("Starting the demo network and your node…", flush=True)
            return asyncio.run(run(home, demo_dir, ui=not args.no_ui, pace=args.pace,
                                   secret=secret))
    except (P2PSocialError, AssertionError, subprocess.CalledProcessError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        print(f"demo: the logs are in {demo_dir}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
