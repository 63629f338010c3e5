"""`p2psocial status` output for feeds nothing is known of, and `connect` lines."""

from __future__ import annotations

import pytest

from p2psocial.cli import render
from p2psocial.runtime.views import FeedStatus, NodeStatus
from p2psocial.testing import identity_for

ME, ANA, TYPO = (identity_for(n).handle for n in ("status-me", "status-ana", "status-typo"))


def test_a_feed_nothing_is_known_of_reads_not_found_yet(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    status = NodeStatus(handle=ME, listen=[], peers=1, feeds=[
        FeedStatus(author=ME, hop=0),
        FeedStatus(author=ANA, name="Ana", hop=1, lo=1, hi=5, best_known=5),
        FeedStatus(author=TYPO, hop=1)])
    assert [f.found for f in status.feeds] == [False, True, False]
    assert NodeStatus.from_json(status.to_json()) == status
    render.print_status(status)
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert "not found yet" in lines[render.short(TYPO)]
    assert "nothing posted" in lines[render.short(ME)]
    assert "1–5" in lines["Ana"] and "not found" not in lines["Ana"]


def test_status_says_whether_the_node_is_behind_a_nat(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    listen = ["/ip4/10.0.0.2/tcp/4001"]
    render.print_status(NodeStatus(handle=ME, listen=listen, peers=1, feeds=[],
                                   reachability="private", observed="/ip4/203.0.113.9/tcp/4001"))
    render.print_status(NodeStatus(handle=ME, listen=listen, peers=1, feeds=[],
                                   reachability="public"))
    render.print_status(NodeStatus(handle=ME, listen=listen, peers=1, feeds=[]))
    out = capsys.readouterr().out
    assert "private: behind a NAT, seen at /ip4/203.0.113.9/tcp/4001" in out
    assert "public: reachable directly" in out
    assert out.count("behind a NAT") + out.count("reachable directly") == 2  # unknown: silent
