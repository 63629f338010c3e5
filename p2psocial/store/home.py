"""The data directory: where a user's key, database and config live, and its lock.

Rules:
- The directory is `--home`, else $P2PSOCIAL_HOME, else the platform's user data directory.
- One process owns a home at a time: it holds an exclusive flock on `HOME/lock` for as long
  as it runs; a second process is refused with HomeLocked naming the owner's pid.
- Every file the program writes in a home is created with mode 0600 (the key, account.json
  and the sealed account key, the database and its -wal/-shm, config.json, ui.json,
  node.log, the lock, the control socket); the directory with 0700, and a directory a home
  is created in is narrowed to 0700.
- Opening a home fixes any of those files that others may read (a copied-in file keeps its
  mode) and says so; a home directory open to others is reported with the chmod to run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from p2psocial.core.errors import HomeLocked, StorageFull, StoreError

ENV_HOME = "P2PSOCIAL_HOME"


@dataclass(frozen=True, slots=True)
class Home:
    """Paths inside one data directory."""

    root: Path

    @property
    def key_file(self) -> Path:
        return self.root / "key.json"

    @property
    def account_file(self) -> Path:
        """Which account this home's device belongs to (absent: a single-key identity)."""
        return self.root / "account.json"

    @property
    def account_key_file(self) -> Path:
        """The account key, sealed like key.json, if this home holds it."""
        return self.root / "account-key.json"

    @property
    def database(self) -> Path:
        return self.root / "p2psocial.db"

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def config_file(self) -> Path:
        return self.root / "config.json"

    @property
    def control_socket(self) -> Path:
        return self.root / "node.sock"

    @property
    def log_file(self) -> Path:
        return self.root / "node.log"

    @property
    def ui_settings(self) -> Path:
        return self.root / "ui.json"

    @property
    def blobs(self) -> Path:
        """Pictures and files (store/blobs.py), each a file named by its id."""
        return self.root / "blobs"

    def private_files(self) -> list[Path]:
        """Every file the program writes in this home."""
        db = self.database
        return [self.key_file, self.account_file, self.account_key_file, db,
                db.with_name(db.name + "-wal"),
                db.with_name(db.name + "-shm"), self.config_file, self.ui_settings,
                self.log_file, self.lock_file, self.control_socket]

    def exists(self) -> bool:
        """True if this home holds an identity."""
        return self.key_file.exists()

    def create(self) -> None:
        """Create the directory with mode 0700, or narrow an existing one to 0700 (a home
        is being made in it)."""
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            if open_to_others(self.root):
                os.chmod(self.root, 0o700)
        except OSError as exc:
            raise os_error(exc, f"cannot create {self.root}") from exc

    def make_private(self) -> list[str]:
        """Narrow to 0600 every file of the home that others may read; one warning line per
        file fixed, and one if the directory itself is open to others."""
        notes = []
        if open_to_others(self.root):
            notes.append(f"warning: {self.root} is open to other users (mode "
                         f"{mode_text(self.root)}): run `chmod 700 {self.root}`")
        database = {self.database.name, self.database.name + "-wal",
                    self.database.name + "-shm"}  # narrowed by the store once known ours
        for path in self.private_files():
            if path.name not in database and not path.is_symlink() and open_to_others(path):
                was = mode_text(path)
                try:
                    os.chmod(path, 0o600)
                except OSError as exc:
                    notes.append(f"warning: {path} is open to other users (mode {was}) and "
                                 f"cannot be fixed ({exc.strerror}): run `chmod 600 {path}`")
                    continue
                notes.append(f"warning: {path} was open to other users (mode {was}); it is "
                             "now 0600")
        return notes


def resolve_home(cli_value: str | None = None) -> Home:
    """The home chosen by the command line, the environment, or the platform default."""
    chosen = cli_value or os.environ.get(ENV_HOME)
    if chosen:
        return Home(Path(chosen).expanduser().absolute())
    return Home(Path(platformdirs.user_data_dir("p2psocial", appauthor=False)))


class HomeLock:
    """An exclusive, non-blocking lock on a home, released on close or process exit."""

    def __init__(self, home: Home) -> None:
        self._home = home
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise HomeLocked naming the process that holds it."""
        path = self._home.lock_file
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise os_error(exc, f"cannot open {path}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise HomeLocked(f"another p2psocial process (pid {owner}) is using "
                             f"{self._home.root}") from None
        with contextlib.suppress(OSError):  # the pid is informative; a full disk must not stop us
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> HomeLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(home: Home) -> bool:
    """True if some process holds the home's lock right now."""
    try:
        fd = os.open(home.lock_file, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def open_to_others(path: Path) -> bool:
    """True if `path` exists and its group or others have any permission on it."""
    try:
        return bool(path.stat().st_mode & 0o077)
    except OSError:
        return False


def mode_text(path: Path) -> str:
    """The permission bits of `path` in octal, e.g. '0644' ('?' if it cannot be read)."""
    try:
        return f"{stat.S_IMODE(path.stat().st_mode):04o}"
    except OSError:
        return "?"


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist (so whatever writes it next,
    SQLite or a log handler, keeps that mode), or narrow it to 0600 if others may read it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        if open_to_others(path) and path.is_file():
            try:
                os.chmod(path, 0o600)
            except OSError as exc:
                raise os_error(exc, f"cannot make {path} private") from exc
        return
    except OSError as exc:
        raise os_error(exc, f"cannot create {path}") from exc
    os.close(fd)


def write_private_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically with mode 0600 (temp file, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise os_error(exc, f"cannot write {path}") from exc


def os_error(exc: OSError, what: str) -> StoreError:
    """A StoreError (StorageFull for a full disk) for an OSError while doing `what`."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(f"{what}: the disk is full")
    return StoreError(f"{what}: {exc.strerror or exc}")
