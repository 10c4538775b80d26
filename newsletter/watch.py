"""Noticing digest files that landed or changed in the inbox, once they have stopped growing."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class FileSignature:
    size: int
    mtime_ns: int


@dataclass(slots=True)
class _Pending:
    signature: FileSignature
    stable_since: float


@dataclass(slots=True)
class InboxWatcher:
    """Polls a folder; `poll(now)` returns the files that are new or changed and have settled.

    A file counts once its size and mtime have not changed for `settle_seconds`, so a file still
    being written (an rsync, a slow `git pull`) is never read half-done. A file is reported again
    only when its size or mtime changes; whether its content really changed is for the caller to
    decide (by sha256, see `inbox.file_sha256`). The clock is a parameter: tests pass `now`.
    """

    folder: Path
    pattern: str
    settle_seconds: float
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _done: dict[str, FileSignature] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)  # names gone since the previous poll

    def poll(self, now: float) -> list[Path]:
        ready: list[Path] = []
        seen: set[str] = set()
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return []
        for entry in entries:
            name = entry.name
            if name.startswith(".") or not fnmatch.fnmatchcase(name, self.pattern):
                continue
            try:
                if not entry.is_file():
                    continue
                st = entry.stat()
            except OSError:
                continue
            seen.add(name)
            signature = FileSignature(st.st_size, st.st_mtime_ns)
            if self._done.get(name) == signature:
                continue
            pending = self._pending.get(name)
            if pending is None or pending.signature != signature:
                self._pending[name] = _Pending(signature, now)
                if self.settle_seconds > 0:
                    continue
                pending = self._pending[name]
            if now - pending.stable_since >= self.settle_seconds:
                del self._pending[name]
                self._done[name] = signature
                ready.append(Path(entry.path))
        for gone in set(self._pending) - seen:
            del self._pending[gone]
        self.removed = sorted(set(self._done) - seen)
        for gone in self.removed:
            del self._done[gone]
        return sorted(ready, key=lambda p: p.name)

    @property
    def waiting(self) -> int:
        """Files seen but not settled yet."""
        return len(self._pending)
