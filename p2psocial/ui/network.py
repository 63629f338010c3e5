"""Network: connected peers (direct, relayed, LAN; relays labelled), every wanted feed's sync
state with a progress bar while it backfills, and banners when something is wrong (offline,
forked feeds, no relay reachable). Refreshes every two seconds while shown.

Rules:
- Actionable: the selected peer or feed (tab moves between the tables) is opened (enter),
  followed or unfollowed (F), blocked or unblocked (B, asking first), dialled (C, any
  address), and its handle (y) or address (Y) copied.
- Fits 80 columns: cells are clipped to column widths that add up to the screen's width.
- A followed feed nothing is known of is "not found yet", not a full bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.views import FeedStatus, FeedView, NodeStatus, PeerView
from p2psocial.ui.base import SocialScreen
from p2psocial.ui.dialogs import ConfirmDialog, ConnectDialog
from p2psocial.ui.profile import ProfileScreen
from p2psocial.ui.render import short, who
from p2psocial.ui.widgets import FitFooter, TopBar

REFRESH_SECONDS = 2.0
HOPS = {0: "me", 1: "following"}  # what a wanted feed's hop means
BAR_CELLS = 6
BANNER_STYLES = {"error": ("✖ ", "bold red"), "warning": ("⚠ ", "bold yellow"),
                 "info": ("ℹ ", "cyan")}
KIND_LABELS = {"hole-punched": "punched"}  # a direct connection made by hole punching
PEER_WIDTHS = (18, 8, 21, 9, 9)  # peer, via, address, state, in/out (+2 padding each)
FEED_WIDTHS = (15, 9, 9, 22, 8)  # feed, relation, held, sync, from
RELAY_MARK = " ⛬relay"
NOT_FOUND = "? not found yet"


def clip(text: str, width: int) -> str:
    """`text` in at most `width` cells (an ellipsis where it was cut)."""
    return text if len(text) <= width else text[:max(0, width - 1)] + "…"


def relay_handles(status: NodeStatus, peers: Sequence[PeerView]) -> set[str]:
    """Handles of the relays I know of: mine, and those my relayed connections go through."""
    out = {str(r.get("addr", "")).rsplit("/p2p/", 1)[-1] for r in status.relays
           if "/p2p/" in str(r.get("addr", ""))}
    for p in peers:
        if "/p2p-circuit" in p.addr:
            out.add(p.addr.split("/p2p-circuit")[0].rsplit("/p2p/", 1)[-1])
    return out


def short_addr(addr: str, names: dict[str, str] | None = None) -> str:
    """A multiaddr as a person reads it: host:port, or "via <relay>" for a circuit."""
    if "/p2p-circuit" in addr:
        relay = addr.split("/p2p-circuit", maxsplit=1)[0].rsplit("/p2p/", 1)[-1]
        return "via " + who(relay, (names or {}).get(relay))
    parts = addr.split("/")
    try:
        proto, host = parts[1], parts[2]
        port = parts[4] if parts[3] in ("tcp", "udp") else ""
    except IndexError:
        return addr
    host = f"[{host}]" if proto == "ip6" else host
    return f"{host}:{port}" if port else host


def peer_cells(p: PeerView, relays: set[str]) -> tuple[str, ...]:
    """The cells of a peer's row, each clipped to its column."""
    state = "caught up" if p.caught_up else "syncing" if p.syncing else "connected"
    relay = p.relay or p.handle in relays
    if relay and not p.name:
        name = f"⛬ relay …{p.handle[-6:]}"
    else:
        mark = RELAY_MARK if relay else ""
        name = clip(p.name or short(p.handle), PEER_WIDTHS[0] - len(mark)) + mark
    cells = (name, KIND_LABELS.get(p.kind, p.kind), short_addr(p.addr), state,
             f"{p.entries_in:,}/{p.entries_out:,}")
    return tuple(clip(c, w) for c, w in zip(cells, PEER_WIDTHS, strict=True))


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
    if status.listen and status.reachability == "private":
        seen = f" (seen at {short_addr(status.observed)})" if status.observed else ""
        out.append(("info", f"Behind a NAT{seen}: others reach you through your relays, "
                            "and hole punching makes direct connections where the NAT "
                            "allows."))
    forked = sorted({f.author for f in status.feeds if f.forked}
                    | {f.author for f in feeds if f.forked})
    if forked:
        names = ", ".join(short(a) for a in forked[:3]) + ("…" if len(forked) > 3 else "")
        out.append(("error", f"{len(forked)} forked feed{'s' if len(forked) != 1 else ''}: "
                             f"{names} (their authors wrote conflicting entries)"))
    return out


def progress(feed: FeedStatus) -> tuple[float, str]:
    """How far a feed's backfill is (0..1) and a label (see `sync_text` for feeds nothing
    is known of)."""
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


def sync_text(feed: FeedStatus) -> str:
    """A wanted feed's sync cell: a bar and a label, or, while nothing at all is known of
    the feed, no bar: "not found yet" (no peer has offered any of it: still looking, or a
    mistyped handle)."""
    if feed.hi == 0 and feed.best_known == 0:
        return "nothing posted yet" if feed.hop == 0 else NOT_FOUND
    fraction, label = progress(feed)
    return f"{bar(fraction)} {label}"


class NetworkScreen(SocialScreen):
    """Peers and replication."""

    CSS_PATH = "network.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", priority=True,
                tooltip="Open the selected peer's or feed's profile"),
        Binding("F", "toggle_follow", "Follow/unfollow",
                tooltip="Follow or unfollow the selected peer or feed"),
        Binding("B", "toggle_block", "Block/unblock",
                tooltip="Block (asks first) or unblock the selected peer or feed"),
        Binding("C", "connect", "Connect",
                tooltip="Dial a peer: the selected peer's address, or one you paste"),
        Binding("y", "copy", "Copy handle", tooltip="Copy the selected handle"),
        Binding("Y", "copy_address", "Copy address", show=False,
                tooltip="Copy the selected peer's address"),
        Binding("j,down", "row(1)", "Down", show=False, tooltip="Next row"),
        Binding("k,up", "row(-1)", "Up", show=False, tooltip="Previous row"),
        Binding("tab", "app.focus_next", "Peers/feeds",
                tooltip="Move between the peers and the feeds"),
        Binding("period", "refresh", "Refresh", show=False, tooltip="Refresh now"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[object, ...] = ()
        self._addrs: dict[str, str] = {}  # connected peers' addresses, by handle

    def action_row(self, step: int) -> None:
        """Move the cursor of the focused table (j/k as in every list)."""
        focused = self.focused
        table = focused if isinstance(focused, DataTable) else self.query_one("#peers",
                                                                              DataTable)
        table.move_cursor(row=max(0, table.cursor_row + step))

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
        for table in (peers, feeds):
            table.cursor_foreground_priority = "renderable"
        self.refresh_data()
        self.set_interval(REFRESH_SECONDS, self._tick)

    def _tick(self) -> None:
        if self.is_current:  # (False, not an error, once the app is closing)
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
        shown = (status, tuple(peers), tuple(feeds), self.state.following,
                 self.state.blocked)
        if shown == self._shown:
            return  # nothing changed: spare the tables a rebuild
        self._shown = shown
        self._show_banners(banners(status, peers, feeds))
        self._show_peers(peers, relay_handles(status, peers))
        self._show_feeds(status, feeds)

    def _show_banners(self, items: list[tuple[str, str]]) -> None:
        text = Text()
        for i, (severity, line) in enumerate(items):
            if i:
                text.append("\n")
            mark, style = BANNER_STYLES.get(severity, BANNER_STYLES["error"])
            text.append(mark + line, style)
        widget = self.query_one("#banners", Static)
        widget.update(text)
        widget.display = bool(items)

    def _show_peers(self, peers: Sequence[PeerView], relays: set[str]) -> None:
        table = self.query_one("#peers", DataTable)
        row = table.cursor_row
        table.clear()
        self._addrs = {p.handle: p.addr for p in peers}
        for p in peers:
            table.add_row(*peer_cells(p, relays), key=p.handle)
        if not peers:
            table.add_row("(none)", "", "", "", "")
        table.move_cursor(row=min(row, table.row_count - 1), animate=False)

    def _who(self, handle: str) -> str:
        """A feed or peer as the user knows it: its name, else its short handle."""
        return "me" if handle == self.state.me else who(handle, self.state.names.get(handle))

    def _show_feeds(self, status: NodeStatus, feeds: Sequence[FeedView]) -> None:
        table = self.query_one("#feeds", DataTable)
        row = table.cursor_row
        table.clear()
        wanted = {f.author: f for f in status.feeds}
        for f in status.feeds:
            self._add_feed(table, f.author, f.name or self._who(f.author),
                           HOPS.get(f.hop, f"hop {f.hop}"),
                           f"{f.lo:,}–{f.hi:,}" if f.hi else "none",
                           sync_text(f),
                           ", ".join(self._who(s) for s in f.sources))
        for held in feeds:  # held feeds the node does not report (e.g. offline)
            if held.author in wanted or (held.is_me and status.feeds):
                continue
            span = f"{held.lo:,}–{held.hi:,}" if held.hi else "none"
            relation = "me" if held.is_me else "following" if held.following else (
                "blocked" if held.blocked else "held")
            sync = "⚠ forked" if held.forked else (
                "offline" if not status.listen else "—")
            self._add_feed(table, held.author, held.name or short(held.author), relation,
                           span, sync, "")
        held_feeds = {f.author for f in feeds}
        for author in sorted(self.state.following - held_feeds - set(wanted)):  # none held
            self._add_feed(table, author, self._who(author), "following", "none",
                           NOT_FOUND if status.listen else "offline", "")
        table.move_cursor(row=min(row, table.row_count - 1), animate=False)

    @staticmethod
    def _add_feed(table: DataTable[str], author: str, *cells: str) -> None:
        table.add_row(*(clip(c, w) for c, w in zip(cells, FEED_WIDTHS, strict=True)),
                      key=author)

    # --- actions on the selected peer or feed --------------------------------------------

    def _selected(self) -> str | None:
        """The handle of the selected row (of the focused table; else the feeds')."""
        focused = self.focused
        table = focused if isinstance(focused, DataTable) else self.query_one("#feeds",
                                                                              DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        known = self._addrs if table.id == "peers" else None
        if key is None or (known is not None and key not in known):
            return None  # the "(none)" row
        return str(key)

    def _need_selection(self) -> str | None:
        handle = self._selected()
        if handle is None:
            self.notify("select a peer or a feed first", severity="warning")
        return handle

    @on(DataTable.RowSelected)
    def _row_chosen(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        handle = self._need_selection()
        if handle is not None:
            self.app.push_screen(ProfileScreen(handle))

    def action_toggle_follow(self) -> None:
        handle = self._need_selection()
        if handle is None or handle == self.state.me:
            return
        verb = "unfollow" if handle in self.state.following else "follow"
        self._relate(verb, handle)

    def action_toggle_block(self) -> None:
        handle = self._need_selection()
        if handle is None or handle == self.state.me:
            return
        if handle in self.state.blocked:
            self._relate("unblock", handle)
            return

        def confirmed(yes: bool | None) -> None:
            if yes and handle is not None:
                self._relate("block", handle)
        name = self._who(handle)
        self.app.push_screen(ConfirmDialog(f"Block {name}? Their feed is hidden and no "
                                           "longer replicated (B again unblocks)."), confirmed)

    def _relate(self, verb: str, handle: str) -> None:
        done = {"follow": "Following", "unfollow": "Unfollowed", "block": "Blocked",
                "unblock": "Unblocked"}[verb]
        self.call_node(lambda b: b.relate(verb, handle),
                       success=f"{done} {self._who(handle)}",
                       done=lambda _: self.refresh_data())

    def action_connect(self) -> None:
        handle = self._selected()
        addr = self._addrs.get(handle or "", "")
        if addr and "/p2p/" not in addr and handle:
            addr = f"{addr}/p2p/{handle}"

        def chosen(target: str | None) -> None:
            if target:
                self.call_node(lambda b: b.connect(target), done=self._connected)
        self.app.push_screen(ConnectDialog(addr), chosen)

    def _connected(self, peer: PeerView) -> None:
        name = who(peer.handle, peer.name or self.state.names.get(peer.handle))
        self.notify(f"connected to {name} at {short_addr(peer.addr)}",
                    timeout=5)
        self.refresh_data()

    def action_copy(self) -> None:
        handle = self._need_selection()
        if handle is not None:
            self.host.copy_handle(handle)

    def action_copy_address(self) -> None:
        handle = self._need_selection()
        if handle is None:
            return
        addr = self._addrs.get(handle)
        if addr is None:
            self.notify("not connected: no address to copy", severity="warning")
            return
        full = addr if "/p2p/" in addr else f"{addr}/p2p/{handle}"
        self.app.copy_to_clipboard(full)
        self.notify(f"copied {full}", timeout=4)
