"""Real nodes in separate OS processes, for multi-node tests and benchmarks.

    with NodeProcess.create(tmp / "alice", name="Alice") as alice:
        alice.start(listen="/ip4/127.0.0.1/tcp/0")
        alice.cli("post", "hello")
        addr = alice.addrs()[0]

Each node has its own home (unencrypted key: these are throwaway identities), runs
`python -m p2psocial run` in its own process, and is driven with the real CLI (which talks to
it over its control socket). Nothing here fakes a node.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

START_TIMEOUT = 30.0


class NodeProcess:
    """A p2psocial home and, while started, the node process running on it."""

    def __init__(self, home: Path, *, netns: str | None = None) -> None:
        self.home = home
        self.netns = netns
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home.parent / f"{home.name}.log"
        self._log: Any = None

    @classmethod
    def create(cls, home: Path, *, name: str | None = None,
               netns: str | None = None) -> NodeProcess:
        """Make a new home with a fresh identity (and a display name)."""
        node = cls(home, netns=netns)
        node.cli("init", "--no-passphrase", "--single-key")
        if name:
            node.cli("about", "--name", name)
        return node

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("P2PSOCIAL_")}
        env["P2PSOCIAL_HOME"] = str(self.home)
        return env

    def _prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.netns] if self.netns else []

    def cli(self, *args: str, check: bool = True, timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
        """Run a `p2psocial` command on this home (through the node when it runs)."""
        result = subprocess.run([*self._prefix(), sys.executable, "-m", "p2psocial", *args],
                                env=self.env, capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"p2psocial {' '.join(args)} failed ({result.returncode}): "
                                 f"{result.stderr.strip()}")
        return result

    def json(self, *args: str) -> Any:
        """Run a command with --json and parse its output."""
        return json.loads(self.cli(*args, "--json").stdout)

    @property
    def handle(self) -> str:
        return self.cli("id").stdout.strip()

    def start(self, *, listen: str | Sequence[str] = "/ip4/127.0.0.1/tcp/0",
              peers: Sequence[str] = (), extra: Sequence[str] = (),
              mdns: bool = False, verb: str = "run",
              python_args: Sequence[str] = ("-m", "p2psocial")) -> NodeProcess:
        """Start the node (`verb` "relay" for a relay) and wait until it answers on its
        control socket.

        mDNS is off unless asked for, so parallel tests on one machine do not find each other.
        `python_args` run p2psocial's main module (a benchmark may wrap it, e.g. to trace).
        """
        assert self.proc is None, "already started"
        args = [*self._prefix(), sys.executable, *python_args, verb]
        if not mdns:
            args.append("--no-mdns")
        for addr in [listen] if isinstance(listen, str) else listen:
            args += ["--listen", addr]
        for peer in peers:
            args += ["--peer", peer]
        args += list(extra)
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(args, env=self.env, stdout=self._log, stderr=self._log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"node {self.home.name} exited at start:\n{self.log()}")
            if self.home.joinpath("node.sock").exists():
                result = self.cli("status", "--json", check=False)
                if result.returncode == 0:
                    return self
            if time.monotonic() > deadline:
                raise AssertionError(f"node {self.home.name} did not start:\n{self.log()}")
            time.sleep(0.1)

    def addrs(self) -> list[str]:
        """The node's listen addresses (with /p2p/<handle>)."""
        listen: list[str] = self.json("status")["listen"]
        return listen

    def stop(self, *, timeout: float = 10) -> int:
        """SIGTERM the node and wait for it; returns its exit status."""
        if self.proc is None:
            return 0
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def kill(self) -> None:
        """SIGKILL the node (a crash)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        """What the node wrote to stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, predicate: Any, *, timeout: float = 20, what: str = "condition"
                 ) -> Any:
        """Poll `predicate(self)` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.home.name}: timed out waiting for {what}\n"
                                     f"{self.log()[-4000:]}")
            time.sleep(0.1)

    def texts(self, handle: str | None = None, limit: int = 100) -> list[str]:
        """Texts of a feed's entries, newest first."""
        args = ["log", "--limit", str(limit)] + ([handle] if handle else [])
        return [e["text"] for e in self.json(*args)["entries"]]

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
