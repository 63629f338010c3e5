"""The node's network part: which feeds to replicate, with whom, and keeping peers connected.

Rules:
- The libp2p Host (p2psocial.net, trio) runs inside the bridge; every call to it crosses the
  bridge here. Sync sessions run on the asyncio side (runtime.peer_sync).
- Wanted feeds come from the follow graph (core.wants): me, who I follow, who they follow, up
  to `hops`, minus blocked feeds and forked ones beyond hop 1 (a followed forked feed stays
  wanted for its account's ops); a wanted account brings its member feeds (spec O3; account
  ops: runtime.account_sync). When my follows change, every session is told.
- One session per peer. The side that dialled the connection opens the sync stream; if both
  did, the session opened by the peer with the lower handle wins; a new session opened by
  the same side as the existing one replaces it (that side is done with the old one, whose
  connection may be gone before this side has seen it). A session asked for while
  one with that peer is still registered or opening (it may be on a connection being closed,
  as when a peer hangs up and dials again at once) is asked for again once that one ends, if
  the peer is still connected.
- A peer that breaks the protocol or sends an invalid entry or a fork is disconnected and
  refused for BAN_SECONDS × its number of strikes (core.replication.peer_book, which keeps
  bans, strikes and the refusals of peers, and decides between two sessions with one peer);
  everyone else keeps being served.
- Configured peers are redialled every second while they are away, each in its own task
  (runtime.redial); the host's keepalive closes a connection that died silently, which ends
  its session, so a peer cut off without a reset is redialled too.
- Gossip: I announce my own new heads on my feed's topic, and the heads of held feeds that
  replication advanced (runtime.announcer, rate-limited); news of a wanted feed's newer head
  makes me ask my peers for it again (coalesced per feed). I subscribe to the topics of the
  feeds I want for myself; a relay does not subscribe to those it keeps for its members (it
  gets them over its sessions with them, and each subscription is announced to every peer).
- The DHT gets a provider record for my feed and for held feeds (followed first, bounded:
  runtime.announcer); following a feed nobody connected holds makes the node look up its
  author and its providers.
- Relays: the node keeps its relay memberships and reservations and reaches the authors it
  follows through theirs (relay_client); a node run as a relay also admits members and keeps
  their feeds (relay_duty).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from p2psocial.core.entry import Entry, decode_entry
from p2psocial.core.errors import NetError, UsageError, ValidationError
from p2psocial.core.feed import FeedState
from p2psocial.core.identity import handle_of, parse_handle
from p2psocial.core.replication import PROTOCOL_ID, PROTOCOL_ID_SUMMARIES, Code, State, WantNote
from p2psocial.core.replication.account_summary import AccountWant
from p2psocial.core.replication.peer_book import PeerBook, keeps_existing
from p2psocial.core.restore import RestoreGate
from p2psocial.core.wants import Want, compute_wants, follows_from
from p2psocial.net import (
    Channel,
    ConnectedPeer,
    DhtMode,
    Direction,
    GossipMessage,
    Host,
    HostConfig,
    PeerConnected,
    PeerDisconnected,
    RelayLimits,
)
from p2psocial.net.autonat import ReachabilityWatch, serve_dialback
from p2psocial.net.holepunch import HolePuncher
from p2psocial.runtime.account_sync import AccountSync
from p2psocial.runtime.announcer import Announcer
from p2psocial.runtime.disk_duty import DiskDuty
from p2psocial.runtime.mail_client import MailClient
from p2psocial.runtime.mail_holder import MailHolder, holder_config
from p2psocial.runtime.peer_sync import AGENT, READ_BYTES, PeerSync, circuit_budget
from p2psocial.runtime.redial import Redialer
from p2psocial.runtime.relay_client import RelayClient
from p2psocial.runtime.relay_duty import RelayDuty
from p2psocial.runtime.service import RESTORED_KEY
from p2psocial.runtime.session_retry import open_with_retry
from p2psocial.runtime.sync_limits import (
    BUSY_RETRY_SECONDS,
    MAX_AWAITING_HELLO,
    SyncLimits,
    refuse,
    seconds_left,
)
from p2psocial.runtime.views import FeedStatus, NodeStatus, PeerView
from p2psocial.store.sqlite import IngestReport, Store

log = logging.getLogger(__name__)
_T = TypeVar("_T")

MAX_SOURCES = 32                # peers remembered per feed as its sources (status)
PROVIDE_SECONDS = 600.0
NEWS_COALESCE_SECONDS = 0.2
LOOKUP_SECONDS = 300.0  # how long an account looked up stays wanted for its ops
LOOKUP_WAIT_SECONDS = 5.0  # how long a sender waits for a looked-up account's ops
RESTORE_POLL = 0.5  # while restored: how often my held head is compared with the target
FIND_PROVIDERS = 5
SYNC_PROTOCOLS = (PROTOCOL_ID_SUMMARIES, PROTOCOL_ID)  # proposed in this order: 1.1.0 first


def topic_of(feed: bytes) -> str:
    """The gossip topic that carries head announcements of `feed`."""
    return f"/p2psocial/feed/1/{handle_of(feed)}"


class BridgedPipe:
    """A net Channel used from asyncio: each call crosses the bridge."""

    def __init__(self, bridge: Any, channel: Channel) -> None:
        self._bridge = bridge
        self._channel = channel
        channel.read_timeout = None  # a live session may idle for a long time

    async def receive(self) -> bytes:
        data: bytes = await self._bridge.run(self._channel.receive_some, READ_BYTES)
        return data

    async def send(self, data: bytes) -> None:
        await self._bridge.run(self._channel.send_all, data)

    async def close(self) -> None:
        with contextlib.suppress(NetError, RuntimeError):
            await self._bridge.run(self._channel.aclose)


class Replicator:
    """Replication for one node (implements runtime.node.Network)."""

    def __init__(self, node: Any, bridge: Any, host: Host) -> None:
        self.node = node
        self.store: Store = node.store
        self.me: bytes = node.identity.public_key
        self._bridge = bridge
        self._host = host
        self._wants: dict[bytes, Want] = {}
        self._relay_peers_cache: tuple[object, set[str]] | None = None
        self._relay_reading: tuple[object, asyncio.Task[set[str]]] | None = None
        self._wants_changes = 0  # bumped at each new self._wants (a cache key)
        # accounts wanted for a while only for their ops (look_up_accounts):
        # id -> (asked at, wanted until), monotonic
        self._lookups: dict[bytes, tuple[float, float]] = {}
        # account_wants() as last computed, with the ops generation it saw
        self._summed: tuple[int, list[AccountWant]] | None = None
        self._states: dict[bytes, FeedState] = {}
        # one WANT note per feed, shared by every session while my range is unchanged (a
        # relay gives each new session a note per member's feed: members squared otherwise)
        self._notes: dict[bytes, WantNote] = {}
        self._blocked: set[bytes] = set()
        self._sessions: dict[str, PeerSync] = {}
        self._opening: set[str] = set()
        # peers a session was asked for while one was still registered or opening (maybe on
        # a connection already gone): asked again once that one ends (bench/relay_soak.py)
        self._ask_again_for: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.peer_book = PeerBook()  # bans, strikes, refusals (core.replication.peer_book)
        self._best_known: dict[bytes, int] = {}
        self._sources: dict[bytes, set[str]] = {}
        self._restore = RestoreGate(node.config.restore_window)
        self._topics: dict[bytes, Any] = {}
        self._topic_feeds: set[bytes] = set()  # feeds whose gossip topic I subscribe to
        self._news_pending: set[bytes] = set()
        self._received = 0
        self._duplicates = 0
        self._stopping = False
        self._sync_limits = SyncLimits(node.config.sync_hello_seconds,
                                       node.config.sync_frame_seconds)
        self.accounts = AccountSync(  # account ops (spec O1-O3)
            self.store, sessions=lambda: list(self._sessions.values()),
            wanted=lambda: self._wants, blocked=lambda: self._blocked,
            wants_changed=self.wants_changed, me=self.me, home=node.home)
        self.relays = RelayClient(self, bridge, host)
        self.duty: RelayDuty | None = RelayDuty(self, bridge, host) if node.config.relay \
            else None
        self.mail = MailHolder(self, bridge, host, holder_config(node.config))  # M14
        self.disk = DiskDuty(  # pictures and files, the storage budget (B3-B8)
            node, bridge, host, wants=lambda: self._wants,
            mine=lambda: self.accounts.with_members({self.me}))
        self.mail_client = MailClient(self, bridge, host, self.mail)  # M16-M20
        self.puncher, self.reach = HolePuncher(host), ReachabilityWatch(host)
        self.puncher.on_direct = lambda peer: bridge.call_soon_asyncio(self._went_direct, peer)
        self.announcer = Announcer(  # heads of held feeds on gossip, held feeds on the DHT
            self.me, spawn=self._spawn, holdings=self._holdings,
            publish=(lambda f, h: self._call(host.gossip.publish, topic_of(f), h))
            if node.config.announce else None,
            provide=(lambda f: self._call(host.dht.provide, f)) if node.config.dht else None)

    # --- lifecycle --------------------------------------------------------------------------

    @classmethod
    async def start(cls, node: Any, bridge: Any) -> Replicator:
        """Start the host in the bridge and everything that keeps replication going."""
        config = node.config
        host = Host(node.identity, HostConfig(
            listen_addrs=tuple(config.listen), bootstrap_peers=tuple(config.peers),
            # every node answers DHT queries: without servers a DHT finds nothing, and
            # py-libp2p has no AutoNAT to tell a reachable node from one behind NAT
            enable_mdns=config.mdns, dht_mode=DhtMode.SERVER if config.dht else DhtMode.OFF,
            enable_gossip=config.announce, relay_hop=config.relay,
            relay_limits=RelayLimits(max_reservations=config.relay_max_reservations,
                                     reservation_ttl=config.relay_reservation_ttl)))
        self = cls(node, bridge, host)
        host.set_stream_handler(PROTOCOL_ID_SUMMARIES, self._inbound_from_trio)
        host.set_stream_handler(PROTOCOL_ID, self._inbound_from_trio)
        serve_dialback(host)  # answer reachability checks (net/autonat.py)
        await bridge.start_service(host.serve)
        await bridge.start_service(self.puncher.serve)  # DCUtR, routes (net/holepunch.py)
        await bridge.start_service(self.reach.serve)
        adopt_library_logs(node.config.library_log_level)
        if self.duty is not None:
            await self.duty.start()
            if config.dht:
                self._spawn(self.duty.keep_provided(), "provide members")
        await self.accounts.start()
        self.mail.start()
        self.mail_client.start()
        self.disk.start(self._spawn)
        node.service.mail_queued = self.mail_client.send_soon
        node.service.ops_wanted = self.look_up_accounts
        await self._recompute_wants()
        await self.relays.refresh()
        self._spawn(self._reach_authors_loop(), "reach authors")
        # a node online will receive batches: start the verification processes meanwhile
        self._spawn(self.store.verify_pool.warm_up(), "verification processes")
        self._spawn(self._watch_connections(), "connections")
        self._spawn(self._keep_configured_peers(), "reconnect")
        if config.dht:
            self._spawn(self._provide_my_feed(), "provide")
            self._spawn(self.announcer.keep_provided(), "provide held")
        return self

    async def stop(self) -> None:
        """Say BYE to every peer, then close the host (before the bridge stops)."""
        self._stopping = True
        self.relays.stop()
        for sync in list(self._sessions.values()):
            sync.close("node stopping")
        if self._sessions:
            await asyncio.wait([asyncio.ensure_future(s.wait_closed())
                                for s in self._sessions.values()], timeout=0.5)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.disk.stop()
        with contextlib.suppress(NetError):
            await self._bridge.run(self._host.aclose)

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self._stopping:
            log.error("replication task %s failed", task.get_name(),
                      exc_info=task.exception())

    async def _call(self, fn: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        result: _T = await self._bridge.run(fn, *args)
        return result

    # --- wants ------------------------------------------------------------------------------

    async def _recompute_wants(self) -> None:
        config = self.node.config
        blocked_before = self._blocked
        self._blocked = await self.store.blocked_feeds(self.me)  # every device feed (S10)
        if self._blocked - blocked_before:  # M27: their private messages go at once
            self._spawn(self.mail_client.drop_blocked(self._blocked - blocked_before), "mail")
        graph: dict[bytes, set[bytes]] = {}
        frontier = {self.me}
        for _ in range(config.hops):
            layer = await self.store.follow_graph(self.accounts.with_members(frontier)
                                                  - set(graph))
            graph.update(layer)
            frontier = set().union(*layer.values()) if layer else set()
        wants = self.accounts.expand(compute_wants(
            self.me, follows_from(self.accounts.fold(graph)), blocked=self._blocked,
            hops=config.hops, depths=config.depths), self._blocked)
        kept_for_members: set[bytes] = set()
        eager = {f for f, w in wants.items() if w.hop <= config.blobs_eager_hops}
        if self.duty is not None:
            extra = self.accounts.expand(self.duty.extra_wants(self._blocked), self._blocked)
            eager |= extra.keys()
            self.disk.member_feeds = set(extra)
            for feed, want in extra.items():
                if feed not in wants:
                    kept_for_members.add(feed)
                    wants[feed] = want
            if self._blocked - blocked_before:
                await self.duty.enforce_blocks(self._blocked)
        now = time.monotonic()
        self._lookups = {a: t for a, t in self._lookups.items() if t[1] > now}
        for account in self._lookups.keys() - wants.keys() - self._blocked:
            kept_for_members.add(account)  # no gossip topic: only its ops are wanted (O1)
            wants[account] = Want(hop=config.hops + 1, depth=1)
        states = await self.store.feed_states(list(wants))
        # a forked feed I follow (or of my account) stays wanted: its entries are refused,
        # but the WANT brings its account's ops (O1), how a repaired author comes back
        wants = {f: w for f, w in wants.items()
                 if w.hop <= 1 or not (states.get(f) and states[f].forked)}
        old = self._replace_wants(wants)
        self.disk.eager = eager & wants.keys()
        self._notes = {f: n for f, n in self._notes.items() if f in wants}
        self._states = {f: states.get(f) or FeedState(f) for f in wants}
        self._summed = None
        self.account_wants()  # summarise now (cached): the next session starts with them
        added = [f for f in wants if f not in old or old[f] != wants[f]]
        removed = [f for f in old if f not in wants]
        for feed in removed:
            self._best_known.pop(feed, None)
            self._sources.pop(feed, None)
        self._topic_feeds = {f for f in wants if f not in kept_for_members and f != self.me}
        if added or removed:
            notes = [self._note(f) for f in added]
            for sync in self._sessions.values():
                sync.want(notes)
                sync.unwant(removed)
        await self._update_topics()
        self._read_relay_peers()  # for `peers`, before it is first asked
        if added or removed:
            newly_followed = [f for f in added if wants[f].hop == 1
                              and self._states[f].empty]
            if newly_followed and self.node.config.dht:
                self._spawn(self._look_up(newly_followed), "lookup")

    def _replace_wants(self, wants: dict[bytes, Want]) -> dict[bytes, Want]:
        """Make `wants` the wanted feeds (a new version for caches); returns the old ones."""
        old, self._wants = self._wants, wants
        self._wants_changes += 1
        return old

    async def look_up_accounts(self, accounts: Sequence[bytes], *, wait: bool = True
                               ) -> None:
        """Want `accounts`' ids for a while (LOOKUP_SECONDS) so that sessions bring their ops
        (O1), and wait up to LOOKUP_WAIT_SECONDS for an init of each: a private message to
        someone nothing here follows is sealed to its devices only once their ops are known
        (M16); past the wait it is sealed as to a single key. The wait is counted from when
        each account was first asked for, so a single key (which never has ops) costs it
        once per LOOKUP_SECONDS.
        `wait=False`: only ask. Blocked accounts are never wanted."""
        now = time.monotonic()
        new = [a for a in accounts if a not in self._wants and a not in self._lookups]
        for account in new:
            self._lookups[account] = (now, now + LOOKUP_SECONDS)
        if new:
            await self._recompute_wants()
            self._spawn(self._end_lookups(), "lookups")
        if not wait:
            return
        # wait out each lookup's first seconds only: a single key never has ops
        asked = [a for a in accounts if a in self._lookups]
        deadline = max((self._lookups[a][0] for a in asked), default=now) + LOOKUP_WAIT_SECONDS
        while time.monotonic() < deadline:
            states = [await self.store.accounts.state_of(a) for a in asked]
            if all(state.tip is not None for state in states):
                return
            await asyncio.sleep(0.1)

    async def _end_lookups(self) -> None:
        await asyncio.sleep(LOOKUP_SECONDS)
        self.wants_changed()  # drops the lookups that expired

    def wants_changed(self) -> None:
        """My follows or blocks changed: recompute the wanted feeds."""
        if not self._stopping:
            self._spawn(self._recompute_wants(), "wants")

    @property
    def blocked(self) -> set[bytes]:
        """Feeds my user blocks, with each blocked account and all its device feeds (S10)."""
        return self._blocked

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        """Run `coro` as a background task of the replicator (failures are logged)."""
        return self._spawn(coro, name)

    def _holdings(self) -> tuple[list[bytes], list[bytes]]:
        """Wanted feeds I hold something of, and the ones I follow (for the Announcer)."""
        return ([f for f, s in self._states.items() if not s.empty],
                [f for f, w in self._wants.items() if w.hop == 1])

    def _note(self, feed: bytes) -> WantNote:
        state = self._states.get(feed)
        lo, hi = (0, 0) if state is None else (state.lo, state.hi)
        depth = self._wants[feed].depth
        shared = self._notes.get(feed)
        if shared is not None and (shared.lo, shared.hi, shared.depth) == (lo, hi, depth):
            return shared  # a new session asks for every wanted feed: no note built again
        note = WantNote(feed, lo, hi, depth)
        self._notes[feed] = note
        return note

    def want_notes(self) -> list[WantNote]:
        """What a new session asks its peer for."""
        return [self._note(f) for f in self._wants]

    def account_wants(self) -> list[AccountWant]:
        """The wanted accounts a new sync 1.1.0 session summarises (spec A2): computed again
        only after the wants, the states held of them or the ops changed (each change of
        `_states` drops it), so a burst of sessions (a reconnect to many peers) shares it."""
        generation = self.store.accounts.generation
        if self._summed is None or self._summed[0] != generation:
            self._summed = (generation, self.accounts.account_wants(self._wants, self._states))
        return self._summed[1]

    # --- the Link a PeerSync uses ------------------------------------------------------------

    async def states_to_serve(self, feeds: Sequence[bytes]) -> Mapping[bytes, FeedState]:
        """My states of `feeds` for answering a WANT (nothing for blocked feeds)."""
        states = await self.store.feed_states([f for f in feeds if f not in self._blocked])
        return states

    async def states_of(self, feeds: Sequence[bytes]) -> Mapping[bytes, FeedState]:
        """My states of `feeds`."""
        return await self.store.feed_states(feeds)

    async def stored(self, sync: PeerSync, report: IngestReport) -> None:
        """A session stored received entries: tell the node and every session."""
        self._received += len(report.accepted)
        self._duplicates += report.duplicates
        feeds = {e.author for e in report.accepted} | {f.author for f in report.forks}
        for feed in {e.author for e in report.accepted}:
            sources = self._sources.setdefault(feed, set())
            if len(sources) >= MAX_SOURCES and sync.peer not in sources:
                sources.pop()  # bounded: a status hint, not a ledger
            sources.add(sync.peer)
        states = await self.store.feed_states(feeds) if feeds else {}
        self._states.update({f: s for f, s in states.items() if f in self._wants})
        self._summed = None
        if report.accepted:
            self.node.entries_stored(report.accepted)
            self.announcer.stored(report.accepted, states)
            self.disk.entries_stored(report.accepted, sync.peer)
        for other in list(self._sessions.values()):
            other.update(states)
        if report.forks:
            self.wants_changed()

    def peer_has(self, sync: PeerSync, feed: bytes, lo: int, hi: int) -> None:
        """The peer told us its range of a feed (kept only for feeds I want: a peer may name
        any number of others)."""
        if feed in self._wants:
            self._best_known[feed] = max(self._best_known.get(feed, 0), hi)
        if feed == self.me:
            self._restore.offered(sync.peer, hi)

    def caught_up(self, sync: PeerSync) -> None:
        """The peer has sent all it holds of my wants."""
        log.info("caught up with %s", sync.peer)
        if self._restore.caught_up(sync.peer, time.monotonic()):
            self._spawn(self._confirm_restore(), "restore")

    async def _confirm_restore(self) -> None:
        """Allow writing again once the restore gate says my newest entry is learnt: the
        highest head any peer offered within the window is held (core.restore, R1–R4)."""
        while await self.store.get_meta(RESTORED_KEY):
            now = time.monotonic()
            mine = (await self.store.feed_states([self.me])).get(self.me)
            held = mine.hi if mine is not None else 0
            if self._restore.may_write(held, now):
                await self.store.set_meta(RESTORED_KEY, None)
                log.info("learnt my latest entries (up to seq %d) from the network: posting "
                         "is allowed again", held)
                return
            closes = self._restore.closes_at() or now
            await asyncio.sleep(max(closes - now, RESTORE_POLL))
        self._restore.done = True

    def misbehaved(self, sync: PeerSync, reason: str) -> float:
        """Strike a peer: disconnect it and refuse it for a while (returned, in seconds)."""
        seconds = self.peer_book.strike(sync.peer, time.monotonic())
        log.warning("refusing %s for %.0f s: %s", sync.peer, seconds, reason)
        self._spawn(self._disconnect_soon(sync.peer), "disconnect")
        return seconds

    def refused_by(self, sync: PeerSync, seconds: float) -> None:
        """The peer refused us, retry after `seconds`: no session with it before then."""
        self.peer_book.refused_me(sync.peer, seconds, time.monotonic())

    async def _disconnect_soon(self, peer: str) -> None:
        await asyncio.sleep(0.2)  # let the ERROR frame go out first
        with contextlib.suppress(NetError):
            await self._call(self._host.disconnect, peer)

    def _banned(self, peer: str) -> bool:
        """True while I refuse `peer`, or it asked me not to come back yet: no dialling."""
        return self.peer_book.waiting(peer, time.monotonic())

    def _refusing(self, peer: str) -> bool:
        """True while I refuse `peer` (its streams are refused, its connections closed)."""
        return self.peer_book.refusing(peer, time.monotonic())

    # --- my own entries ---------------------------------------------------------------------

    def entries_stored(self, entries: list[Entry]) -> None:
        """My user appended: push to every session and announce the new head."""
        if not entries or self._stopping:
            return
        newest = max(entries, key=lambda e: e.seq)
        self._spawn(self._after_append(newest), "append")
        if any(e.type == "relays" for e in entries):
            self._spawn(self.relays.refresh(), "relays")

    async def _after_append(self, newest: Entry) -> None:
        state = await self.store.feed_state(self.me)
        self._states[self.me] = state
        self._summed = None
        for sync in list(self._sessions.values()):
            sync.update({self.me: state})
        if self.node.config.announce:
            with contextlib.suppress(NetError):
                await self._call(self._host.gossip.publish, topic_of(self.me), newest.header)

    def ops_stored(self, ops: Sequence[Any]) -> None:
        """Account ops made here were stored (core.account.ops.Op): send them to the peers
        that want their account, and want new member feeds (spec O1, O3)."""
        if ops and not self._stopping:
            self._spawn(self.accounts.ops_stored(ops), "ops")

    # --- sessions ---------------------------------------------------------------------------

    async def _inbound_from_trio(self, channel: Channel) -> None:
        """The host's stream handler (runs in trio): serve the session on asyncio."""
        await self._bridge.call_asyncio(self._serve, channel, False)

    async def _serve(self, channel: Channel, outbound: bool) -> None:
        peer = channel.peer
        pipe = BridgedPipe(self._bridge, channel)
        if self._stopping or not self._admit(peer, outbound):
            await pipe.close()
            return
        if self._refusing(peer) or (not outbound
                                    and self._awaiting_hello() >= MAX_AWAITING_HELLO):
            busy = not self._refusing(peer)
            await refuse(pipe, AGENT, Code.BUSY if busy else Code.REFUSED, "",
                         BUSY_RETRY_SECONDS if busy else
                         seconds_left(self.peer_book.refused_until(peer), time.monotonic()))
            return
        relay = channel.via_relay
        budget = None if relay is None else circuit_budget(
            await self._bridge.run_sync(self._host.circuit_data_limit, relay))
        sync = PeerSync(self, pipe, peer, outbound=outbound, limits=self._sync_limits,
                        budget=budget, accounts=self.accounts,
                        summaries=channel.protocol == PROTOCOL_ID_SUMMARIES)
        self._sessions[peer] = sync
        try:
            await sync.run()
        finally:
            if self._sessions.get(peer) is sync:
                del self._sessions[peer]
            self._open_if_asked(peer)
        if sync.hang_up or sync.moving:  # a relay's limit (spec L3), or a move (L4)
            self._spawn(self._after_relay_limit(peer), "relay limit")

    def _went_direct(self, peer: str) -> None:
        """A peer reached only through a relay now has a direct connection: the side with
        the lower handle moves a relayed session onto it (spec L4)."""
        sync = self._sessions.get(peer)
        if sync is None or not sync.limited or self._stopping:
            return
        if parse_handle(self.node.handle) < parse_handle(peer):
            log.info("moving the session with %s to the direct connection", peer)
            sync.move_to_direct()

    async def _after_relay_limit(self, peer: str) -> None:
        """Go on over a direct connection if one exists now (hole-punched: libp2p opens new
        streams on it rather than the relayed one), else hang up and redial for a new
        circuit."""
        if await self._bridge.run_sync(self.puncher.route, peer) in ("", "relayed"):
            await self._disconnect_soon(peer)
        else:
            await self._open_session(peer)

    def _awaiting_hello(self) -> int:
        return sum(1 for s in self._sessions.values() if s.session.state is State.AWAIT_HELLO)

    def _admit(self, peer: str, outbound: bool) -> bool:
        """Decide between a new session and an existing one with the same peer."""
        existing = self._sessions.get(peer)
        if existing is None or not existing.open:
            return True
        if keeps_existing(existing.outbound, outbound,
                          parse_handle(self.node.handle) < parse_handle(peer)):
            return False
        existing.close("duplicate session")
        return True

    async def _open_session(self, peer: str) -> None:
        if self._banned(peer) or self._stopping:
            return
        if peer in self._sessions or peer in self._opening:
            self._ask_again_for.add(peer)  # that one may be on a connection being closed
            return
        self._opening.add(peer)
        try:  # retried while the peer stays connected (runtime/session_retry.py)
            channel = await open_with_retry(
                lambda: self._call(self._host.open_stream, peer, SYNC_PROTOCOLS),
                lambda: self._session_wanted(peer), what=f"a sync stream to {peer}")
        finally:
            self._opening.discard(peer)
        if channel is not None:
            await self._serve(channel, True)
        else:
            self._open_if_asked(peer)

    def _open_if_asked(self, peer: str) -> None:
        """A session with `peer` was asked for while the one that just ended (or failed to
        open) was there: open one now if the peer is still connected."""
        if peer in self._ask_again_for and peer not in self._sessions \
                and peer not in self._opening and not self._stopping:
            self._ask_again_for.discard(peer)
            self._spawn(self._open_if_connected(peer), f"session {peer[-6:]}")

    async def _open_if_connected(self, peer: str) -> None:
        if await self._session_wanted(peer):
            await self._open_session(peer)

    async def _session_wanted(self, peer: str) -> bool:
        if peer in self._sessions or self._banned(peer) or self._stopping:
            return False
        try:
            return bool(await self._bridge.run_sync(self._host.is_connected, peer))
        except NetError:
            return False

    async def _watch_connections(self) -> None:
        queue = await self._bridge.run_sync(self._host.events)
        for connected in await self._bridge.run_sync(self._host.connected_peers):
            self._on_connected(connected)
        while not self._stopping:
            event = await self._call(queue.receive)
            if isinstance(event, PeerConnected):
                self._on_connected(event.connection)
            elif isinstance(event, PeerDisconnected):
                log.info("disconnected from %s", event.peer)

    def _on_connected(self, conn: ConnectedPeer) -> None:
        log.info("connected to %s (%s, %s)", conn.peer, conn.route.value, conn.remote_addr)
        self.mail_client.connected(conn.peer)
        if self._refusing(conn.peer):
            self._spawn(self._disconnect_soon(conn.peer), "disconnect")
        elif conn.direction is not Direction.INBOUND:
            self._spawn(self._open_session(conn.peer), f"session {conn.peer[-6:]}")

    async def _keep_configured_peers(self) -> None:
        redialer = Redialer(self.dial_quietly, self._spawn)
        await redialer.keep(lambda: self.node.config.peers, lambda: self._stopping)

    def peer_reachable(self, peer: str) -> None:
        """A peer we just connected to (a relay): sync with it if we do not already (a
        session still registered may be on a connection being closed: `_open_session`)."""
        self._spawn(self._open_session(peer), f"session {peer[-6:]}")

    async def dial_quietly(self, addr: str) -> bool:
        """Dial `addr` if its peer is not connected, and sync with it; failures are logged.
        True if this made a new connection."""
        peer = addr.rsplit("/p2p/", 1)[-1]
        if peer in self._sessions or peer in self._opening or self._banned(peer):
            return False
        try:
            await self._call(self._host.dial, addr)
        except NetError as exc:
            log.debug("dialling %s: %s", addr, exc)
            return False
        self.peer_reachable(peer)
        return True

    def is_connected(self, handle: str) -> bool:
        """True if a sync session with `handle` is open."""
        sync = self._sessions.get(handle)
        return sync is not None and sync.open

    def served(self, feed: bytes) -> bool:
        """True if some open session's peer holds `feed` and still keeps it."""
        return any(s.open and s.session.peer_wants(feed) and not s.session.peer_holds(feed).empty
                   for s in list(self._sessions.values()))

    async def look_up(self, feeds: Sequence[bytes]) -> None:
        """Find peers for `feeds` on the DHT (the authors, and who provides them)."""
        await self._look_up(feeds)

    async def _reach_authors_loop(self) -> None:
        while not self._stopping:
            followed = [f for f, w in self._wants.items() if w.hop == 1]
            try:
                await self.relays.reach_authors(followed)
            except (NetError, ValidationError) as exc:
                log.debug("reaching authors: %s", exc)
            await asyncio.sleep(self.node.config.look_seconds)

    async def connect(self, addr: str) -> PeerView:
        """Dial a peer by multiaddr and sync with it. A connection to that peer that exists
        already is used as it is and `addr` is not dialled: the view says so (`existing`)."""
        before = {c.peer for c in await self._bridge.run_sync(self._host.connected_peers)}
        try:
            conn = await self._call(self._host.dial, addr)
        except NetError as exc:
            raise UsageError(f"cannot connect to {addr}: {exc}") from exc
        self._spawn(self._open_session(conn.peer), f"session {conn.peer[-6:]}")
        return dataclasses.replace(self._peer_view(conn), requested=addr,
                                   existing=conn.peer in before)

    # --- gossip and the DHT -----------------------------------------------------------------

    async def _update_topics(self) -> None:
        """Subscribe to the topics of the feeds I want for myself, and only those: a relay
        gets its members' entries over its sessions with them, and subscribing to every
        member's topic made each joining member cost a SUBSCRIBE to every connected peer."""
        if not self.node.config.announce:
            return
        for feed in [f for f in self._topics if f not in self._topic_feeds]:
            task = self._topics.pop(feed)
            task.cancel()
            with contextlib.suppress(NetError):
                await self._call(self._host.gossip.unsubscribe, topic_of(feed))
        for feed in self._topic_feeds:
            if feed not in self._topics:
                self._topics[feed] = self._spawn(self._listen(feed), "gossip")

    async def _listen(self, feed: bytes) -> None:
        try:
            queue = await self._call(self._host.gossip.subscribe, topic_of(feed))
        except NetError as exc:
            log.info("cannot subscribe to %s: %s", topic_of(feed), exc)
            return
        while not self._stopping:
            message: GossipMessage = await self._call(queue.receive)
            self._on_announcement(feed, message)

    def _on_announcement(self, feed: bytes, message: GossipMessage) -> None:
        try:
            head = decode_entry(message.data, None)
        except ValidationError:
            log.debug("ignored an invalid announcement from %s", message.source)
            return
        if head.author != feed or feed not in self._wants:
            return
        self._best_known[feed] = max(self._best_known.get(feed, 0), head.seq)
        self.announcer.heard(feed, head.seq)
        state = self._states.get(feed) or FeedState(feed)
        if head.seq > state.hi and feed not in self._news_pending:
            self._news_pending.add(feed)
            self._spawn(self._ask_again(feed), "news")

    async def _ask_again(self, feed: bytes) -> None:
        await asyncio.sleep(NEWS_COALESCE_SECONDS)
        self._news_pending.discard(feed)
        state = await self.store.feed_state(feed)
        if state.hi >= self._best_known.get(feed, 0) or feed not in self._wants:
            return  # the live push got here first
        self._states[feed] = state
        self._summed = None
        note = self._note(feed)
        for sync in list(self._sessions.values()):
            sync.want([note])

    async def _provide_my_feed(self) -> None:
        while not self._stopping:
            try:
                await self._call(self._host.dht.provide, self.me)
            except NetError as exc:
                log.debug("providing my feed on the DHT: %s", exc)
            await asyncio.sleep(PROVIDE_SECONDS)

    async def _look_up(self, feeds: Sequence[bytes]) -> None:
        """Find someone to sync newly followed feeds from: the author, or a provider."""
        for feed in feeds:
            handle = handle_of(feed)
            candidates: list[Any] = []
            with contextlib.suppress(NetError):
                found = await self._call(self._host.dht.find_peer, handle)
                if found is not None:
                    candidates.append(found)
            with contextlib.suppress(NetError):
                candidates += await self._call(self._host.dht.find_providers, feed,
                                               FIND_PROVIDERS)
            for info in candidates:
                if info.peer == self.node.handle or info.peer in self._sessions:
                    continue
                try:
                    await self._call(self._host.dial, info)
                except NetError as exc:
                    log.debug("dialling %s for %s: %s", info.peer, handle, exc)
                    continue
                self._spawn(self._open_session(info.peer), f"session {info.peer[-6:]}")

    # --- views ------------------------------------------------------------------------------

    def listen_addrs(self) -> list[str]:
        """Where peers can reach this node."""
        if not self._host.running:
            return []
        return self._host.listen_addrs()

    def _peer_view(self, conn: ConnectedPeer, route: str = "") -> PeerView:
        sync = self._sessions.get(conn.peer)
        feeds = 0 if sync is None else sync.session.feeds_in_common(self._wants)
        return PeerView(
            handle=conn.peer, addr=conn.remote_addr, kind=route or conn.route.value,
            connected_at=0 if sync is None else sync.counters.started_at,
            syncing=sync is not None and sync.open, caught_up=bool(sync and sync.caught_up),
            feeds=feeds, entries_in=0 if sync is None else sync.counters.entries_in,
            entries_out=0 if sync is None else sync.counters.entries_out,
            duplicates=0 if sync is None else sync.counters.duplicates,
            session="" if sync is None or not sync.open else
            "relayed" if sync.limited else "direct",
            accounts_matched=0 if sync is None else sync.session.stats.summaries_matched,
            sync_version="" if sync is None else "1.1.0" if sync.summaries else "1.0.0")

    async def peers(self) -> list[PeerView]:
        """Connected peers with what we replicate with each."""
        connected = await self._bridge.run_sync(self._host.connected_peers)
        routes = await self._bridge.run_sync(
            lambda: {c.peer: self.puncher.route(c.peer) for c in connected})
        profiles = await self.store.profiles(parse_handle(c.peer) for c in connected)
        relays = await self._relay_peers()
        views = []
        for conn in connected:
            view = self._peer_view(conn, routes.get(conn.peer, ""))
            profile = profiles.get(parse_handle(conn.peer))
            name = profile.name if profile is not None else None
            if name or conn.peer in relays:
                view = dataclasses.replace(view, name=name, relay=conn.peer in relays)
            views.append(view)
        return views

    async def _relay_peers(self) -> set[str]:
        """The PeerIDs of relays that wanted feeds (mine too) publish; read again only when
        the store wrote, the ops changed or the wants did (`peers` is polled by the UI).
        One read at a time, shared by the callers that want it."""
        key = self._relay_key()
        if self._relay_peers_cache is not None and self._relay_peers_cache[0] == key:
            return self._relay_peers_cache[1]
        return await asyncio.shield(self._read_relay_peers())

    def _relay_key(self) -> tuple[int, int, int]:
        return (self.store.writes, self.store.accounts.generation, self._wants_changes)

    def _read_relay_peers(self) -> asyncio.Task[set[str]]:
        """The read of the relays for the current key, started unless one is under way:
        `_recompute_wants` starts it too, so a node has it before the first `peers` (with
        1,000 accounts it takes ~0.1 s of the database thread: one statement per account)."""
        key = self._relay_key()
        if self._relay_reading is None or self._relay_reading[0] != key:
            self._relay_reading = (key, self._spawn(self._relays_now(key), "relays"))
        return self._relay_reading[1]

    async def _relays_now(self, key: tuple[int, int, int]) -> set[str]:
        # a wanted account's member feeds publish what the account does (S9): asking for
        # the account alone finds the same relays (4,000 keys become 1,000)
        members = self.accounts.members
        covered = {m for a in self._wants if a in members for m in members[a]} - {
            a for a in self._wants if a in members}
        asked = [f for f in self._wants if f not in covered]
        relays = {addr.rsplit("/p2p/", 1)[-1]
                  for addrs in (await self.store.relay_lists(asked)).values()
                  for addr in addrs}
        self._relay_peers_cache = (key, relays)
        return relays

    async def status(self) -> NodeStatus:
        """Every wanted feed: what we hold, how far behind, from whom."""
        states = await self.store.feed_states(list(self._wants))
        profiles = await self.store.profiles(self._wants)
        feeds = []
        for feed, want in sorted(self._wants.items(), key=lambda kv: (kv[1].hop, kv[0])):
            state = states.get(feed) or FeedState(feed)
            profile = profiles.get(feed)
            feeds.append(FeedStatus(
                author=handle_of(feed), name=profile.name if profile else None, hop=want.hop,
                depth=want.depth, lo=state.lo, hi=state.hi,
                head=None if state.hi_hash is None else state.hi_hash.hex(),
                best_known=max(self._best_known.get(feed, 0), state.hi),
                sources=sorted(self._sources.get(feed, set())), forked=state.forked))
        connected = await self._bridge.run_sync(self._host.connected_peers)
        return NodeStatus(handle=self.node.handle, listen=self.listen_addrs(),
                          peers=len(connected), feeds=feeds, entries_received=self._received,
                          duplicates=self._duplicates, started_at=self.node.started_at,
                          relays=[r.to_json() for r in self.relays.states.values()],
                          members=None if self.duty is None else self.duty.members,
                          topics=len(self._topics),
                          reservations=None if self.duty is None else sorted(
                              await self._bridge.run_sync(self._host.relay_reservations)),
                          reachability=self.reach.current.kind.value,
                          observed=self.reach.current.observed)


def adopt_library_logs(level: str) -> None:
    """Send py-libp2p's log records through our handlers at `level`.

    On import it detaches its logger (no handler, no propagation), so Python's last-resort
    handler would print its warnings raw on stderr, and it warns about routine events such
    as a peer not serving the DHT. We re-attach it and keep it quiet unless asked.
    """
    library = logging.getLogger("libp2p")
    library.propagate = True
    library.setLevel(getattr(logging, level.upper(), logging.CRITICAL))
