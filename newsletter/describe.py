"""What the parser saw in a digest: the `parse --json` object and a short human summary."""

from __future__ import annotations

from typing import Any

from newsletter.models import Digest, Paper, plural

_PAPER_KEYS = (
    "id",
    "title",
    "url",
    "pdf_url",
    "category",
    "tldr",
    "motivation",
    "method",
    "result",
    "conclusion",
    "abstract",
)


def _paper_to_json(paper: Paper) -> dict[str, Any]:
    data: dict[str, Any] = {key: getattr(paper, key) for key in _PAPER_KEYS}
    data["authors"] = list(paper.authors)
    order = ("id", "title", "url", "pdf_url", "authors", "category")
    return {key: data[key] for key in (*order, *(k for k in _PAPER_KEYS if k not in order))}


def digest_to_json(digest: Digest) -> dict[str, Any]:
    """The `newsletter parse --json` object (DESIGN.md): source, date, layout, papers, problems."""
    return {
        "source": digest.source,
        "date": digest.date.isoformat() if digest.date else None,
        "layout": digest.layout,
        "papers": [_paper_to_json(paper) for paper in digest.papers],
        "problems": [problem.describe(digest.source) for problem in digest.problems],
    }


def summarize_digest(digest: Digest) -> str:
    """A few lines for a person: layout, date, papers per category, summaries missing, problems."""
    date = digest.date.isoformat() if digest.date else "unknown"
    count = len(digest.papers)
    lines = [
        f"{digest.source}: {plural(count, 'paper')}, "
        f"layout {digest.layout}, date {date}"
    ]
    groups = digest.by_category()
    if groups:
        width = max(len(cat) for cat in groups)
        for category, papers in groups.items():
            with_tldr = sum(1 for p in papers if p.has_tldr)
            lines.append(f"  {category:<{width}}  {len(papers):4}  ({with_tldr} with TL;DR)")
    if digest.failed_summaries:
        n = digest.failed_summaries
        lines.append(f"  {plural(n, 'LLM failure text')} removed")
    if digest.problems:
        lines.append(f"problems ({len(digest.problems)}):")
        lines.extend(f"  {problem.describe(digest.source)}" for problem in digest.problems)
    return "\n".join(lines)
