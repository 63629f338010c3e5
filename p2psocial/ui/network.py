"""Network: connected peers (direct, relayed, LAN), every wanted feed's sync state with a
progress bar while it backfills, and banners when something is wrong (offline, forked feeds,
no relay reachable). Refreshes every two seconds while shown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.views import FeedStatus, FeedView, NodeStatus, PeerView
from p2psocial.ui.base import SocialScreen
from p2psocial.ui.render import short, who
from p2psocial.ui.widgets import FitFooter, TopBar

REFRESH_SECONDS = 2.0
HOPS = {0: "me", 1: "following"}  # what a wanted feed's hop means
BAR_CELLS = 12


def summary(status: NodeStatus, peers: Sequence[PeerView]) -> str:
    """A few words for the top bar."""
    if not status.listen:
        return "offline"
    if not peers:
        return "no peers"
    syncing = sum(1 for f in status.feeds if f.behind)
    text = f"{len(peers)} peer{'s' if len(peers) != 1 else ''}"
    return f"{text} · syncing {syncing}" if syncing else text


def banners(status: NodeStatus, peers: Sequence[PeerView],
            feeds: Sequence[FeedView]) -> list[tuple[str, str]]:
    """(severity, text) of what the user should know: offline, forked feeds, no relay."""
    out: list[tuple[str, str]] = []
    if not status.listen:
        out.append(("error", "Offline: this node is not connected to the network. What you "
                             "post is kept and sent when it connects."))
    elif not peers:
        out.append(("warning", "No peers connected, and no relay reachable: others cannot "
                               "reach you yet."))
    elif not any(p.kind == "relayed" for p in peers) and all(p.kind == "lan" for p in peers):
        out.append(("warning", "Only peers on this network: no relay reachable, so peers "
                               "outside it cannot reach you."))
    forked = sorted({f.author for f in status.feeds if f.forked}
                    | {f.author for f in feeds if f.forked})
    if forked:
        names = ", ".join(short(a) for a in forked[:3]) + ("…" if len(forked) > 3 else "")
        out.append(("error", f"{len(forked)} forked feed{'s' if len(forked) != 1 else ''}: "
                             f"{names} (their authors wrote conflicting entries)"))
    return out


def progress(feed: FeedStatus) -> tuple[float, str]:
    """How far a feed's backfill is (0..1) and a label."""
    target = feed.best_known
    if target <= 0 or (target <= feed.hi and feed.lo <= _wanted_start(feed)):
        return 1.0, "up to date" if feed.hi else "nothing known"
    start = _wanted_start(feed)
    wanted = max(1, target - start + 1)
    have = max(0, feed.hi - max(start, feed.lo) + 1) if feed.hi else 0
    fraction = min(1.0, have / wanted)
    return fraction, f"{feed.behind:,} behind" if feed.behind else "fetching older"


def _wanted_start(feed: FeedStatus) -> int:
    if feed.depth <= 0:
        return 1
    return max(1, feed.best_known - feed.depth + 1)


def bar(fraction: float, cells: int = BAR_CELLS) -> str:
    """A text progress bar."""
    filled = round(fraction * cells)
    return "█" * filled + "░" * (cells - filled) + f" {fraction:4.0%}"


class NetworkScreen(SocialScreen):
    """Peers and replication."""

    CSS_PATH = "network.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("period", "refresh", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        yield TopBar("network")
        with VerticalScroll(id="network"):
            yield Static("", id="banners")
            yield Static("Peers", classes="section")
            yield DataTable(id="peers", cursor_type="row", zebra_stripes=True)
            yield Static("Feeds", classes="section")
            yield DataTable(id="feeds", cursor_type="row", zebra_stripes=True)
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        peers = self.query_one("#peers", DataTable)
        peers.add_columns("peer", "via", "address", "state", "in/out")
        feeds = self.query_one("#feeds", DataTable)
        feeds.add_columns("feed", "relation", "held", "sync", "from")
        feeds.focus()
        self.refresh_data()
        self.set_interval(REFRESH_SECONDS, self._tick)

    def _tick(self) -> None:
        if self.app.screen is self:
            self.refresh_data()

    def action_refresh(self) -> None:
        self.refresh_data()

    @work(exclusive=True, group="network")
    async def refresh_data(self) -> None:
        backend = await self.host.ready()
        try:
            status = await backend.status()
            peers = await backend.peers()
            feeds = await backend.feeds()
        except P2PSocialError as exc:
            self.query_one("#banners", Static).update(Text(str(exc), "bold red"))
            return
        shown = (status, tuple(peers), tuple(feeds))
        if shown == self._shown:
            return  # nothing changed: spare the tables a rebuild
        self._shown = shown
        self._show_banners(banners(status, peers, feeds))
        self._show_peers(peers)
        self._show_feeds(status, feeds)

    def _show_banners(self, items: list[tuple[str, str]]) -> None:
        text = Text()
        for i, (severity, line) in enumerate(items):
            if i:
                text.append("\n")
            text.append(("⚠ " if severity == "warning" else "✖ ") + line,
                        "bold red" if severity == "error" else "bold yellow")
        widget = self.query_one("#banners", Static)
        widget.update(text)
        widget.display = bool(items)

    def _show_peers(self, peers: Sequence[PeerView]) -> None:
        table = self.query_one("#peers", DataTable)
        table.clear()
        for p in peers:
            state = "caught up" if p.caught_up else "syncing" if p.syncing else "connected"
            table.add_row(p.name or short(p.handle), p.kind, p.addr, state,
                          f"{p.entries_in:,}/{p.entries_out:,}", key=p.handle)
        if not peers:
            table.add_row("(none)", "", "", "", "")

    def _who(self, handle: str) -> str:
        """A feed or peer as the user knows it: its name, else its short handle."""
        return "me" if handle == self.state.me else who(handle, self.state.names.get(handle))

    def _show_feeds(self, status: NodeStatus, feeds: Sequence[FeedView]) -> None:
        table = self.query_one("#feeds", DataTable)
        table.clear()
        wanted = {f.author: f for f in status.feeds}
        for f in status.feeds:
            fraction, label = progress(f)
            table.add_row(f.name or self._who(f.author), HOPS.get(f.hop, f"hop {f.hop}"),
                          f"{f.lo:,}–{f.hi:,}", f"{bar(fraction)} {label}",
                          ", ".join(self._who(s) for s in f.sources), key=f.author)
        for held in feeds:  # held feeds the node does not report (e.g. offline)
            if held.author in wanted or (held.is_me and status.feeds):
                continue
            span = f"{held.lo:,}–{held.hi:,}" if held.hi else "none"
            relation = "me" if held.is_me else "following" if held.following else (
                "blocked" if held.blocked else "held")
            sync = "⚠ forked" if held.forked else (
                "not syncing (offline)" if not status.listen else "—")
            table.add_row(held.name or short(held.author), relation, span, sync, "",
                          key=held.author)
