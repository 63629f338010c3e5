"""Me: my name, my handle in full and as a QR code to scan, my relays and addresses.
e edits my profile, y copies my handle."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Static

from p2psocial.core.errors import P2PSocialError
from p2psocial.ui.base import SocialScreen
from p2psocial.ui.dialogs import AboutDialog
from p2psocial.ui.messages import EntriesArrived, StatusChanged
from p2psocial.ui.qr import qr_text
from p2psocial.ui.widgets import TopBar

INVITE_LATER = ("Invite tokens (a handle plus a way to reach you) come later; for now share "
                "your handle.")


class MeScreen(SocialScreen):
    """Who I am, to share."""

    CSS_PATH = "me.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", "Edit profile"),
        Binding("y", "copy", "Copy handle"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._bio = ""

    def compose(self) -> ComposeResult:
        yield TopBar("me")
        with Horizontal(id="me"):
            yield Static("", id="qr")
            with VerticalScroll(id="info"):
                yield Static("Opening your node…", id="who")
                yield Static("", id="addresses")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def on_status_changed(self, message: StatusChanged) -> None:
        super().on_status_changed(message)
        self.load()

    def on_entries_arrived(self, message: EntriesArrived) -> None:
        if any(v.author == self.state.me and v.type in ("about", "relays")
               for v in message.views):
            self.load()

    @work(exclusive=True, group="me")
    async def load(self) -> None:
        backend = await self.host.ready()
        try:
            me = await backend.me()
            relays = await backend.relays()
            listen = await backend.listen_addrs()
        except P2PSocialError as exc:
            self.query_one("#who", Static).update(str(exc))
            return
        self._bio = me.bio or ""
        self.query_one("#qr", Static).update(qr_text(me.author))
        who = Text()
        who.append(me.name or "(no name yet — e sets one)", "bold")
        who.append("\n\nYour handle (y copies it):\n", "dim")
        who.append(me.author + "\n", "bold")
        if me.bio:
            who.append("\n" + me.bio.strip() + "\n")
        followers = f"{me.followers:,} follower{'s' if me.followers != 1 else ''}"
        who.append(f"\n{me.held:,} entries in your feed · {followers} · "
                   f"following {me.follows:,}\n", "dim")
        who.append("\nOthers follow you by pasting your handle or scanning the code. ", "dim")
        who.append(INVITE_LATER, "dim")
        self.query_one("#who", Static).update(who)
        addresses = Text()
        addresses.append("\nRelays you publish\n", "bold")
        addresses.append("\n".join(relays) or "none yet", "dim" if not relays else "")
        addresses.append("\n\nWhere your node listens\n", "bold")
        addresses.append("\n".join(listen) or "nowhere: this node runs offline",
                         "dim" if not listen else "")
        addresses.append(f"\n\nNode: {backend.mode}", "dim")
        self.query_one("#addresses", Static).update(addresses)

    def action_edit(self) -> None:
        self.app.push_screen(AboutDialog(self.state.my_name or "", self._bio))

    def action_copy(self) -> None:
        if self.state.me:
            self.host.copy_handle(self.state.me)
