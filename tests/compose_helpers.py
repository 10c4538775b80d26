"""Hand-built digests for the compose tests (no parser needed)."""

from __future__ import annotations

import datetime as dt

import lxml.html

from newsletter.budget import estimate, measure
from newsletter.compose import RenderedEmail
from newsletter.models import Digest, Paper

ZH_TLDR = (
    "本文提出了一种基于扩散模型的新方法，"
    "在三个公开基准上显著优于现有方法，并分析了其局限性与未来方向。"
)


def make_paper(n: int, category: str = "cs.CV", **fields: str) -> Paper:
    pid = fields.pop("id", f"2506.{n:05d}")
    values: dict[str, str] = {
        "title": f"Paper number {n}: a study of things in {category}",
        "tldr": f"{ZH_TLDR} ({n})",
        "motivation": "Why it matters.",
        "method": "How it was done.",
        "result": "What came out.",
        "conclusion": "What it means.",
        "abstract": (
            "We study interesting things in great depth. They matter.\n\nA second paragraph."
        ),
    }
    values.update(fields)
    return Paper(
        id=pid,
        url=f"https://arxiv.org/abs/{pid}",
        pdf_url=f"https://arxiv.org/pdf/{pid}",
        authors=("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"),
        category=category,
        categories=(category,),
        **values,
    )


def make_digest(papers: list[Paper], *, name: str = "2025-06-04") -> Digest:
    return Digest(
        source=f"{name}.md", name=name, date=dt.date(2025, 6, 4), layout="v3",
        papers=tuple(papers),
    )


def big_digest(total: int, categories: list[tuple[str, int]]) -> Digest:
    """`total` papers spread over categories by weight."""
    weight = sum(w for _, w in categories)
    papers: list[Paper] = []
    n = 0
    for code, w in categories:
        for _ in range(max(1, total * w // weight)):
            papers.append(make_paper(n, code))
            n += 1
    while n < total:
        papers.append(make_paper(n, categories[0][0]))
        n += 1
    return make_digest(papers)


def links(html: str) -> list[str]:
    """Every href and src in an HTML document."""
    tree = lxml.html.fromstring(html)
    return [el.get(attr) for attr in ("href", "src") for el in tree.iter() if el.get(attr)]


def paper_links(rendered: RenderedEmail) -> list[str]:
    """The abstract links of paper titles shown (full or title-only)."""
    tree = lxml.html.fromstring(rendered.html)
    return [a.get("href") for a in tree.iter("a") if a.get("class") in ("ptitle", "ttitle")]


def estimate_of(rendered: RenderedEmail) -> int:
    return estimate(measure(rendered.html, rendered.text))
