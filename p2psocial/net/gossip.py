"""Gossip: gossipsub publish/subscribe, set up the way py-libp2p 0.8.1 needs it.

Rules (measured, see /work/shared/libp2p-notes.md):
- `heartbeat_interval` ~1 s (libp2p's default of 120 s delays mesh repair by minutes).
- `spam_protection_enabled=False`: when on, libp2p limits OUR OWN publishes to 10/s per topic
  and silently drops the rest (500 published -> 6 delivered).
- `pubsub.counter = time.time_ns()` when the service starts: the message sequence number
  otherwise starts at `int(time.time())`, so after a restart a publisher reuses ids that
  receivers remember for 120 s and its messages are dropped as duplicates.
- libp2p's outbound queue per peer also holds 32 messages and drops new ones silently, so
  `publish` waits (briefly) while a queue is nearly full and draining: backpressure instead
  of loss at the origin. Forwarding nodes still drop when overloaded: gossip is best effort.
- libp2p's subscription channel holds 32 messages and drops new ones when full, so each
  subscription is drained at once by its own task into a DropOldestQueue (bounded; on overflow
  the OLDEST message is dropped and counted; gossip is never blocked).
- A subscriber receives messages from others only: our own publishes are not echoed back.
  `GossipMessage.source` is the originator's handle (messages are signed; libp2p checks it).
- Gossip carries small announcements (~300 messages/s per node at most, ~2-3 ms of CPU each);
  bulk data goes over a Channel.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import NamedTuple

import trio
from libp2p.abc import IHost, ISubscriptionAPI
from libp2p.exceptions import BaseLibp2pError
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, PROTOCOL_ID_V12, GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

from p2psocial.net import tasks, workarounds
from p2psocial.net.errors import HostClosed, PubsubError, Timeout
from p2psocial.net.queue import DropOldestQueue

logger = logging.getLogger(__name__)

_HIGH_WATER = 24      # of the 32 messages libp2p queues per peer before it drops
_STUCK_AFTER = 0.25   # seconds a nearly full queue may take to drain before it is skipped


class GossipMessage(NamedTuple):
    """One message received on a topic: who published it, and its bytes."""

    source: str
    data: bytes


class Gossip:
    """Publish/subscribe over gossipsub for one host."""

    def __init__(self, host: IHost, *, heartbeat: int, queue_size: int,
                 publish_timeout: float) -> None:
        self._router = GossipSub(
            protocols=[PROTOCOL_ID_V12, PROTOCOL_ID_V11],
            degree=6, degree_low=4, degree_high=12,
            heartbeat_interval=heartbeat, heartbeat_initial_delay=0.1,
            spam_protection_enabled=False,
        )
        self._pubsub = Pubsub(host, self._router)
        workarounds.close_replaced_pubsub_queues(self._pubsub)
        self._my_id = str(host.get_id())
        self._queue_size = queue_size
        self._publish_timeout = publish_timeout
        self._queues: dict[str, DropOldestQueue[GossipMessage]] = {}
        self._nursery: trio.Nursery | None = None
        self._stuck: set[ID] = set()

    @asynccontextmanager
    async def running(self, nursery: trio.Nursery) -> AsyncIterator[Gossip]:
        """Run pubsub and the router; drain tasks live in `nursery`."""
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(background_trio_service(self._pubsub))
            await stack.enter_async_context(background_trio_service(self._router))
            await self._pubsub.wait_until_ready()
            self._pubsub.counter = time.time_ns()
            self._nursery = nursery
            try:
                yield self
            finally:
                self._nursery = None
                for queue in self._queues.values():
                    queue.close()
                self._queues.clear()

    async def publish(self, topic: str, data: bytes) -> None:
        """Publish `data` on `topic` (to the mesh, or to fanout peers if not subscribed).

        Raises:
            HostClosed: the host is not running.
            Timeout: libp2p did not accept the message within the publish timeout.
            PubsubError: libp2p refused it.
        """
        self._require_running()
        try:
            with trio.fail_after(self._publish_timeout):
                await self._wait_for_room()
                await self._pubsub.publish(topic, bytes(data))
        except trio.TooSlowError as exc:
            raise Timeout(f"publishing on {topic!r} took over {self._publish_timeout} s") from exc
        except BaseLibp2pError as exc:
            raise PubsubError(f"could not publish on {topic!r}: {exc}") from exc

    async def subscribe(self, topic: str) -> DropOldestQueue[GossipMessage]:
        """Join `topic`; messages from others arrive on the returned queue until unsubscribe.

        Subscribing twice returns the same queue.
        """
        nursery = self._require_running()
        if topic in self._queues:
            await trio.lowlevel.checkpoint()
            return self._queues[topic]
        try:
            with trio.fail_after(self._publish_timeout):
                subscription = await self._pubsub.subscribe(topic)
        except trio.TooSlowError as exc:
            raise Timeout(f"subscribing to {topic!r} took over {self._publish_timeout} s") from exc
        except BaseLibp2pError as exc:
            raise PubsubError(f"could not subscribe to {topic!r}: {exc}") from exc
        if topic in self._queues:  # another task subscribed while we waited: one drain only
            return self._queues[topic]
        queue: DropOldestQueue[GossipMessage] = DropOldestQueue(self._queue_size)
        self._queues[topic] = queue
        tasks.spawn(nursery, f"gossip drain {topic!r}", self._drain, topic, subscription, queue)
        return queue

    async def unsubscribe(self, topic: str) -> None:
        """Leave `topic`; its queue ends (after what is already queued). No-op if not joined."""
        queue = self._queues.pop(topic, None)
        if queue is None:
            await trio.lowlevel.checkpoint()
            return
        queue.close()
        try:
            with trio.fail_after(self._publish_timeout):
                await self._pubsub.unsubscribe(topic)
        except trio.TooSlowError as exc:
            raise Timeout(f"unsubscribing from {topic!r} took over "
                          f"{self._publish_timeout} s") from exc
        except BaseLibp2pError as exc:
            raise PubsubError(f"could not unsubscribe from {topic!r}: {exc}") from exc

    def topics(self) -> list[str]:
        """The topics we are subscribed to."""
        return sorted(self._queues)

    def mesh_peers(self, topic: str) -> list[str]:
        """Peers in our gossip mesh for `topic` (empty until the mesh forms)."""
        return sorted(str(p) for p in self._router.mesh.get(topic, ()))

    def topic_peers(self, topic: str) -> list[str]:
        """Connected peers that told us they subscribe to `topic`."""
        return sorted(str(p) for p in self._pubsub.peer_topics.get(topic, ()))

    async def _wait_for_room(self) -> None:
        """Hold a publish while a peer's outbound queue is nearly full but still draining.

        libp2p queues at most 32 messages per peer and silently drops new ones when full
        (measured: 12 of 200 lost at 50/s while other processes kept the CPU busy). A queue
        that does not drain within `_STUCK_AFTER` belongs to a stuck peer: it is skipped (and
        libp2p drops for that peer alone) until it drains, so one stuck peer cannot slow us.
        """
        queues = self._pubsub.peer_queues
        self._stuck = {p for p in self._stuck if p in queues and len(queues[p]) >= _HIGH_WATER}
        full: list[ID] = []
        with trio.move_on_after(_STUCK_AFTER):
            while True:
                full = [p for p, q in queues.items()
                        if len(q) >= _HIGH_WATER and p not in self._stuck]
                if not full:
                    return
                await trio.sleep(0.002)
        self._stuck.update(full)

    def _require_running(self) -> trio.Nursery:
        if self._nursery is None:
            raise HostClosed("gossip is not running")
        return self._nursery

    async def _drain(self, topic: str, subscription: ISubscriptionAPI,
                     queue: DropOldestQueue[GossipMessage]) -> None:
        try:
            while True:
                message = await subscription.get()
                source = str(ID(message.from_id))
                if source != self._my_id:
                    queue.put_nowait(GossipMessage(source, bytes(message.data)))
        except (trio.EndOfChannel, trio.ClosedResourceError):
            pass
        finally:
            queue.close()
            if queue.dropped:
                logger.info("gossip topic %r: %d messages dropped (receiver too slow)",
                            topic, queue.dropped)
