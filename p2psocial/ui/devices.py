"""An account's devices on screen, and approving a new one by its pairing token.

Rules:
- The devices are read and the `add` is signed with runtime.devices, the same code as
  `p2psocial device list` and `device add`: the UI signs in its own process with a key of
  the node's home (the account key if the home holds it, else this device's key if it has
  `admin`) and stores the op through the node, which sends it to the account's peers.
- A key this process already holds unlocked is used as it is; a sealed one is asked for in
  the dialog (its passphrase field shows only then) and forgotten after signing.
- A refusal (a token expired, used, of another account; no power; a wrong passphrase) is one
  line in the dialog, and nothing is stored.
- A single-key identity is its own one device: its list says so and how to get more.
- The account key is shown apart, after the devices, as the account key (not a device unless
  it posts); a former account key is listed with the devices, named for what it is.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, Static

from p2psocial.core.errors import P2PSocialError
from p2psocial.core.identity import Identity, handle_of, parse_handle
from p2psocial.core.invite import format_ms
from p2psocial.runtime import devices
from p2psocial.store import keyfile
from p2psocial.ui.backend import UiBackend
from p2psocial.ui.base import Host
from p2psocial.ui.render import short

Added = tuple[str, str, bool]  # (name, handle, reached): what the dialog did


async def device_text(backend: UiBackend, account: str, me: str) -> tuple[Text, bool]:
    """The devices of `account` (a handle), oldest first, and whether it is a single key
    (no account log held); `me` is this device's handle."""
    state, found = await devices.device_list(backend, parse_handle(account),
                                             parse_handle(me))
    out = Text()
    if state.tip is None and len(found) <= 1:
        out.append("A single key: its one device is itself.", "dim")
        return out, True
    for info in found:
        if info.role == devices.ROLE_ACCOUNT_KEY:
            continue
        d = info.device
        out.append(info.name, "bold" if d.current else "dim strike")
        out.append(f"  {short(info.handle)}", "dim")
        marks = [m for m, on_ in (("this device", info.this_device), ("admin", info.admin))
                 if on_]
        if marks:
            out.append(f"  [{', '.join(marks)}]", "italic")
        added = (f"added {format_ms(d.added_at)[:10]}" if d.added_at is not None
                 else "from the start")
        status = ("current" if d.current else
                  f"revoked: entries up to {d.after:,} count")
        out.append(f"\n  {added} · {status} · {info.held:,} held\n",
                   "dim" if d.current else "red")
    for info in found:
        if info.role == devices.ROLE_ACCOUNT_KEY:  # apart: it signs the log, not a device
            out.append("Account key", "bold")
            out.append(f"  {short(info.handle)}", "dim")
            if info.this_device:
                out.append("  [this device]", "italic")
            out.append("\n  signs device changes · " + (
                f"posts too · {info.held:,} held\n" if info.counted else "not a device\n"),
                "dim")
    out.rstrip()
    return out, False


def pairing_help(account: str, single: bool) -> Text:
    """How to add a device, in the terminal's words."""
    if single:
        return Text("To post from another machine too, make this identity an account: "
                    "p2psocial account upgrade (it prints a recovery phrase once).", "dim")
    return Text(f"To add a device: on it run\n  p2psocial device link --account {account}\n"
                "then press a here and paste the token it prints.", "dim")


class DeviceDialog(ModalScreen[Added | None]):
    """Paste a pairing token (from `p2psocial device link` on the new device); enter adds it.
    Dismissed with (name, handle, reached) once the device is added."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Add a device to my account", classes="dialog-title")
            yield Input(placeholder="p2psocial-pair:… (from `p2psocial device link`)",
                        id="token")
            yield Checkbox("it may add and revoke devices too (admin)", id="admin")
            yield Input(placeholder="passphrase of the account key", password=True,
                        id="passphrase")
            yield Static("", id="error")
            yield Static("enter adds · tab moves · esc cancels", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one("#passphrase", Input).display = False
        self.query_one("#token", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, _: Input.Submitted) -> None:
        self.add()

    def _fail(self, text: str) -> None:
        self.query_one("#error", Static).update(Text(text, "bold red"))

    @work(exclusive=True, group="pair")
    async def add(self) -> None:
        text = self.query_one("#token", Input).value.strip()
        if not text:
            self._fail("paste the token `p2psocial device link` printed on the new device")
            return
        self.query_one("#error", Static).update(Text("checking…", "dim"))
        backend = await cast(Host, self.app).ready()
        home = backend.home
        if home is None:
            self._fail("the app does not know this node's home: run `p2psocial device add "
                       "<token>` instead")
            return
        try:
            pending = await devices.check_pairing(backend, home, text)
            signer = await self._signer(backend, pending)
            if signer is None:
                return
            reached = await devices.approve(
                backend, pending, signer, admin=self.query_one("#admin", Checkbox).value,
                connect=backend.connect)
        except P2PSocialError as exc:
            self._fail(str(exc))
            return
        self.dismiss((pending.token.name, handle_of(pending.token.key), reached))

    async def _signer(self, backend: UiBackend, pending: devices.PendingAdd
                      ) -> Identity | None:
        """The unlocked signing key, or None after asking for its passphrase."""
        held = backend.unlocked(pending.doc)
        if held is not None:
            return held
        if not pending.encrypted:
            return keyfile.unseal(pending.doc, None)
        field = self.query_one("#passphrase", Input)
        if not field.display or not field.value:
            field.display = True
            field.focus()
            self._fail("the key that signs is sealed: type its passphrase, then enter")
            return None
        given, field.value = field.value, ""
        return await asyncio.to_thread(keyfile.unseal, pending.doc, given)

    def action_cancel(self) -> None:
        self.dismiss(None)
