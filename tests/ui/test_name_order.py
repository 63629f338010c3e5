"""Names in the app's state follow the order of the author's feed (issue 9): a page loaded
just before a rename, handled just after it, must not bring the old name back, nor may an
old profile entry that arrives late (replication filling in history)."""

from __future__ import annotations

from p2psocial.runtime.views import EntryView, FeedView
from p2psocial.ui.state import UiState

ANA = "12D3KooWAnaAnaAnaAnaAnaAnaAnaAnaAnaAnaAnaAnaAnaAnaAn"


def entry(seq: int, name: str, kind: str = "post") -> EntryView:
    content = {"name": name} if kind == "about" else {"text": "hi"}
    return EntryView(hash=f"{seq:064x}", author=ANA, seq=seq, timestamp=seq * 1000,
                     type=kind, name=name, content=content)


def test_a_page_loaded_before_a_rename_does_not_bring_the_old_name_back() -> None:
    state = UiState()
    assert state.learn([entry(3, "Ana")])
    page = [entry(4, "Ana"), entry(3, "Ana")]  # the query ran before the rename...
    assert state.learn_about(entry(5, "Ana B.", "about"))  # ...the rename arrives...
    assert not state.learn(page)  # ...then the page is handled
    assert state.names[ANA] == "Ana B."


def test_a_newer_page_or_feed_still_teaches_a_name() -> None:
    state = UiState()
    state.learn_about(entry(5, "Ana B.", "about"))
    assert state.learn([entry(6, "Ana C.")])  # (its rename's event was missed)
    assert state.names[ANA] == "Ana C."
    assert state.learn([FeedView(author=ANA, name="Ana D.", lo=1, hi=9)])
    assert state.names[ANA] == "Ana D."


def test_an_old_profile_entry_arriving_late_does_not_rename() -> None:
    state = UiState()
    state.learn_about(entry(7, "Ana B.", "about"))
    assert not state.learn_about(entry(2, "Ana", "about"))  # history filled in later
    assert state.names[ANA] == "Ana B."
    assert not state.learn([FeedView(author=ANA, name="Ana", lo=1, hi=4)])  # an old view
    assert state.names[ANA] == "Ana B."


def test_my_own_name_follows_the_same_order() -> None:
    state = UiState(me=ANA)
    state.apply_mine(entry(5, "Ana B.", "about"))
    state.learn([entry(4, "Ana")])
    assert (state.names[ANA], state.my_name) == ("Ana B.", "Ana B.")
