"""Turning one raw entry (strings as found in the file) into a clean Paper."""

from __future__ import annotations

from dataclasses import dataclass, field

from newsletter.cleaning import (
    abs_url,
    is_category,
    is_failure_text,
    join_field,
    join_paragraphs,
    one_line,
    pdf_url,
    split_authors,
)
from newsletter.models import AI_FIELDS, Paper

UNCATEGORIZED = "Uncategorized"


@dataclass(slots=True)
class RawEntry:
    """An entry while it is being read: mutable, private to the parser modules.

    Every string in it is already XML-clean (`clean_text`): the markdown reader cleans the whole
    text once, the JSONL reader cleans each value it takes.
    """

    line: int
    arxiv_id: str
    title: str
    category: str | None = None  # the section it sits in
    main_category: str | None = None  # a `Main category:` value, if any
    authors: tuple[str, ...] | None = None
    categories: list[str] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)  # name -> raw lines
    abstract_lines: list[str] = field(default_factory=list)
    abstract_text: str | None = None  # JSONL: the abstract as one string


@dataclass(frozen=True, slots=True)
class Built:
    paper: Paper
    failures: int
    missing_authors: bool


def _category(raw: RawEntry) -> str:
    for candidate in (raw.category, raw.main_category):
        if candidate and (is_category(candidate) or candidate == UNCATEGORIZED):
            return candidate
    for candidate in raw.categories:
        if is_category(candidate):
            return candidate
    return UNCATEGORIZED


def build_paper(raw: RawEntry) -> Built:
    """The Paper for `raw`: failure texts blanked (and counted), text cleaned, URLs canonical."""
    failures = 0
    ai: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for name, lines in raw.fields.items():
        value = join_field(lines)
        if is_failure_text(value):
            failures += 1
            value = ""
        if name in AI_FIELDS:
            ai[name] = value
        elif value:
            extra.append((name, value))
    if raw.abstract_text is not None:
        abstract = join_paragraphs(raw.abstract_text.split("\n"))
    else:
        abstract = join_paragraphs(raw.abstract_lines)
    if is_failure_text(abstract):
        abstract = ""
    category = _category(raw)
    cats = [c for c in (one_line(c) for c in raw.categories) if is_category(c)]
    if category not in cats:
        cats.insert(0, category)
    authors = raw.authors or ()
    paper = Paper(
        id=raw.arxiv_id,
        title=one_line(raw.title),
        url=abs_url(raw.arxiv_id),
        pdf_url=pdf_url(raw.arxiv_id),
        authors=authors,
        category=category,
        tldr=ai.get("tldr", ""),
        motivation=ai.get("motivation", ""),
        method=ai.get("method", ""),
        result=ai.get("result", ""),
        conclusion=ai.get("conclusion", ""),
        abstract=abstract,
        categories=tuple(dict.fromkeys(cats)),
        extra=tuple(extra),
        line=raw.line,
    )
    return Built(paper=paper, failures=failures, missing_authors=not authors)


__all__ = ["UNCATEGORIZED", "Built", "RawEntry", "build_paper", "split_authors"]
