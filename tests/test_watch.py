"""The inbox watcher: settling, change detection and the pattern, driven by an explicit clock."""

from __future__ import annotations

import os
from pathlib import Path

from newsletter.inbox import file_sha256
from newsletter.watch import InboxWatcher


def test_a_file_counts_only_after_it_stops_changing(tmp_path: Path) -> None:
    watcher = InboxWatcher(tmp_path, "*.md", settle_seconds=10)
    digest = tmp_path / "2026-01-02.md"
    digest.write_text("part one")
    assert watcher.poll(now=0) == []
    with digest.open("a") as handle:  # still being written
        handle.write(" and more")
    os.utime(digest, ns=(5_000_000_000, 5_000_000_000))
    assert watcher.poll(now=5) == []
    assert watcher.poll(now=14) == []  # changed at 5, not yet 10 s stable
    assert watcher.poll(now=15) == [digest]
    assert watcher.poll(now=30) == []  # reported once


def test_changed_file_is_reported_again_and_pattern_filters(tmp_path: Path) -> None:
    watcher = InboxWatcher(tmp_path, "*.md", settle_seconds=0)
    digest = tmp_path / "2026-01-02.md"
    digest.write_text("v1")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".2026-01-03.md.tmp").write_text("partial")
    (tmp_path / "sub.md").mkdir()
    assert watcher.poll(now=0) == [digest]
    digest.write_text("version two")
    assert watcher.poll(now=1) == [digest]
    assert watcher.poll(now=2) == []


def test_missing_folder_is_not_an_error(tmp_path: Path) -> None:
    assert InboxWatcher(tmp_path / "nope", "*.md", settle_seconds=0).poll(now=0) == []


def test_sha256(tmp_path: Path) -> None:
    path = tmp_path / "a"
    path.write_bytes(b"abc")
    assert file_sha256(path).startswith("ba7816bf")
