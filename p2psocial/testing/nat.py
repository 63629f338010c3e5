"""Homes behind NAT routers on a small Internet of Linux network namespaces, for hole punching.

    with NatInternet("hp") as net:
        relay_ip = net.public("relay")            # on the Internet, reachable by everyone
        net.router("ra", nat=Nat.PRESERVING)      # a home router: public side + LAN
        a_ip = net.behind("a", "ra")              # a host on that router's LAN
        net.run("a", "ping", "-c1", relay_ip)

Rules:
- One Linux bridge is the Internet; the root namespace has no address on it. Public hosts and
  the routers' public sides hold addresses in 10.<n>.0.0/24 on it and reach each other.
- A router is a namespace with two interfaces: `eth0` on the Internet (a public address) and
  `lan0` (192.168.<k>.1/24) to its homes; it forwards (ip_forward=1) and rewrites the source
  of everything leaving `eth0` with iptables `MASQUERADE`.
- Nat.PRESERVING is plain MASQUERADE: it keeps a connection's source port when that port is
  free, so a port a host dials from is its public port for every destination (the
  endpoint-independent, port-preserving NAT most homes have). Nat.SYMMETRIC adds
  `--random-fully`: every connection gets a random public port, so the port a peer observed
  is useless to anyone else (the NAT hole punching cannot pass).
- Like a home router, it drops what arrives on `eth0` unasked (no matching connection in its
  connection tracking): neither forwarded nor answered with a reset. Nothing reaches a home
  from outside unless the home sent something there first.
- A host behind a router holds 192.168.<k>.<n>/24 with a default route through it: it reaches
  the public hosts and (through both NATs) nothing else; hosts behind the same router share
  a LAN and reach each other directly.
- Everything made is deleted on exit, even after a failure. Needs root, iproute2 (`ip`) and
  iptables (`apt-get install iptables`; the nf_tables backend works inside namespaces).
"""

from __future__ import annotations

import enum
import itertools
import os
import shutil
import subprocess
from dataclasses import dataclass, field

from p2psocial.testing.netns import NetnsUnavailable, run_in, run_ip

_INSTANCES = itertools.count(1)

__all__ = ["Nat", "NatInternet", "NetnsUnavailable"]


class Nat(enum.Enum):
    """How a router maps its homes' connections to public ports."""

    PRESERVING = "preserving"   # plain MASQUERADE: source port kept when free
    SYMMETRIC = "symmetric"     # MASQUERADE --random-fully: a random port per connection


@dataclass
class _Router:
    public_ip: str
    lan_prefix: str               # "192.168.<k>"
    nat: Nat
    next_host: int = 2
    homes: list[str] = field(default_factory=list)


class NatInternet:
    """Namespaces on one bridge, some behind NAT routers; see the module docstring."""

    def __init__(self, tag: str) -> None:
        instance = next(_INSTANCES)
        self._tag = f"{tag[:3]}{(os.getpid() * 10 + instance) % 100000}"
        self._subnet = 10 + (os.getpid() + instance) % 90
        self._bridge = f"br{self._tag}"
        self._namespaces: list[str] = []
        self._links: list[str] = []
        self._addresses: dict[str, str] = {}
        self._routers: dict[str, _Router] = {}
        self._next_public = 10
        self._next_port = itertools.count(1)

    def __enter__(self) -> NatInternet:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise NetnsUnavailable("network namespaces need root and iproute2 (`ip`)")
        if shutil.which("iptables") is None:
            raise NetnsUnavailable("NAT routers need iptables (`apt-get install iptables`)")
        try:
            run_ip("link", "add", self._bridge, "type", "bridge")
            self._links.append(self._bridge)
            run_ip("link", "set", self._bridge, "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for ns in reversed(self._namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        for link in reversed(self._links):
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        self._namespaces.clear()
        self._links.clear()

    # -- naming ----------------------------------------------------------------------------

    def ns(self, name: str) -> str:
        """The namespace name of host or router `name`."""
        return f"{self._tag}{name}"

    def ip(self, name: str) -> str:
        """The address of host `name` (a router's: its public one)."""
        return self._addresses[name]

    def public_ip(self, name: str) -> str:
        """The address the Internet sees `name` at: its router's for a host behind NAT."""
        for router, info in self._routers.items():
            if name == router or name in info.homes:
                return info.public_ip
        return self._addresses[name]

    # -- building --------------------------------------------------------------------------

    def public(self, name: str) -> str:
        """Add a host on the Internet itself; returns its public IPv4 address."""
        address = self._attach_public(name)
        self._addresses[name] = address
        return address

    def router(self, name: str, *, nat: Nat = Nat.PRESERVING) -> str:
        """Add a NAT router (see the rules); returns its public IPv4 address."""
        public_ip = self._attach_public(name)
        lan_prefix = f"192.168.{len(self._routers) + 1}"
        self._routers[name] = _Router(public_ip, lan_prefix, nat)
        self._addresses[name] = public_ip
        self.run(name, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        masquerade = ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0",
                      "-j", "MASQUERADE"]
        if nat is Nat.SYMMETRIC:
            masquerade.append("--random-fully")
        self.run(name, *masquerade)
        for chain in ("INPUT", "FORWARD"):
            self.run(name, "iptables", "-A", chain, "-i", "eth0", "-m", "conntrack",
                     "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
            self.run(name, "iptables", "-A", chain, "-i", "eth0", "-j", "DROP")
        return public_ip

    def behind(self, name: str, router: str) -> str:
        """Add a host on `router`'s LAN; returns its private IPv4 address."""
        info = self._routers[router]
        address = f"{info.lan_prefix}.{info.next_host}"
        info.next_host += 1
        ns, router_ns = self.ns(name), self.ns(router)
        run_ip("netns", "add", ns)
        self._namespaces.append(ns)
        if not info.homes:
            run_ip("link", "add", "lan0", "netns", router_ns, "type", "bridge")
            self.run(router, "ip", "addr", "add", f"{info.lan_prefix}.1/24", "dev", "lan0")
            self.run(router, "ip", "link", "set", "lan0", "up")
        port = f"p{next(self._next_port)}"
        run_ip("link", "add", port, "netns", router_ns, "type", "veth",
            "peer", "name", "eth0", "netns", ns)
        self.run(router, "ip", "link", "set", port, "master", "lan0", "up")
        self.run(name, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
        self.run(name, "ip", "link", "set", "eth0", "up")
        self.run(name, "ip", "link", "set", "lo", "up")
        self.run(name, "ip", "route", "add", "default", "via", f"{info.lan_prefix}.1")
        info.homes.append(name)
        self._addresses[name] = address
        return address

    def run(self, name: str, *command: str) -> str:
        """Run a command inside `name`'s namespace; its stdout."""
        return run_in(self.ns(name), name, *command)

    def nat_table(self, router: str) -> str:
        """The router's connection-tracking table (`conntrack -L`-like, from /proc)."""
        return self.run(router, "cat", "/proc/net/nf_conntrack")

    def _attach_public(self, name: str) -> str:
        ns = self.ns(name)
        address = f"10.{self._subnet}.0.{self._next_public}"
        self._next_public += 1
        outside = f"v{self._tag}{self._next_public}"
        run_ip("netns", "add", ns)
        self._namespaces.append(ns)
        run_ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self._links.append(outside)
        run_ip("link", "set", outside, "master", self._bridge, "up")
        self.run(name, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
        self.run(name, "ip", "link", "set", "eth0", "up")
        self.run(name, "ip", "link", "set", "lo", "up")
        return address
