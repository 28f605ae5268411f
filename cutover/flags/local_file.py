"""The embedded flag store: one JSON file in the Microsoft feature-management schema.

``{"feature_management": {"feature_flags": [{"id": ..., "enabled": ..., "conditions": ...}]}}`` — the same
document ``featuremanagement`` reads, so the file can be handed to any Microsoft SDK unchanged.

Writes take an exclusive ``fcntl.flock`` on a sidecar ``<file>.lock`` (threads and processes alike), read
the file, apply the change, write a temp file in the same directory, fsync, and ``os.replace`` it — so a
reader sees the old document or the new one, never half of one. Before the replace the file's etag
(sha256 of its bytes) is compared with the one read: a writer that ignores the lock (a person with an
editor) makes us retry instead of being overwritten. Reads are cached and re-parsed only when the file's
inode, mtime or size changed.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from cutover.flags.errors import FlagConflictError, FlagProviderError, FlagStoreFormatError
from cutover.flags.service import FEATURE_FLAGS_KEY, FEATURE_MANAGEMENT_KEY, FlagDefinition

LOCK_TIMEOUT_SECONDS_DEFAULT: Final = 10.0
MAX_ATTEMPTS_DEFAULT: Final = 5
_EMPTY: Final[dict[str, Any]] = {FEATURE_MANAGEMENT_KEY: {FEATURE_FLAGS_KEY: []}}


class LocalFlagFile:
    """A :class:`~cutover.flags.service.WritableFlagStore` backed by one JSON file.

    Args:
        path: the flag file; created (with its directory) on the first write. Absent means all defaults.
        lock_timeout: seconds to wait for the write lock before giving up.
        max_attempts: compare-and-swap attempts before :class:`FlagConflictError`.

    Note:
        ``flock`` is advisory and works on local filesystems; on NFS/SMB shares use Azure App
        Configuration instead.
    """

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS_DEFAULT,
        max_attempts: int = MAX_ATTEMPTS_DEFAULT,
    ) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock_timeout = lock_timeout
        self._max_attempts = max_attempts
        self._cache_key: tuple[int, int, int] | None = None
        self._document: dict[str, Any] = copy.deepcopy(_EMPTY)
        self._mutex = threading.Lock()
        self._live = _LiveConfiguration(self)

    @property
    def configuration(self) -> Mapping[str, Any]:
        return self._live

    def refresh(self) -> None:
        """Re-read the file on the next access, even if its stat looks unchanged."""
        with self._mutex:
            self._cache_key = None

    def close(self) -> None:
        """Nothing to release: no handle stays open between calls."""

    def document(self) -> dict[str, Any]:
        """The current document, re-parsed only when the file changed on disk (inode, mtime, size)."""
        try:
            st = self.path.stat()
            key: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            key = None
        with self._mutex:
            if key is None:
                if self._cache_key is not None or self._document != _EMPTY:
                    self._document, self._cache_key = copy.deepcopy(_EMPTY), None
                return self._document
            if key != self._cache_key:
                raw = self._read_bytes()
                self._document = _parse(raw or b"", self.path)
                self._cache_key = key
            return self._document

    def update(
        self, stored_id: str, change: Callable[[FlagDefinition | None], FlagDefinition]
    ) -> tuple[FlagDefinition | None, FlagDefinition]:
        """Apply ``change`` to one definition under the file lock, with etag compare-and-swap.

        Raises:
            FlagConflictError: the file changed under us (a lock-ignoring writer) on every attempt.
            FlagProviderError: the lock could not be taken in time, or the file could not be written.
            FlagStoreFormatError: the file is not the feature-management schema.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(self._max_attempts):
            with self._locked():
                raw = self._read_bytes()
                etag = _etag(raw)
                document = _parse(raw or b"", self.path)
                flags: list[Any] = document[FEATURE_MANAGEMENT_KEY][FEATURE_FLAGS_KEY]
                positions = [i for i, d in enumerate(flags) if isinstance(d, dict) and d.get("id") == stored_id]
                before = copy.deepcopy(flags[positions[-1]]) if positions else None
                after = change(copy.deepcopy(before))
                if before is not None and after == before:
                    return before, before
                for i in reversed(positions):  # one definition per id, where the last one used to be
                    del flags[i]
                flags.insert(positions[0] if positions else len(flags), after)
                if self._replace_if_unchanged(document, etag):
                    self.refresh()
                    return before, after
            time.sleep(0.005)
        raise FlagConflictError(
            f"{self.path}: changed by another writer on each of {self._max_attempts} attempts", flag=stored_id
        )

    def _replace_if_unchanged(self, document: dict[str, Any], etag: str | None) -> bool:
        data = (json.dumps(document, indent=2, sort_keys=False) + "\n").encode()
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if _etag(self._read_bytes()) != etag:
                return False
            os.replace(tmp, self.path)
            tmp = ""
            _fsync_dir(self.path.parent)
            return True
        except OSError as exc:
            raise FlagProviderError(f"cannot write flag file {self.path}: {exc}") from exc
        finally:
            if tmp:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    def _read_bytes(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise FlagProviderError(f"cannot read flag file {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive flock on the sidecar lock file (the data file itself is replaced, so not lockable)."""
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise FlagProviderError(f"cannot open lock file {self._lock_path}: {exc}") from exc
        try:
            deadline = time.monotonic() + self._lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise FlagProviderError(
                            f"another writer holds {self._lock_path} for more than {self._lock_timeout:g} s"
                        ) from None
                    time.sleep(0.002)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class _LiveConfiguration(Mapping[str, Any]):
    """The mapping FeatureManager holds: each lookup sees the file's current document."""

    def __init__(self, store: LocalFlagFile) -> None:
        self._store = store

    def __getitem__(self, key: str) -> Any:
        return self._store.document()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._store.document())

    def __len__(self) -> int:
        return len(self._store.document())


def _etag(raw: bytes | None) -> str | None:
    return None if raw is None else hashlib.sha256(raw).hexdigest()


def _parse(raw: bytes, path: Path) -> dict[str, Any]:
    if not raw.strip():
        return copy.deepcopy(_EMPTY)
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise FlagStoreFormatError(f"flag file {path} is not valid JSON: {exc}") from exc
    management = document.get(FEATURE_MANAGEMENT_KEY) if isinstance(document, dict) else None
    if not isinstance(management, dict) or not isinstance(management.setdefault(FEATURE_FLAGS_KEY, []), list):
        raise FlagStoreFormatError(
            f'flag file {path} must look like {{"{FEATURE_MANAGEMENT_KEY}": {{"{FEATURE_FLAGS_KEY}": [...]}}}}'
        )
    return document


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable: without it a crash can bring back the old file."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
