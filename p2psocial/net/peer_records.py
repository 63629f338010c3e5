"""Signed peer records: verify each one once, and build mine once per few seconds, not per message.

Rules:
- py-libp2p 0.8.1 puts the sender's signed peer record (an Envelope) in every gossipsub RPC,
  DHT message and relay HOP message it sends, and every receiver parses and checks its
  signature (`consume_envelope`) — gossipsub twice per RPC that carries control messages.
  Building mine (`env_to_send_in_RPC`) re-derives all my addresses each time to see whether
  the cached record still matches. Measured on this machine: ~230 µs to consume and
  ~150 µs to build, per message, several times what the message itself costs; on a relay
  that forwards gossip to hundreds of members, most of its CPU.
- `install()` replaces both where libp2p's modules imported them:
  - `consume_envelope(data, domain)` is a pure function of its arguments (parse, verify,
    decode): the result for the same bytes and domain is kept in a bounded LRU
    (ENVELOPE_CACHE entries, ~1.5 KB each parsed: at most ~6 MB) and handed out again.
    Bytes never seen, or that failed, are checked in full; a failure is never cached.
  - `env_to_send_in_RPC(host)` returns the host's record bytes built at most
    RECORD_SECONDS ago (a weak map per host); after that libp2p's own function runs (it
    re-signs if my addresses changed). A new address is thus announced within seconds.
- `forget(peer)` drops the cached records of a peer that left (departed.py): the cache serves
  connected peers' messages, and a relay's departed followers would otherwise fill it.
- Installing is idempotent; a module whose name is missing is skipped (a libp2p upgrade then
  falls back to its own behaviour; tests/net/test_peer_records.py catches it).
"""

from __future__ import annotations

import functools
import importlib
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

ENVELOPE_CACHE = 4096
RECORD_SECONDS = 5.0
_MARK = "_p2psocial_cached"

# libp2p modules that imported the two functions by name (py-libp2p 0.8.1)
_CONSUMERS = ("libp2p.peer.envelope", "libp2p.identity.update", "libp2p.pubsub.gossipsub",
              "libp2p.pubsub.utils", "libp2p.kad_dht.utils", "libp2p.relay.circuit_v2.utils")
_SENDERS = ("libp2p.peer.peerstore", "libp2p.identity.identify.identify",
            "libp2p.pubsub.pubsub", "libp2p.pubsub.gossipsub", "libp2p.pubsub.floodsub",
            "libp2p.kad_dht.provider_store", "libp2p.kad_dht.value_store",
            "libp2p.kad_dht.peer_routing", "libp2p.kad_dht.kad_dht",
            "libp2p.relay.circuit_v2.discovery")


def install() -> None:
    """Cache envelope checks and my own record in every libp2p module that uses them."""
    envelope = importlib.import_module("libp2p.peer.envelope")
    peerstore = importlib.import_module("libp2p.peer.peerstore")
    consume = getattr(envelope, "consume_envelope", None)
    build = getattr(peerstore, "env_to_send_in_RPC", None)
    if consume is None or build is None:
        logger.debug("libp2p internals changed: peer records checked per message")
        return
    cached_consume = consume if getattr(consume, _MARK, False) else _cached_consume(consume)
    cached_build = build if getattr(build, _MARK, False) else _cached_build(build)
    for name in _CONSUMERS:
        _replace(name, "consume_envelope", consume, cached_consume)
    for name in _SENDERS:
        _replace(name, "env_to_send_in_RPC", build, cached_build)


def forget(peer: Any) -> None:
    """Drop the cached signed records of `peer` (a libp2p ID), if the cache is installed."""
    envelope = importlib.import_module("libp2p.peer.envelope")
    drop = getattr(getattr(envelope, "consume_envelope", None), "forget", None)
    if drop is not None:
        drop(peer)


def _replace(module_name: str, attr: str, original: Any, cached: Any) -> None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        logger.debug("libp2p has no %s: %s left alone there", module_name, attr)
        return
    if getattr(module, attr, None) is original:
        setattr(module, attr, cached)


def _cached_consume(original: Callable[[bytes, str], Any]) -> Callable[[bytes, str], Any]:
    seen: OrderedDict[tuple[bytes, str], Any] = OrderedDict()
    by_peer: dict[Any, set[tuple[bytes, str]]] = {}  # signer -> its keys in `seen`

    def signer(result: Any) -> Any:
        return getattr(result[1], "peer_id", None)  # (Envelope, PeerRecord)

    @functools.wraps(original)
    def consume_envelope(data: bytes, domain: str) -> Any:
        key = (bytes(data), domain)
        hit = seen.get(key)
        if hit is not None:
            seen.move_to_end(key)
            return hit
        result = original(data, domain)  # raises for a bad record: nothing is kept
        seen[key] = result
        by_peer.setdefault(signer(result), set()).add(key)
        if len(seen) > ENVELOPE_CACHE:
            old_key, old = seen.popitem(last=False)
            keys = by_peer.get(signer(old))
            if keys is not None:
                keys.discard(old_key)
                if not keys:
                    del by_peer[signer(old)]
        return result

    def forget(peer: Any) -> None:
        for key in by_peer.pop(peer, ()):
            seen.pop(key, None)

    setattr(consume_envelope, _MARK, True)
    consume_envelope.cache = seen  # type: ignore[attr-defined]  # for tests
    consume_envelope.forget = forget  # type: ignore[attr-defined]
    return consume_envelope


def _cached_build(original: Callable[[Any], tuple[bytes, bool]]
                  ) -> Callable[[Any], tuple[bytes, bool]]:
    built: weakref.WeakKeyDictionary[Any, tuple[float, bytes]] = weakref.WeakKeyDictionary()

    @functools.wraps(original)
    def env_to_send_in_RPC(host: Any) -> tuple[bytes, bool]:
        now = time.monotonic()
        hit = built.get(host)
        if hit is not None and now - hit[0] < RECORD_SECONDS:
            return hit[1], False
        data, created = original(host)
        built[host] = (now, data)
        return data, created

    setattr(env_to_send_in_RPC, _MARK, True)
    return env_to_send_in_RPC
