"""Reading upstream JSONL files (raw and `_AI_enhanced_<LANG>.jsonl`, fork schemas)."""

from __future__ import annotations

import json
from typing import Any

from newsletter.cleaning import arxiv_id_from_url, clean_text, normalise_id, split_authors
from newsletter.models import Problem
from newsletter.parse_entry import RawEntry

# AI keys that map onto Paper fields; every other string-valued AI key becomes an extra field.
_AI_KEYS = {
    "tldr": "tldr",
    "task": "tldr",
    "motivation": "motivation",
    "method": "method",
    "result": "result",
    "conclusion": "conclusion",
}
# Keys of the daily-arXiv record schema (FORMAT.md §7); a record with none of them is foreign.
_SCHEMA_ORDER = ("id", "title", "abs", "pdf", "authors", "summary", "categories", "AI")
_SCHEMA_KEYS = frozenset(_SCHEMA_ORDER)
_EXTRA_NAMES = {
    "background": "Background",
    "data": "Data",
    "keywords": "Keywords",
    "comments": "AI_Comments",
    "summary": "AI abstract",
    "translation": "Abstract translation",
    "title_translation": "Title translation",
}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return ", ".join(clean_text(str(v)) for v in value if isinstance(v, str | int | float))
    return ""


def _record_id(record: dict[str, Any]) -> str | None:
    raw_id = record.get("id")
    if isinstance(raw_id, str):
        found = normalise_id(raw_id) or arxiv_id_from_url(raw_id)
        if found:
            return found
    for key in ("abs", "pdf", "url", "link"):
        value = record.get(key)
        if isinstance(value, str) and (found := arxiv_id_from_url(value)):
            return found
    return None


def _entry(record: dict[str, Any], number: int) -> RawEntry | Problem:
    arxiv_id = _record_id(record)
    if arxiv_id is None:
        return Problem("record without an arXiv id (`id`, `abs` or `pdf`)", number)
    title = _text(record.get("title"))
    if not title.strip():
        return Problem(f"record {arxiv_id} has no title", number)
    cats = record.get("categories")
    cats = cats if isinstance(cats, list) else []
    categories = [clean_text(c) for c in cats if isinstance(c, str)]
    authors_value = record.get("authors")
    if isinstance(authors_value, list):
        authors = tuple(a for a in (" ".join(_text(x).split()) for x in authors_value) if a)
    else:
        authors = split_authors(_text(authors_value))
    entry = RawEntry(
        line=number,
        arxiv_id=arxiv_id,
        title=title,
        category=categories[0] if categories else None,
        authors=authors,
        categories=categories,
        abstract_text=_text(record.get("summary")),
    )
    ai = record.get("AI")
    if isinstance(ai, dict):
        for key, value in ai.items():
            text = _text(value)
            name = _AI_KEYS.get(key) or _EXTRA_NAMES.get(key) or clean_text(str(key))
            if name in entry.fields:
                continue
            entry.fields[name] = [text]
    for key, label in (("comment", "Comment"), ("code_url", "Code")):
        text = _text(record.get(key))
        if text.strip():
            entry.fields[label] = [text]
    return entry


def parse_jsonl(text: str) -> tuple[list[RawEntry], list[Problem]]:
    """Raw entries of a JSONL digest and the problems met.

    ValueError (its message says why) when no line yields a paper: another tool's JSON lines
    must be an error, never an empty digest.
    """
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    records = schema_records = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            problems.append(Problem("not a JSON object (line skipped)", number))
            continue
        if not isinstance(record, dict):
            problems.append(Problem("not a JSON object (line skipped)", number))
            continue
        records += 1
        schema_records += not _SCHEMA_KEYS.isdisjoint(record)
        parsed = _entry(record, number)
        if isinstance(parsed, Problem):
            problems.append(parsed)
        else:
            entries.append(parsed)
    if not entries:
        raise ValueError(_no_paper_reason(records, schema_records, problems))
    return entries, problems


def _no_paper_reason(records: int, schema_records: int, problems: list[Problem]) -> str:
    if not records:
        return "not a daily-arXiv JSONL file (no line is a JSON object)"
    if not schema_records:
        keys = ", ".join(sorted(_SCHEMA_KEYS, key=_SCHEMA_ORDER.index))
        return f"JSON lines, but no record has the daily-arXiv keys ({keys}); another tool's file?"
    first = next((p for p in problems if p.line is not None), problems[0])
    return f"no record of this JSONL file is a readable paper (line {first.line}: {first.message})"
