"""Me: my name, my handle in full, an invite token (once the node can make them) and its QR
code to scan (else the handle's), my account's devices and how to pair one, my relays and
addresses. e edits my profile, y copies my handle, a adds a device by its pairing token, s opens
the Storage screen.

On a device of an account, "my handle" is the account's (what followers follow); a single-key
identity's is its key's, as before."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from p2psocial.core.errors import P2PSocialError
from p2psocial.core.invite import decode_invite
from p2psocial.ui.backend import UiBackend
from p2psocial.ui.base import SocialScreen
from p2psocial.ui.devices import Added, DeviceDialog, device_text, pairing_help
from p2psocial.ui.dialogs import AboutDialog
from p2psocial.ui.follow import handle_from_invite
from p2psocial.ui.messages import EntriesArrived, StatusChanged
from p2psocial.ui.qr import qr_text
from p2psocial.ui.storage import StorageScreen
from p2psocial.ui.widgets import FitFooter, TopBar

MIN_TEXT_COLUMNS = 40  # beside the QR code
INVITE_LATER = ("Invite tokens (a handle plus a way to reach you) come later; for now share "
                "your handle.")


class MeScreen(SocialScreen):
    """Who I am, to share."""

    CSS_PATH = "me.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", "Edit profile"),
        Binding("y", "copy", "Copy handle"),
        Binding("i", "copy_invite", "Copy invite", tooltip="Copy my invite token"),
        Binding("a", "add_device", "Add device", tooltip="Add a device to my account: paste "
                "the pairing token `p2psocial device link` printed on it"),
        Binding("s", "storage", "Storage", tooltip="Storage: what this home takes on disk, "
                "by hop and by feed; prune now, set the budget"),
        # as on any profile (they did nothing here, where my counts are shown)
        Binding("f", "app.people('followers')", "Followers", show=False,
                tooltip="The accounts held here that follow me"),
        Binding("o", "app.people('following')", "Following", show=False,
                tooltip="Whom I follow"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._bio = ""
        self._invite: str | None = None
        self._handle = ""

    def compose(self) -> ComposeResult:
        yield TopBar("me")
        with Horizontal(id="me"):
            yield Static("", id="qr")
            with VerticalScroll(id="info"):
                yield Static("Opening your node…", id="who")
                yield Static("", id="devices")  # an account's: right under who I am
                yield Static("", id="invite")
                yield Static("", id="addresses")
                yield Static("", id="single")  # a single key: how to get more devices
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def on_status_changed(self, message: StatusChanged) -> None:
        super().on_status_changed(message)
        self.load()

    def on_entries_arrived(self, message: EntriesArrived) -> None:
        if any(self.state.is_mine(v) and v.type in ("about", "relays")
               for v in message.views):
            self.load()

    @work(exclusive=True, group="me")
    async def load(self) -> None:
        backend = await self.host.ready()
        try:
            me = await backend.me()
            relays = await backend.relays()
            listen = await backend.listen_addrs()
            invite = await self._my_invite(backend, me.author, relays)
            account = me.account or me.author
            devices, single = await device_text(backend, account, me.author)
        except P2PSocialError as exc:
            self.query_one("#who", Static).update(str(exc))
            return
        self._bio = me.bio or ""
        self._handle = account
        self._show_qr()
        who = Text()
        who.append(me.name or "(no name yet — e sets one)", "bold")
        who.append("\n\nYour handle (y copies it):\n", "dim")
        who.append(account + "\n", "bold")
        if me.bio:
            who.append("\n" + me.bio.strip() + "\n")
        followers = f"{me.followers:,} follower{'s' if me.followers != 1 else ''}"
        feed = "your feed" if account == me.author else "this device's feed"
        who.append(f"\n{me.held:,} entries in {feed} · {followers} · "
                   f"following {me.follows:,}", "dim")
        self.query_one("#who", Static).update(who)
        self._show_devices(devices, pairing_help(account, single), single)
        who = Text()
        if invite:
            who.append("\nYour invite (i copies it): others paste it in their follow "
                       "dialog (+). The code holds it when the terminal is big enough for it, "
                       "else your handle.\n", "dim")
            who.append(invite + "\n")
        else:
            who.append("\nOthers follow you by pasting your handle or scanning the code. ",
                       "dim")
            who.append(INVITE_LATER, "dim")
        self.query_one("#invite", Static).update(who)
        addresses = Text()
        addresses.append("\nRelays you publish\n", "bold")
        addresses.append("\n".join(relays) or "none yet", "dim" if not relays else "")
        addresses.append("\n\nWhere your node listens\n", "bold")
        addresses.append("\n".join(listen) or "nowhere: this node runs offline",
                         "dim" if not listen else "")
        addresses.append(f"\n\nNode: {backend.mode}", "dim")
        self.query_one("#addresses", Static).update(addresses)

    def _show_devices(self, devices: Text, how: Text, single: bool) -> None:
        """An account's devices under who I am; a single key's one line at the end."""
        shown = Text()
        if not single:
            shown.append("\nYour devices\n", "bold")
            shown.append_text(devices)
            shown.append("\n\n")
        shown.append_text(how)
        self.query_one("#devices", Static).update(Text() if single else shown)
        self.query_one("#single", Static).update(shown if single else Text())
        self.query_one("#devices", Static).display = not single
        self.query_one("#single", Static).display = single

    async def _my_invite(self, backend: UiBackend, handle: str, relays: list[str]
                         ) -> str | None:
        """The invite token kept in the settings, or a new one if there is none yet or my
        relays changed since it was made; None if the node cannot make invites."""
        kept = self.state.invite
        if kept and handle_from_invite(kept) == handle and \
                list(decode_invite(kept).addrs) == relays:
            self._invite = kept
            return kept
        token = await backend.invite()
        if token:
            self.state.set_invite(token)
        self._invite = token
        return token

    def on_resize(self) -> None:
        self._show_qr()

    def _show_qr(self) -> None:
        """The invite's QR code if it fits on screen whole (a code cut in two scans as
        nothing), else the handle's, which is smaller."""
        if not self._handle:
            return
        room = (self.size.width - MIN_TEXT_COLUMNS, self.size.height - 2)
        code = qr_text(self._handle)
        if self._invite:
            invite = qr_text(self._invite)
            lines = invite.plain.splitlines()
            if len(lines[0]) <= room[0] and len(lines) <= room[1]:
                code = invite
        self.query_one("#qr", Static).update(code)

    def action_copy_invite(self) -> None:
        if self._invite:
            self.app.copy_to_clipboard(self._invite)
            self.notify("copied your invite token", timeout=4)
        else:
            self.notify("this node cannot make invite tokens", severity="warning")

    def action_add_device(self) -> None:
        def added(result: Added | None) -> None:
            if result is None:
                return
            name, handle, reached = result
            note = ("" if reached else ": it gets the news when it next syncs with a device "
                    "of the account")
            self.notify(f"added {name} ({handle}){note}", timeout=8)
            self.load()
        self.app.push_screen(DeviceDialog(), added)

    def action_storage(self) -> None:
        self.app.push_screen(StorageScreen())

    def action_edit(self) -> None:
        self.app.push_screen(AboutDialog(self.state.my_name or "", self._bio))

    def action_copy(self) -> None:
        if self._handle or self.state.me:
            self.host.copy_handle(self._handle or self.state.me)
