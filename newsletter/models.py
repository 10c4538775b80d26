"""The data every stage shares: a parsed paper, a parsed digest, a problem found while parsing."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

# The AI fields every layout maps onto, in display order.
AI_FIELDS: tuple[str, ...] = ("tldr", "motivation", "method", "result", "conclusion")
FIELD_LABELS: dict[str, str] = {
    "tldr": "TL;DR",
    "motivation": "Motivation",
    "method": "Method",
    "result": "Result",
    "conclusion": "Conclusion",
    "abstract": "Abstract",
}

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[$\\])|(?<=[。！？])")
_SUMMARY_LIMIT = 400


def plural(count: int, one: str, many: str = "") -> str:
    """`1 paper`, `2 papers`; `many` for irregular words (`entry` -> `entries`)."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def first_sentence(text: str, *, limit: int = _SUMMARY_LIMIT) -> str:
    """The first sentence of `text` (an abstract), cut at `limit` characters on a word boundary."""
    text = " ".join(text.split())
    if not text:
        return ""
    match = _SENTENCE_END.search(text)
    sentence = text[: match.start()].strip() if match and match.start() > 20 else text
    if len(sentence) > limit:
        cut = sentence[:limit].rsplit(" ", 1)[0]
        sentence = cut.rstrip(",;:") + "…"
    return sentence


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in a digest that did not stop parsing (a warning with a line number)."""

    message: str
    line: int | None = None

    def describe(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as a digest shows it. Every string is plain text, XML-safe, never escaped."""

    id: str  # versionless arXiv id, the paper's key: "2506.02013", "math/0601001"
    title: str
    url: str  # https://arxiv.org/abs/<id>
    pdf_url: str  # https://arxiv.org/pdf/<id>
    authors: tuple[str, ...]
    category: str  # the section the digest put it in (its primary category)
    tldr: str = ""  # "" when missing or an LLM failure text
    motivation: str = ""
    method: str = ""
    result: str = ""
    conclusion: str = ""
    abstract: str = ""  # paragraphs separated by "\n\n"
    categories: tuple[str, ...] = ()  # every category when the layout lists them, else (category,)
    extra: tuple[tuple[str, str], ...] = ()  # other labelled fields a layout carries, in order
    line: int | None = None  # line of the entry's heading in the source file (1-based)

    @property
    def summary(self) -> str:
        """What to show as the one-line summary: the TL;DR, else the abstract's first sentence."""
        return self.tldr or first_sentence(self.abstract)

    @property
    def has_tldr(self) -> bool:
        return bool(self.tldr)

    def field(self, name: str) -> str:
        """One of AI_FIELDS or "abstract" by name."""
        value: str = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class Digest:
    """One digest file, parsed: its papers in file order (duplicates removed) and its problems."""

    source: str  # the path as given
    name: str  # the file's stem, e.g. "2025-06-04" or "2025-06-24_database"
    date: dt.date | None
    layout: str  # "v3", "v0", "v1", "v2", "astro", "emoji", "topics", "rich", "jsonl", "empty"
    papers: tuple[Paper, ...]
    problems: tuple[Problem, ...] = ()
    failed_summaries: int = 0  # LLM failure texts replaced by "" in this digest
    categories: tuple[str, ...] = field(default=())  # section order; derived when empty

    def __post_init__(self) -> None:
        if not self.categories:
            seen: dict[str, None] = {}
            for paper in self.papers:
                seen.setdefault(paper.category, None)
            object.__setattr__(self, "categories", tuple(seen))

    def by_category(self) -> dict[str, list[Paper]]:
        """Papers grouped by category, in section order."""
        groups: dict[str, list[Paper]] = {cat: [] for cat in self.categories}
        for paper in self.papers:
            groups.setdefault(paper.category, []).append(paper)
        return {cat: papers for cat, papers in groups.items() if papers}
