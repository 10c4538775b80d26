"""Reading the markdown digest layouts (V0-V3 and the fork layouts) into raw entries."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from itertools import compress, count, islice, repeat

from newsletter.cleaning import (
    arxiv_id_from_url,
    is_category,
    normalise_id,
    one_line,
    split_authors,
)
from newsletter.models import Problem
from newsletter.parse_entry import UNCATEGORIZED, RawEntry

# `### [IDX] [TITLE](URL)` with a greedy title, so `[`, `]` and `](` inside titles survive.
_HEADING = re.compile(r"^### (?:\[\d*\] ?)?\[(.*)\]\((\S*)\)\s*$")
_BROKEN_LINK_TAIL = re.compile(r"\]\(\[https?://[^\s\]]*$")
_BOLD_LABEL = re.compile(r"^\*\*([^*\n]{1,30}?)\s*(?::\*\*|\*\*:|：\*\*|\*\*：)\s?(.*)$")
_TOPIC_SECTION = re.compile(r"^## .*\[([^\]\[]+)\]\s*$")
_DIV_TAG = re.compile(r"<div[^>]*>\s*</div>")

# Plain `Label: value` lines (V0-V3, topic digests, the astro fork's transitional files).
_PLAIN_LABELS: dict[str, str] = {
    "TL;DR": "tldr",
    "TLDR": "tldr",
    "Task": "tldr",
    "Motivation": "motivation",
    "Method": "method",
    "Result": "result",
    "Conclusion": "conclusion",
    "Abstract": "abstract",
    "Background": "Background",
    "Data": "Data",
    "Main category": "main_category",
}
# `**Label:** value` / `> **Label:** value` / `**Label**: value` (astro, rich, emoji forks).
_BOLD_LABELS: dict[str, str] = {
    **_PLAIN_LABELS,
    "Keywords": "Keywords",
    "Comment": "Comment",
    "AI_Comments": "AI_Comments",
    "ai_Abstract": "AI abstract",
    "摘要翻译": "Abstract translation",
    "Translation": "Abstract translation",
}
_BOLD_LAYOUTS = frozenset({"astro", "rich", "emoji"})
# First characters of the only lines that can end (or be skipped in) an open abstract.
_ABSTRACT_BREAKS = ("#", "<", "[", "-", " ")
_RULE_LAYOUTS = frozenset({"rich", "emoji", "topics"})


def _looks_like_section(word: str) -> bool:
    """A bare `## cs.CR` heading word (rich fork): a dotted/dashed category or `Uncategorized`."""
    return word == UNCATEGORIZED or (is_category(word) and ("." in word or "-" in word))


def _section_category(line: str) -> str | None:
    """The category a section heading line names, or None when the line is not one."""
    text = line.rstrip()
    if text.endswith("[[Back]](#toc)"):
        head = _DIV_TAG.sub(" ", text[: -len("[[Back]](#toc)")].lstrip("#"))
        words = head.split()
        return words[-1] if words else None
    if line.startswith("## "):
        match = _TOPIC_SECTION.match(text)
        if match:
            return match[1].strip()
        words = text[3:].split()
        if len(words) == 1 and _looks_like_section(words[0]):
            return words[0]
    return None


def _parse_heading(line: str, number: int) -> tuple[str, str] | Problem:
    """(arxiv id, title) from an entry heading, or the Problem that makes it malformed."""
    match = _HEADING.match(line)
    if match:
        title, url = match[1], match[2]
    else:
        start, sep, rest = line.partition("](")
        title, url = start.partition("[")[2], rest.rstrip().rstrip(")")
        if not sep:
            return Problem("entry heading without a `[title](URL)` link", number)
    if "](" in title:  # cheap test first: the tail is rare and a regex call is not free
        title = _BROKEN_LINK_TAIL.sub("", title)
    if title.startswith("[") and "] [" in title[:8]:
        title = title.partition("] [")[2]
    arxiv_id = (
        arxiv_id_from_url(url)
        or arxiv_id_from_url(url.replace(")", "").replace("(", ""))
        or normalise_id(url)  # a bare id as link target (one fork)
    )
    if not arxiv_id:
        return Problem(f"entry without an arXiv URL (link target {one_line(url)[:80]!r})", number)
    if not one_line(title):
        return Problem(f"entry {arxiv_id} has no title", number)
    return arxiv_id, title


def _label(line: str, layout: str) -> tuple[str, str] | None:
    """(field name, first value line) when `line` starts a labelled field."""
    colon = line.find(":", 0, 16)
    if colon > 0:
        name = _PLAIN_LABELS.get(line[:colon])
        if name is not None:
            value = line[colon + 1 :]
            return name, value[1:] if value.startswith(" ") else value
    if layout in _BOLD_LAYOUTS and (line.startswith("**") or line.startswith("> **")):
        match = _BOLD_LABEL.match(line[2:] if line.startswith("> ") else line)
        if match:
            bold = _BOLD_LABELS.get(match[1].strip())
            if bold is not None:
                return bold, match[2]
    if layout == "emoji" and line.startswith("#### "):
        if "TL;DR" in line:
            return "tldr", ""
        if "Abstract" in line:
            return "abstract", ""
        if "Summary" in line:
            return "", ""
    return None


def _authors_line(line: str, entry: RawEntry) -> None:
    """Fill authors (and a `| **Main category: X**` trailer) from an `*A,B*` line."""
    text = line.strip()
    head, sep, trailer = text.partition(" | **")
    if sep:
        text = head
        label, _, value = trailer.rstrip("*").partition(":")
        codes = [one_line(c) for c in value.split(",")]
        if label.strip() in ("Main category", "Category", "Categories"):
            entry.categories.extend(c for c in codes if is_category(c))
    if text.startswith("*"):
        text = text[1:]
    if text.endswith("*"):
        text = text[:-1]
    entry.authors = split_authors(text)


def _break_indices(lines: list[str]) -> list[int]:
    """Sorted indices of the lines that start with one of `_ABSTRACT_BREAKS` (one pass in C)."""
    return list(compress(count(), map(str.startswith, lines, repeat(_ABSTRACT_BREAKS))))


def _take_abstract_run(
    lines: list[str],
    breaks: list[int],
    start: int,
    abstract: list[str],
    numbered: Iterator[tuple[int, str]],
) -> None:
    """Append to the open `abstract` the lines from index `start` up to the next possible break.

    Why this exists: the abstract is the last and longest field, and once it has a line every
    following line is appended verbatim unless it starts with one of `_ABSTRACT_BREAKS` (a
    heading, a tag, a rule or a link). With those lines' indices found up front (`breaks`),
    the run is one bisect and one slice instead of one trip through the main loop per
    abstract line; the lines taken are skipped in `numbered`, the main loop's iterator.
    """
    at = bisect_left(breaks, start)
    end = breaks[at] if at < len(breaks) else len(lines)
    if end > start:
        abstract.extend(lines[start:end])
        next(islice(numbered, end - start, end - start), None)


def parse_markdown(text: str, layout: str) -> tuple[list[RawEntry], list[Problem]]:
    """Raw entries of a markdown digest of `layout`, in file order, and the problems met."""
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    section: str | None = None
    entry: RawEntry | None = None
    current: list[str] | None = None  # lines of the field being read
    want_authors = False
    rules = layout in _RULE_LAYOUTS
    lines = text.split("\n")
    breaks = _break_indices(lines)
    numbered = enumerate(lines, start=1)
    for number, line in numbered:
        if not line:  # fast path: a blank line (a third of a digest) only extends a field
            if current is not None:  # (None before an entry's first field and outside entries)
                current.append(line)
            continue
        first = line[:1]
        if first == "#":
            if line.startswith("### ["):
                current, want_authors, entry = None, False, None
                parsed = _parse_heading(line, number)
                if isinstance(parsed, Problem):
                    problems.append(parsed)
                    continue
                entry = RawEntry(line=number, arxiv_id=parsed[0], title=parsed[1], category=section)
                entries.append(entry)
                want_authors = True
                continue
            if line.startswith("# ") or line.startswith("## "):
                category = _section_category(line)
                if category is not None:
                    section, entry, current, want_authors = category, None, None, False
                    continue
        if entry is None:
            continue
        if want_authors:
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("> *"):  # rich layout: the title's translation
                entry.fields["Title translation"] = [stripped[2:].strip("*")]
                continue
            want_authors = False
            if stripped.startswith("*") or stripped.startswith("['"):
                _authors_line(stripped, entry)
                continue
        if first and first in "<[- ":
            stripped = line.strip()
            if stripped.startswith("<"):
                # A section anchor (the page, not the paper); the cheap test spares a regex call.
                if stripped.startswith("<div") and _DIV_TAG.fullmatch(stripped):
                    entry, current, want_authors = None, None, False
                    continue
                if stripped == "<summary>Abstract</summary>":
                    current = entry.abstract_lines
                    continue
                if stripped in ("</details>", "<details>") or stripped.startswith("<summary>"):
                    current = None
                    continue
            elif rules and (stripped == "---" or stripped.startswith("[⬆")):
                current = None
                continue
            elif stripped.startswith("[**[PDF]**]"):
                current = None
                _, _, cats = stripped.partition("**Categories:**")
                entry.categories.extend(c.strip() for c in cats.replace(";", ",").split(","))
                continue
        if current is entry.abstract_lines and current:
            current.append(line)  # the abstract is the last field: only `</details>` ends it
            _take_abstract_run(lines, breaks, number, current, numbered)  # `number`: the next index
            continue
        label = _label(line, layout) if first else None
        if label is not None:
            name, value = label
            if name == "main_category":
                entry.main_category = one_line(value)
                current = None
            elif name == "abstract":
                current = entry.abstract_lines
                current.append(value)
                _take_abstract_run(lines, breaks, number, current, numbered)
            elif not name:
                current = None
            else:
                current = entry.fields.setdefault(name, [])
                if current:  # a repeated label: keep the first value
                    current = []
                current.append(value)
            continue
        if current is not None:
            current.append(line)
    return entries, problems
