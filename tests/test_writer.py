"""The output writer: atomic replace, unchanged files left alone, paths kept inside OUT."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsletter.errors import NewsletterError
from newsletter.writer import output_path, write_file, write_outputs


def test_writes_files_and_folders(tmp_path: Path) -> None:
    results = write_outputs(tmp_path, {"a.atom.xml": b"one", "days/2025-06-04.html": b"two"})
    assert (tmp_path / "a.atom.xml").read_bytes() == b"one"
    assert (tmp_path / "days" / "2025-06-04.html").read_bytes() == b"two"
    assert all(r.changed for r in results)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["2025-06-04.html", "a.atom.xml", "days"]


def test_unchanged_bytes_keep_the_file_and_its_mtime(tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    assert write_file(path, b"same")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    inode = path.stat().st_ino
    assert write_file(path, b"same") is False
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert path.stat().st_ino == inode
    assert write_file(path, b"different")
    assert path.read_bytes() == b"different"
    assert path.stat().st_mtime_ns != 1_000_000_000


def test_replace_is_atomic_new_inode_and_no_temp_left(tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    write_file(path, b"old")
    with path.open("rb") as reader:  # a reader holding the old file still sees the old bytes
        inode = path.stat().st_ino
        write_file(path, b"new content")
        assert reader.read() == b"old"
    assert path.stat().st_ino != inode
    assert [p.name for p in tmp_path.iterdir()] == ["x.xml"]


def test_other_files_are_never_deleted(tmp_path: Path) -> None:
    (tmp_path / "old.atom.xml").write_bytes(b"from an earlier run")
    write_outputs(tmp_path, {"new.atom.xml": b"x"})
    assert (tmp_path / "old.atom.xml").read_bytes() == b"from an earlier run"


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/passwd", "a\\b", "", "a//b", "./x",
                                  "a/./b", "x\x00y", "days/.."])
def test_names_that_leave_out_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(NewsletterError, match="refusing"):
        output_path(tmp_path, name)


def test_a_bad_name_stops_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(NewsletterError):
        write_outputs(tmp_path, {"a.xml": b"1", "../b.xml": b"2"})
    assert list(tmp_path.iterdir()) == []
