"""Parsing a digest file: detect its layout from the content, read its papers, report problems."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path, PurePath

from newsletter.cleaning import clean_text, utf8_is_clean
from newsletter.errors import DigestError
from newsletter.inbox import date_from_match, date_from_name
from newsletter.models import Digest, Paper, Problem, plural
from newsletter.parse_entry import RawEntry, build_paper
from newsletter.parse_jsonl import parse_jsonl
from newsletter.parse_markdown import parse_markdown

__all__ = ["LAYOUTS", "detect_layout", "parse_digest", "read_digest"]

LAYOUTS = ("v3", "v0", "v1", "v2", "astro", "emoji", "topics", "rich", "jsonl", "empty")

_HEADER_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_MARKER_WINDOW = 64 * 1024
_NON_SPACE = re.compile(r"\S")  # `\S` and `str.strip()` agree on what whitespace is
_EMPTY_V3 = "<div id=toc></div>\n\n# Table of Contents"
# Invalid UTF-8 bytes a text file may have (shown as U+FFFD, a Problem); more is binary.
_BAD_BYTES = re.compile("[\udc80-\udcff]+")
_BAD_BYTES_ALLOWED = 16
_BAD_BYTES_FRACTION = 0.01
_LINES_NAMED = 5
_STUB_MARKERS = ("今日没有找到新论文", "no new papers today", "no new papers were found")

# Markers of the markdown layouts, most specific first (FORMAT.md §2-§4).
_LAYOUT_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("emoji", ("\n#### 🧩 TL;DR",)),
    ("topics", ("\n[**[PDF]**](",)),
    ("rich", ("\n> **TL;DR:**", "\n**Keywords:**", "\n**AI_Comments:**", "\n> **ai_Abstract:**")),
    ("astro", ("\n**TL;DR**:", "\n**Background:**")),
    ("v0", ("<summary>Abstract</summary>",)),
    ("v3", ("\nTL;DR:",)),
    ("v2", ("\nTLDR:",)),
    ("v1", ("\nTask:",)),
)
# Formats of other tools found in digest folders (FORMAT.md §5): marker -> what it looks like.
_FOREIGN: tuple[tuple[str, str], ...] = (
    ("**Relevance:**", "a relevance-ranked topic digest"),
    ('<a id="toc"></a>', "a relevance-ranked topic digest"),
    ("一句话总结", "a Gemini one-line-summary digest"),
    ("Announce Type:", "an arXiv listing export of another tool"),
)


def _foreign_reason(text: str) -> str:
    for marker, looks_like in _FOREIGN:
        if marker in text:
            return f"not a daily-arXiv digest (looks like {looks_like})"
    return "not a daily-arXiv digest (no `### [N] [title](https://arxiv.org/abs/ID)` entries found)"


def _is_stub(stripped: str) -> bool:
    if stripped == _EMPTY_V3:
        return True
    if len(stripped) > 2000:
        return False
    low = stripped.lower()
    if any(marker in low for marker in _STUB_MARKERS):
        return True
    return low.startswith("# no ") and "papers" in low.partition("\n")[0] and "found" in low


def detect_layout(text: str) -> str:
    """The layout name of a digest's text (see LAYOUTS); DigestError reasons for anything else."""
    # No `text.strip()` copy of a big file: the first non-space character says as much.
    first = _NON_SPACE.search(text)
    if first is None:
        raise ValueError("empty file")
    if text[first.start()] == "{":
        return "jsonl"
    has_entries = text.startswith("### [") or "\n### [" in text
    if not has_entries:
        if _is_stub(text.strip()):
            return "empty"
        raise ValueError(_foreign_reason(text))
    if "**一句话总结" in text or "Announce Type:" in text:
        raise ValueError(_foreign_reason(text))
    # The first entries carry the markers; look there first, then in the whole text.
    # A generator, so the padded copy of the whole text is only made when the window has no marker.
    for padded in ("\n" + part for part in (text[:_MARKER_WINDOW], text)):
        for layout, markers in _LAYOUT_MARKERS:
            if any(marker in padded for marker in markers):
                if layout == "v3" and "\nBackground: " in padded and "\nConclusion: " not in padded:
                    return "astro"  # the transitional astro-ph files: plain `TL;DR:` + Background
                return layout
        if len(text) <= _MARKER_WINDOW:
            break
    raise ValueError(
        "not a daily-arXiv digest (`### [` entries but none of the known fields "
        "such as `TL;DR:` or `<summary>Abstract</summary>`)"
    )


def _header_date(text: str) -> dt.date | None:
    return date_from_match(_HEADER_DATE.search(text[:800]))


def _finish(raws: list[RawEntry], problems: list[Problem]) -> tuple[list[Paper], int]:
    """Papers without duplicates (first wins) and the number of failure texts blanked."""
    papers: list[Paper] = []
    seen: set[str] = set()
    duplicates = failures = no_authors = 0
    for raw in raws:
        if raw.arxiv_id in seen:
            duplicates += 1
            continue
        seen.add(raw.arxiv_id)
        built = build_paper(raw)
        failures += built.failures
        if built.missing_authors:
            no_authors += 1
            problems.append(Problem(f"entry {raw.arxiv_id} has no authors line", raw.line))
        papers.append(built.paper)
    if duplicates:
        entries = plural(duplicates, "duplicate entry", "duplicate entries")
        problems.append(Problem(f"{entries} dropped (first occurrence kept)"))
    if failures:
        fields = plural(
            failures,
            "AI summary field was an LLM failure text and was",
            "AI summary fields were LLM failure texts and were",
        )
        problems.append(Problem(f"{fields} left empty"))
    return papers, failures


def parse_digest(text: str, *, source: str, name: str | None = None) -> Digest:
    """Parse a digest's text. Raises DigestError for content that is not a daily-arXiv digest."""
    stem = name if name is not None else PurePath(source).stem
    if "\x00" in text:
        raise DigestError(source, "binary content (NUL bytes), not a text digest")
    return _parse_clean(clean_text(text.lstrip("\ufeff")), source=source, stem=stem)


def _parse_clean(text: str, *, source: str, stem: str) -> Digest:
    """`parse_digest` of a text already through `clean_text` (and without a leading BOM)."""
    try:
        layout = detect_layout(text)
    except ValueError as exc:
        raise DigestError(source, str(exc)) from None
    problems: list[Problem] = []
    if layout == "empty":
        raws: list[RawEntry] = []
    elif layout == "jsonl":
        try:
            raws, problems = parse_jsonl(text)
        except ValueError as exc:
            raise DigestError(source, str(exc)) from None
    else:
        raws, problems = parse_markdown(text, layout)
    papers, failures = _finish(raws, problems)
    if layout not in ("empty", "jsonl") and not papers:
        raise DigestError(source, "no readable paper entry (every `### [` heading is malformed)")
    date = date_from_name(stem) or _header_date(text)
    if date is None:
        problems.insert(0, Problem("no date in the file name (YYYY-MM-DD...) or header"))
    return Digest(
        source=source,
        name=stem,
        date=date,
        layout=layout,
        papers=tuple(papers),
        problems=tuple(problems),
        failed_summaries=failures,
    )


def read_digest(path: Path) -> Digest:
    """Read and parse the digest file at `path` (UTF-8). DigestError says why it cannot."""
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DigestError(source, "no such file") from None
    except IsADirectoryError:
        raise DigestError(source, "is a directory, not a digest file") from None
    except OSError as exc:
        raise DigestError(source, f"cannot read: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise DigestError(source, "binary content (NUL bytes), not a text digest")
    damage: Problem | None = None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text, damage = _decode_damaged(data, source)
    if damage is None and utf8_is_clean(data):  # skip `clean_text`'s costlier scan of the text
        return _parse_clean(text.lstrip("\ufeff"), source=source, stem=path.stem)
    digest = parse_digest(text, source=source, name=path.stem)
    if damage is None:
        return digest
    return dataclasses.replace(digest, problems=(damage, *digest.problems))


def _decode_damaged(data: bytes, source: str) -> tuple[str, Problem]:
    """Text with each run of invalid UTF-8 bytes shown as one U+FFFD, and the Problem saying where.

    U+FFFD is kept (not stripped): it is legal XML and marks where the damage was. More than a
    few undecodable bytes means a binary file or another encoding: DigestError.
    """
    escaped = data.decode("utf-8", errors="surrogateescape")  # each bad byte -> U+DC80..U+DCFF
    runs = list(_BAD_BYTES.finditer(escaped))
    bad = sum(len(run[0]) for run in runs)
    if bad > max(_BAD_BYTES_ALLOWED, len(data) * _BAD_BYTES_FRACTION):
        reason = f"{bad} of {len(data)} bytes are not UTF-8; binary, or another encoding?"
        raise DigestError(source, f"not UTF-8 text ({reason})")
    lines: list[int] = []  # the first distinct lines with damage (one more than named)
    line, position = 1, 0
    for run in runs:
        line += escaped.count("\n", position, run.start())
        position = run.start()
        if not lines or lines[-1] != line:
            lines.append(line)
            if len(lines) > _LINES_NAMED:
                break
    where = ""  # the Problem's line is the first; name the others when there are several
    if len(lines) > 1:
        where = " (lines " + ", ".join(map(str, lines[:_LINES_NAMED]))
        where += ", ...)" if len(lines) > _LINES_NAMED else ")"
    bytes_ = plural(bad, "invalid UTF-8 byte", "invalid UTF-8 bytes")
    message = f"{bytes_} shown as U+FFFD{where}; re-save the file as UTF-8"
    return _BAD_BYTES.sub("\ufffd", escaped), Problem(message, lines[0])
