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


def parse_jsonl(text: str) -> tuple[list[RawEntry], list[Problem], int]:
    """Raw entries of a JSONL digest, the problems met, and how many lines were JSON records."""
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    records = 0
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
        parsed = _entry(record, number)
        if isinstance(parsed, Problem):
            problems.append(parsed)
        else:
            entries.append(parsed)
    return entries, problems, records
