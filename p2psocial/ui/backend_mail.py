"""The backend's private-message calls (issue 12): send, inbox, one conversation, accept,
decline, mark read. Mixed into both adapters by backend.py.

Rule: as in backend.py, each call goes through the one METHODS table (`_call`), so an
in-process and an attached backend return the same views; errors are p2psocial errors
(bad input is a UsageError with one line for the user).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from p2psocial.runtime.mail_views import ConversationView


class MailBackend(Protocol):
    """Private conversations, as the UI sees them."""

    async def send_message(self, handles: Sequence[str], text: str) -> ConversationView: ...
    async def recipients(self, handles: Sequence[str]) -> list[str]: ...
    async def inbox(self) -> list[ConversationView]: ...
    async def conversation(self, ref: str, *, limit: int = 50) -> ConversationView: ...
    async def accept(self, ref: str) -> ConversationView: ...
    async def decline(self, ref: str) -> int: ...
    async def mark_read(self, ref: str) -> int: ...


class MailCalls:
    """`MailBackend` over `_call` (the adapters define it)."""

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def send_message(self, handles: Sequence[str], text: str) -> ConversationView:
        """Write `text` to `handles` (several: a group); the conversation after it."""
        result: ConversationView = await self._call("send_message", list(handles), text)
        return result

    async def recipients(self, handles: Sequence[str]) -> list[str]:
        """The accounts `handles` name (UsageError as sending would refuse them)."""
        result: list[str] = await self._call("recipients", list(handles))
        return result

    async def inbox(self) -> list[ConversationView]:
        """Every conversation (requests included), the latest first."""
        result: list[ConversationView] = await self._call("inbox")
        return result

    async def conversation(self, ref: str, *, limit: int = 50) -> ConversationView:
        """The last `limit` messages of the conversation `ref` (a handle or a conv id)."""
        result: ConversationView = await self._call("conversation", ref, limit=limit)
        return result

    async def accept(self, ref: str) -> ConversationView:
        result: ConversationView = await self._call("accept", ref)
        return result

    async def decline(self, ref: str) -> int:
        """Delete the conversation here; how many messages went."""
        result: int = await self._call("decline", ref)
        return result

    async def mark_read(self, ref: str) -> int:
        result: int = await self._call("mark_read", ref)
        return result
