"""A small Internet of Linux network namespaces, for tests that need real isolation.

    with Internet("t1") as net:
        relay_ip = net.public("relay")      # reachable by every host
        a_ip = net.private("a")             # reaches public hosts only
        NodeProcess.create(home, netns=net.ns("a"))

Rules:
- One Linux bridge joins every host (a veth pair each); the root namespace has no address on
  it, so nothing is routed between namespaces.
- A public host holds a /24 on the bridge and reaches everyone. A private host holds a /32
  and a route to each public host only: dialling another private host fails with "Network
  is unreachable", as between two homes behind different NATs.
- Public hosts are made before private ones. Everything made is deleted on exit, even after
  a failure. Needs root and iproute2 (`ip`).
- `split(names)` moves hosts behind a second switch joined to the first by one link (a
  cable); `cut()` takes that link down, so packets between the two sides are dropped with no
  reset and no error at either end (a cable pulled, a NAT mapping expired), while each side
  still reaches its own hosts; `heal()` brings it back.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess

_SUBNETS = itertools.count(1)


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be made here (not root, or no iproute2)."""


class Internet:
    """Namespaces on one bridge; see the module docstring."""

    def __init__(self, tag: str) -> None:
        self._tag = f"{tag[:4]}{os.getpid() % 10000}"
        self._subnet = 100 + (os.getpid() + next(_SUBNETS)) % 100
        self._bridge = f"br{self._tag}"
        self._namespaces: list[str] = []
        self._links: list[str] = []
        self._public: dict[str, str] = {}
        self._private: dict[str, str] = {}
        self._next_host = 10
        self._ports: dict[str, str] = {}
        self._cable: str | None = None

    def __enter__(self) -> Internet:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise NetnsUnavailable("network namespaces need root and iproute2 (`ip`)")
        run_ip("link", "add", self._bridge, "type", "bridge")
        self._links.append(self._bridge)
        run_ip("link", "set", self._bridge, "up")
        return self

    def __exit__(self, *exc: object) -> None:
        for ns in reversed(self._namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        for link in reversed(self._links):
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)

    def ns(self, name: str) -> str:
        """The namespace name of host `name`."""
        return f"{self._tag}{name}"

    def ip(self, name: str) -> str:
        """The address of host `name`."""
        return self._public.get(name) or self._private[name]

    def public(self, name: str) -> str:
        """Add a host every other host can reach; returns its IPv4 address."""
        if self._private:
            raise ValueError("make public hosts before private ones")
        address = self._add(name, prefix=24)
        self._public[name] = address
        return address

    def private(self, name: str) -> str:
        """Add a host that reaches the public hosts only; returns its IPv4 address."""
        address = self._add(name, prefix=32)
        for public in self._public.values():
            self.run(name, "ip", "route", "add", f"{public}/32", "dev", "eth0")
        self._private[name] = address
        return address

    def run(self, name: str, *command: str) -> str:
        """Run a command inside host `name`'s namespace; its stdout."""
        return run_in(self.ns(name), name, *command)

    def split(self, names: list[str]) -> None:
        """Move hosts `names` behind a second switch, joined to the first by one cable."""
        if self._cable is None:
            other, cable = f"bs{self._tag}", f"c{self._tag}a"
            run_ip("link", "add", other, "type", "bridge")
            self._links.append(other)
            run_ip("link", "set", other, "up")
            run_ip("link", "add", cable, "type", "veth", "peer", "name", f"c{self._tag}b")
            self._links.append(cable)
            run_ip("link", "set", cable, "master", self._bridge, "up")
            run_ip("link", "set", f"c{self._tag}b", "master", other, "up")
            self._cable = cable
        for name in names:
            run_ip("link", "set", self._ports[name], "master", f"bs{self._tag}")

    def cut(self) -> None:
        """Pull the cable between the two sides of `split`: their packets are dropped."""
        assert self._cable is not None, "split() first"
        run_ip("link", "set", self._cable, "down")

    def heal(self) -> None:
        """Plug the cable back in."""
        assert self._cable is not None, "split() first"
        run_ip("link", "set", self._cable, "up")

    def _add(self, name: str, *, prefix: int) -> str:
        ns = self.ns(name)
        address = f"10.{self._subnet}.0.{self._next_host}"
        self._next_host += 1
        outside = f"v{self._tag}{self._next_host}"
        run_ip("netns", "add", ns)
        self._namespaces.append(ns)
        run_ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self._links.append(outside)
        self._ports[name] = outside
        run_ip("link", "set", outside, "master", self._bridge, "up")
        self.run(name, "ip", "addr", "add", f"{address}/{prefix}", "dev", "eth0")
        self.run(name, "ip", "link", "set", "eth0", "up")
        self.run(name, "ip", "link", "set", "lo", "up")
        return address


def run_ip(*args: str) -> None:
    """Run `ip ARGS` in the root namespace; NetnsUnavailable with its message if it fails."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetnsUnavailable(f"ip {' '.join(args)}: {result.stderr.strip()}")


def run_in(ns: str, name: str, *command: str) -> str:
    """Run `command` inside namespace `ns` (host `name`, for the error); its stdout.
    NetnsUnavailable (a RuntimeError) with its stderr if it fails."""
    result = subprocess.run(["ip", "netns", "exec", ns, *command],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetnsUnavailable(f"{' '.join(command)} in {name}: {result.stderr.strip()}")
    return result.stdout
