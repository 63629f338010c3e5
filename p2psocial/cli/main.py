"""`p2psocial`: the command line. Parses arguments, runs one verb, reports errors in one line.

Rules:
- Every failure the user can cause prints `p2psocial: <what went wrong>` on stderr and exits
  non-zero (1 for errors, 2 for usage); a mistyped verb or option gets a suggestion.
- Unexpected internal errors are the only ones with a traceback, and that goes to a crash
  file in the home, not the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from p2psocial import __version__
from p2psocial.cli import (
    account_commands,
    blob_commands,
    commands,
    dm_commands,
    search_commands,
    social_commands,
)
from p2psocial.core.errors import P2PSocialError, UsageError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line with a suggestion."""

    def error(self, message: str) -> NoReturn:
        hint = ""
        top_level = " " not in self.prog  # "p2psocial", not "p2psocial relays"
        if "invalid choice" in message and not top_level:
            message += f"; see `{self.prog} --help`"  # e.g. --policy, or `relays frob`
        elif "invalid choice" in message and "'" in message:
            wrong = message.split("'")[1]
            verbs = sorted(commands.VERBS)
            close = difflib.get_close_matches(wrong, verbs, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            message = f"unknown command {wrong!r}{hint}; see `p2psocial --help`"
        elif "unrecognized arguments" in message:
            message += f"; see `{self.prog} --help`"
        sys.stderr.write(f"p2psocial: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    p = _Parser(prog="p2psocial", description="A social network nobody can deplatform you "
                "from. With no command, opens the terminal UI.")
    p.add_argument("--home", metavar="DIR", help="data directory (default: $P2PSOCIAL_HOME "
                   "or the platform's user data directory)")
    p.add_argument("--version", action="version", version=f"p2psocial {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="COMMAND", parser_class=_Parser)

    def verb(name: str, help_: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=help_)
        return parser

    _identity_verbs(verb)
    _writing_verbs(verb)
    _reading_verbs(verb)
    _node_verbs(verb)
    account_commands.add_verbs(verb)
    social_commands.add_verbs(verb)
    search_commands.add_verbs(verb)
    dm_commands.add_verbs(verb)
    blob_commands.add_verbs(verb)
    return p


_VerbAdder = Callable[[str, str], argparse.ArgumentParser]


def _identity_verbs(verb: _VerbAdder) -> None:
    s = verb("init", "create an account: an account key, this device's key and a recovery "
             "phrase shown once; more devices can join it later (asks for a passphrase; "
             "empty means unencrypted)")
    s.add_argument("--no-passphrase", action="store_true",
                   help="store the secret keys unencrypted (for unattended nodes)")
    kind = s.add_mutually_exclusive_group()
    kind.add_argument("--single-key", action="store_true",
                      help="make a single-key identity instead: one key, no devices, no "
                      "recovery phrase (`p2psocial account upgrade` makes it an account later)")
    kind.add_argument("--account", action="store_true",
                      help="accepted for older scripts and does nothing: an account is the "
                      "default")
    s.add_argument("--name", help="this device's name (default: host name)")
    s.add_argument("--json", action="store_true", help="print JSON")
    verb("id", "print my public handle (an account's, on a device of one)").add_argument(
        "--device", action="store_true", help="this device's own handle")
    verb("export", "write my key (still encrypted) and my log to a file").add_argument("file")
    verb("import", "restore an identity and its log from an export file (a device of an "
         "account: only into its own home; into another device of the account it adds the "
         "posts)").add_argument("file")


def _writes(s: argparse.ArgumentParser) -> argparse.ArgumentParser:
    s.add_argument("--force", action="store_true",
                   help="write even though this identity was just restored from a backup")
    s.add_argument("--json", action="store_true", help="print the new entry as JSON")
    return s


def _writing_verbs(verb: _VerbAdder) -> None:
    s = _writes(verb("post", "sign and append a post to my log"))
    s.add_argument("text", nargs="?", help="the post; @handles mention, #words tag")
    s.add_argument("--reply", metavar="ENTRY", help="reply to an entry (hash or prefix)")
    s.add_argument("--quote", metavar="ENTRY", help="quote an entry (hash or prefix)")
    s.add_argument("--cw", metavar="TEXT", help="a content warning shown before the text")
    s.add_argument("--tag", action="append", default=[], metavar="TAG", help="add a tag")
    s.add_argument("--edit", action="store_true", help="write the post in $EDITOR")
    s.add_argument("--attach", action="append", default=[], metavar="FILE",
                   help="a picture or file (at most 4, each at most 5 MiB)")
    s.add_argument("--alt", action="append", default=[], metavar="TEXT",
                   help="describe the picture for those who cannot see it (one --alt per "
                   "--attach, in order)")
    s.add_argument("--plain", action="store_true",
                   help="leave @words that are not handles as typed (default: an @name of "
                   "someone you know becomes a mention; any other is refused)")
    s = _writes(verb("about", "set my display name and bio"))
    s.add_argument("--name")
    s.add_argument("--bio")
    for name, text in (("follow", "follow a feed by handle, name or invite token"),
                       ("unfollow", "stop following a feed"),
                       ("block", "block a feed: hide it, never replicate or serve it"),
                       ("unblock", "lift a block")):
        s = _writes(verb(name, text))
        s.add_argument("handle", help="a handle, or the name of someone you know")
        if name == "follow":
            s.add_argument("--unknown", action="store_true",
                           help="follow even though nothing here has seen this handle")
    for name, text in (("react", "react to an entry (once per reaction)"),
                       ("unreact", "take back my reaction to an entry")):
        s = _writes(verb(name, text))
        s.add_argument("entry")
        s.add_argument("reaction", nargs="?", default="❤")
    _writes(verb("repost", "share an entry with my followers (once)")).add_argument("entry")
    _writes(verb("unrepost", "take back my repost of an entry")).add_argument("entry")
    _writes(verb("delete", "delete one of my entries (every peer drops its content)")
            ).add_argument("entry")


def _reading_verbs(verb: _VerbAdder) -> None:
    s = verb("log", "entries of a feed, newest first (default: mine)")
    s.add_argument("handle", nargs="?", help="a handle, or the name of someone you know")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--json", action="store_true")
    s = verb("feed", "my timeline: posts of the feeds I follow, newest first")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--json", action="store_true")
    s.add_argument("--follow", action="store_true",
                   help="keep printing new posts as they arrive (needs a running node)")
    s = verb("thread", "an entry with its replies")
    s.add_argument("entry")
    s.add_argument("--json", action="store_true")
    verb("feeds", "every feed held: range, relation, status").add_argument(
        "--json", action="store_true")
    s = verb("verify", "re-verify every stored entry and report")
    s.add_argument("handle", nargs="?")
    s.add_argument("--json", action="store_true")


def _node_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--listen", action="append", metavar="MULTIADDR",
                   help="listen address (repeatable; default /ip4/0.0.0.0/tcp/0)")
    s.add_argument("--peer", action="append", default=[], metavar="MULTIADDR",
                   help="a peer to dial and keep connected (repeatable)")
    s.add_argument("--hops", type=int, help="replicate feeds this many follows away")
    s.add_argument("--no-mdns", action="store_true", help="no LAN discovery")
    s.add_argument("--no-dht", action="store_true", help="no DHT")
    s.add_argument("--offline", action="store_true", help="no network at all")
    s.add_argument("-v", "--verbose", action="count", default=0)


def _node_verbs(verb: _VerbAdder) -> None:
    _node_options(verb("run", "run my node headless: listen, connect, replicate; logs to stderr"))
    s = verb("relay", "run a relay node: relays circuits, keeps and serves its members' feeds")
    _node_options(s)
    s.add_argument("--policy", choices=["open", "invite", "allowlist"],
                   help="who may join (default: open)")
    s.add_argument("--allow", action="append", default=[], metavar="HANDLE",
                   help="a handle the allowlist policy admits (repeatable)")
    s.add_argument("--quota", type=int, metavar="ENTRIES",
                   help="entries kept per member feed, newest first (default 10000)")
    s = verb("relays", "my relays: add, remove, list")
    relays = s.add_subparsers(dest="relays_verb", metavar="add|remove|list", required=True)
    add = relays.add_parser("add", help="add a relay to my published relays")
    add.add_argument("addr", metavar="MULTIADDR", help="the relay's full address (…/p2p/<id>)")
    add.add_argument("--invite", metavar="TOKEN", help="an invite, if the relay needs one")
    relays.add_parser("remove", help="remove one of my relays").add_argument(
        "addr", metavar="MULTIADDR")
    relays.add_parser("list", help="my relays (and their state, if my node runs)").add_argument(
        "--json", action="store_true")
    s = verb("invite", "print an invite token: anyone can follow me with it")
    s.add_argument("--uses", type=int, metavar="N", help="valid for N joins of a relay")
    s.add_argument("--expires", type=float, metavar="HOURS", help="valid for HOURS hours")
    s.add_argument("--qr", action="store_true", help="also print it as a terminal QR code")
    verb("peers", "connected peers: address, direct/relayed/LAN, what we sync").add_argument(
        "--json", action="store_true")
    verb("status", "per wanted feed: held range, behind by, syncing from whom").add_argument(
        "--json", action="store_true")
    verb("connect", "dial a peer by multiaddr").add_argument("addr", metavar="MULTIADDR")


# arguments naming files: any bytes the file system allows (non-UTF-8 names arrive as
# surrogate escapes and are opened as they are)
PATH_ARGUMENTS = frozenset({"home", "file", "attach", "output", "target"})


def not_text(args: argparse.Namespace) -> str | None:
    """The first argument (other than a file name) that is not valid UTF-8 text: bytes a
    terminal in another encoding sent, which Python keeps as lone surrogates."""
    for name, value in vars(args).items():
        if name in PATH_ARGUMENTS:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return item
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `p2psocial` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    bad = not_text(args)
    if bad is not None:
        shown = os.fsencode(bad).decode("utf-8", "backslashreplace")
        sys.stderr.write(f"p2psocial: the argument \"{shown[:60]}\" is not UTF-8 text; set "
                         "the terminal to UTF-8 (nothing was done)\n")
        return EXIT_USAGE
    try:
        if args.verb is None:
            return _open_tui(args)
        return asyncio.run(commands.run(args))
    except UsageError as exc:  # the user asked for something impossible: bad input
        sys.stderr.write(f"p2psocial: {exc}\n")
        return EXIT_USAGE
    except P2PSocialError as exc:
        sys.stderr.write(f"p2psocial: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("p2psocial: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of our output went away (e.g. `p2psocial log | head`); not an error
        _silence_stdout()
        return 0
    except OSError as exc:
        sys.stderr.write(f"p2psocial: {exc.strerror or exc}"
                         f"{f': {exc.filename}' if exc.filename else ''}\n")
        return EXIT_ERROR
    except Exception:  # noqa: BLE001 - the outermost boundary: report a bug, never crash raw
        crash = _write_crash_report()
        sys.stderr.write(f"p2psocial: internal error (a bug); details in {crash}\n")
        return EXIT_ERROR


def _open_tui(args: argparse.Namespace) -> int:
    """`p2psocial` with no verb: the terminal UI on the user's home."""
    from p2psocial.cli import passphrase
    from p2psocial.store.home import resolve_home
    from p2psocial.ui.launch import run_tui
    return run_tui(resolve_home(args.home), passphrase.unlock_interactively)


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _write_crash_report() -> Path:
    fd, name = tempfile.mkstemp(prefix="p2psocial-crash-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        traceback.print_exc(file=f)
    return Path(name)


if __name__ == "__main__":
    sys.exit(main())
