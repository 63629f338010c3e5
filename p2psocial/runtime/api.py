"""The methods a client may call on a node, and the types of their results.

Rules:
- One table serves both ends of the control socket: the server calls only methods listed
  here, and the client turns each JSON result back into the view type listed here, so a
  remote call returns exactly what the in-process call returns.
- Arguments and results are JSON: handles and hex strings, never raw bytes.
- A method's signature (names, defaults, annotations) is its contract on the socket: the
  server checks every request's arguments against it before calling (runtime/params.py), so
  a method listed here must annotate each parameter with a type params.py understands
  (tests/runtime/test_control_requests.py checks every method).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from p2psocial.runtime.mail_views import ConversationView
from p2psocial.runtime.search_views import SearchView
from p2psocial.runtime.social_views import MuteView
from p2psocial.runtime.views import (
    BlobView,
    EntryView,
    FeedLog,
    FeedView,
    NodeStatus,
    NotificationView,
    PeerView,
    StorageView,
    VerifyReport,
    _View,
)


@dataclass(frozen=True, slots=True)
class Method:
    """A callable method: which object serves it and how its result is rebuilt."""

    name: str
    target: str  # "service" or "node"
    result: type[_View] | None = None
    many: bool = False  # the result is a list of `result`

    def decode(self, value: Any) -> Any:
        """Rebuild a JSON result into its view type(s)."""
        if self.result is None or value is None:
            return value
        if self.many:
            return [self.result.from_json(v) for v in value]
        return self.result.from_json(value)


def encode_result(value: Any) -> Any:
    """A method's result as JSON-able data."""
    if isinstance(value, list):
        return [encode_result(v) for v in value]
    if hasattr(value, "to_json"):
        return value.to_json()
    return value


_METHODS = [
    Method("post", "service", EntryView),
    Method("set_about", "service", EntryView),
    Method("follow", "service", EntryView),
    Method("unfollow", "service", EntryView),
    Method("block", "service", EntryView),
    Method("unblock", "service", EntryView),
    Method("react", "service", EntryView),
    Method("unreact", "service", EntryView),
    Method("repost", "service", EntryView),
    Method("unrepost", "service", EntryView),
    Method("delete", "service", EntryView),
    Method("confirm_restored", "service"),
    Method("feed", "service", FeedView),
    Method("feeds", "service", FeedView, many=True),
    Method("log", "service", FeedLog),
    Method("timeline", "service", EntryView, many=True),
    Method("thread", "service", EntryView, many=True),
    Method("verify", "service", VerifyReport),
    Method("export_entries_hex", "service"),
    Method("account_ops", "service"),
    Method("add_account_ops", "service"),
    # read-only views for the UI
    Method("posts", "service", EntryView, many=True),
    Method("entries", "service", EntryView, many=True),
    Method("notifications", "service", NotificationView, many=True),
    Method("find_feeds", "service", FeedView, many=True),
    Method("relays", "service"),
    Method("add_relay", "service"),
    Method("remove_relay", "service"),
    Method("invite", "service"),
    Method("address_hints", "service"),
    Method("following", "service"),
    Method("blocking", "service"),
    # social verbs (runtime/service/social.py)
    Method("followers", "service", FeedView, many=True),
    Method("followed", "service", FeedView, many=True),
    Method("mute", "service", MuteView),
    Method("unmute", "service", MuteView),
    Method("mutes", "service", MuteView, many=True),
    Method("bookmark", "service", EntryView),
    Method("unbookmark", "service", EntryView),
    Method("bookmarks", "service", EntryView, many=True),
    # search (runtime/service/search.py)
    Method("search", "service", SearchView),
    Method("tag", "service", EntryView, many=True),
    # private conversations (runtime/service/messages.py)
    Method("send_message", "service", ConversationView),
    Method("recipients", "service"),
    Method("inbox", "service", ConversationView, many=True),
    Method("conversation", "service", ConversationView),
    Method("accept", "service", ConversationView),
    Method("decline", "service"),
    Method("mark_read", "service"),
    # pictures and files (runtime/service/attachments.py)
    Method("blob_get", "service", BlobView),
    Method("blob_hash", "service"),
    Method("storage", "service", StorageView),
    Method("prune", "service"),
    Method("set_storage_budget", "service"),
    Method("peers", "node", PeerView, many=True),
    Method("status", "node", NodeStatus),
    Method("connect", "node", PeerView),
    Method("listen_addrs", "node"),
]

METHODS: dict[str, Method] = {m.name: m for m in _METHODS}
