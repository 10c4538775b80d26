"""Finding digest files in the input folder and ordering them by date."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

_DATE_PREFIX = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def date_from_name(name: str) -> dt.date | None:
    """The date a file name starts with (`2025-06-04.md`, `2025-06-24_database.md`), if any."""
    return date_from_match(_DATE_PREFIX.match(Path(name).name))


def date_from_match(match: re.Match[str] | None) -> dt.date | None:
    """The date in a match whose groups 1-3 are year, month, day; None if no match or invalid."""
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def sort_key(path: Path) -> tuple[str, str]:
    """Oldest first: by the date in the name, then by name (undated files sort first)."""
    date = date_from_name(path.name)
    return (date.isoformat() if date else "", path.name)


def list_digest_files(folder: Path, pattern: str) -> list[Path]:
    """Regular files in `folder` matching `pattern`, oldest first. Missing folder: empty list."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith(".")]
    return sorted(files, key=sort_key)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks (what "the same content" means)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
