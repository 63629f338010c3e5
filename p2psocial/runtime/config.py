"""Node configuration: HOME/config.json, with defaults for everything.

Rules:
- A missing file means all defaults; unknown keys are kept (a newer version may use them) but
  ignored; a value of the wrong type is one clear error naming the key.
- Command-line flags override the file for one run; `save()` writes the file atomically.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from p2psocial.core.errors import UsageError
from p2psocial.store.home import write_private_file

DEFAULT_LISTEN = ["/ip4/0.0.0.0/tcp/0"]


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """How a node runs. Every field has a sensible default."""

    listen: list[str] = field(default_factory=lambda: list(DEFAULT_LISTEN))
    peers: list[str] = field(default_factory=list)  # multiaddrs dialled at start and kept
    relays: list[str] = field(default_factory=list)  # relays kept besides the published ones
    # relays (multiaddrs) joined for a reservation only while I have no relays of my own;
    # never published in my `relays` entry (docs/relay.md)
    bootstrap_relays: list[str] = field(default_factory=list)
    hops: int = 2
    depths: list[int] = field(default_factory=lambda: [0, 1000, 100])  # per hop; 0 = all
    mdns: bool = True
    dht: bool = True
    announce: bool = True  # gossip head announcements
    library_log_level: str = "critical"  # py-libp2p's own logs (debug, info, warning, …)
    look_seconds: float = 15.0  # how often followed authors are sought through their relays
    restore_window: float = 10.0  # after a restore: seconds to keep listening for newer heads
    relay: bool = False  # run as a relay (`p2psocial relay`)
    relay_policy: str = "open"  # open | invite | allowlist
    relay_allow: list[str] = field(default_factory=list)  # handles, for the allowlist policy
    relay_quota: int = 10000  # entries kept per member feed (newest first)
    # pictures and files kept per member feed, in bytes, newest first (0: no limit besides
    # storage_budget): one member's files cannot push out everyone else's
    relay_member_blob_bytes: int = 200_000_000
    relay_max_reservations: int = 1024
    relay_reservation_ttl: int = 3600  # seconds a circuit reservation lasts before renewal
    sync_hello_seconds: float = 10.0  # a sync peer's HELLO must arrive within this
    sync_frame_seconds: float = 30.0  # ... and a frame it began must be complete within this
    # mail holder (docs/protocol.md M24, M25): stamp bits asked of strangers, quotas per day
    mail_pow_bits: int = 20
    mail_known_per_day: int = 500
    mail_stranger_per_day: int = 5
    mail_strangers_per_day: int = 50
    # pictures and files (docs/protocol.md B8): fetched at once for feeds up to this hop
    # (0: only mine; a relay also fetches its members'), others when someone looks
    blobs_eager_hops: int = 1
    # the disk this home may take, in bytes (0: no limit): `p2psocial storage budget 2GB`;
    # over it, far hops' pictures and old post contents go first (runtime/storage_keeper.py)
    storage_budget: int = 0
    # a feed no longer wanted (unfollowed, out of every hop) leaves the store after this
    unfollowed_grace_days: float = 7.0

    def with_overrides(self, **changes: Any) -> NodeConfig:
        """A copy with the given fields replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def save(self, path: Path) -> None:
        """Write the configuration to `path`."""
        write_private_file(path, json.dumps(asdict(self), indent=2).encode() + b"\n")


def load_config(path: Path) -> NodeConfig:
    """The configuration in `path`, or the defaults if it does not exist.

    Raises:
        UsageError: the file is not JSON or a value has the wrong type.
    """
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return NodeConfig()
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a JSON object")
    defaults = NodeConfig()
    values: dict[str, Any] = {}
    for f in fields(NodeConfig):
        if f.name not in data:
            continue
        value = data[f.name]
        expected = type(getattr(defaults, f.name))
        if expected is float and type(value) is int:
            value = float(value)
        if expected is list:
            ok = isinstance(value, list) and all(
                isinstance(v, int if f.name == "depths" else str) for v in value)
        else:
            ok = type(value) is expected
        if not ok:
            raise UsageError(f"{path}: {f.name!r} must be a {expected.__name__}")
        values[f.name] = value
    config = NodeConfig(**values)
    if config.hops < 0 or any(d < 0 for d in config.depths) or min(
            config.blobs_eager_hops, config.storage_budget, config.unfollowed_grace_days,
            config.relay_member_blob_bytes) < 0:
        raise UsageError(f"{path}: hops, depths, blobs_eager_hops, storage_budget, "
                         "unfollowed_grace_days and relay_member_blob_bytes cannot be negative")
    if min(config.look_seconds, config.relay_quota, config.relay_max_reservations,
           config.relay_reservation_ttl) <= 0:
        raise UsageError(f"{path}: look_seconds, relay_quota, relay_max_reservations and "
                         "relay_reservation_ttl must be positive")
    for addr in config.bootstrap_relays:
        if "/p2p/" not in addr or "/p2p-circuit" in addr:
            raise UsageError(f"{path}: bootstrap_relays holds {addr!r}, not a relay's full "
                             "address (…/p2p/<relay id>)")
    if min(config.sync_hello_seconds, config.sync_frame_seconds) <= 0:
        raise UsageError(f"{path}: sync_hello_seconds and sync_frame_seconds must be positive")
    if not 0 <= config.mail_pow_bits <= 28 or min(
            config.mail_known_per_day, config.mail_stranger_per_day,
            config.mail_strangers_per_day) < 0:
        raise UsageError(f"{path}: mail_pow_bits must be 0 to 28 and the mail quotas "
                         "cannot be negative")
    return config
