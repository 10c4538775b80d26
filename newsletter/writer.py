"""The one place that writes the output folder: atomic, skip-if-unchanged, never deletes."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from newsletter.errors import NewsletterError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What happened to one output file."""

    path: Path
    changed: bool  # False: the file already held these bytes and was left alone (mtime kept)


def output_path(out: Path, name: str) -> Path:
    """`out / name` for a relative POSIX name that stays inside `out`; anything else is refused."""
    rel = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or rel.is_absolute()
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise NewsletterError(f"refusing to write {name!r}: not a plain path inside {out}")
    return out.joinpath(*rel.parts)


def write_file(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically; return False (and touch nothing) if it already holds it.

    The bytes go to a temporary file in the same folder, are fsync'ed, then renamed over the
    target, so a reader sees the old file or the new one, never half of one.
    """
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise NewsletterError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise NewsletterError(f"cannot write in {path.parent}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise NewsletterError(f"cannot write {path}: {exc.strerror}") from exc
    return True


def write_outputs(out: Path, files: Mapping[str, bytes]) -> list[WriteResult]:
    """Write every `name -> bytes` under `out` (names like "cs.CV.atom.xml", "days/x.html").

    Files not named here are never touched: outputs of earlier runs stay.
    """
    paths = {name: output_path(out, name) for name in files}  # validate all before writing any
    results: list[WriteResult] = []
    for name in sorted(files):
        path = paths[name]
        changed = write_file(path, files[name])
        if changed:
            log.info("wrote %s (%d bytes)", path, len(files[name]))
        else:
            log.debug("unchanged %s", path)
        results.append(WriteResult(path=path, changed=changed))
    return results
