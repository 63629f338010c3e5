"""Helpers for CLI tests: run the real `p2psocial` command in a subprocess with its own home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class Cli:
    """Runs `python -m p2psocial` against one home directory."""

    def __init__(self, home: Path, passphrase_file: Path | None) -> None:
        self.home = home
        self.passphrase_file = passphrase_file

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
                 check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith("P2PSOCIAL_")}
        full_env["P2PSOCIAL_HOME"] = str(self.home)
        if self.passphrase_file is not None:
            full_env["P2PSOCIAL_PASSPHRASE_FILE"] = str(self.passphrase_file)
        full_env.update(env or {})
        result = subprocess.run([sys.executable, "-m", "p2psocial", *args], input=input,
                                capture_output=True, text=True, env=full_env, timeout=timeout,
                                stdin=None if input is not None else subprocess.DEVNULL)
        assert "Traceback" not in result.stderr, result.stderr
        if check:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def fails(self, *args: str, **kw: Any) -> str:
        """Run a command that must fail with one clear line; return that line."""
        result = self(*args, check=False, **kw)
        assert result.returncode != 0, (args, result.stdout)
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("p2psocial: "), lines[0]
        return lines[0]


@pytest.fixture
def make_cli(tmp_path: Path) -> Callable[..., Cli]:
    def make(name: str = "home", passphrase: str | None = "correct horse") -> Cli:
        pf = None
        if passphrase is not None:
            pf = tmp_path / f"{name}.pass"
            pf.write_text(passphrase + "\n")
        return Cli(tmp_path / name, pf)
    return make


@pytest.fixture
def cli(make_cli: Callable[..., Cli]) -> Cli:
    c = make_cli()
    c("init", "--single-key")
    return c
