"""Hand-made papers and digests for the feed, site and pipeline tests."""

from __future__ import annotations

import datetime as dt

from newsletter.models import Digest, Paper


def make_paper(
    pid: str, *, category: str = "cs.CV", title: str | None = None, **kw: object
) -> Paper:
    fields: dict[str, object] = {
        "title": title if title is not None else f"Paper {pid}",
        "url": f"https://arxiv.org/abs/{pid}",
        "pdf_url": f"https://arxiv.org/pdf/{pid}",
        "authors": ("Ada Lovelace", "Alan Turing"),
        "category": category,
        "tldr": f"TL;DR of {pid}.",
        "abstract": f"Abstract of {pid}. It has two sentences.",
        "categories": (category,),
    }
    fields.update(kw)
    return Paper(id=pid, **fields)  # type: ignore[arg-type]


def make_digest(day: str, papers: list[Paper], *, name: str | None = None) -> Digest:
    return Digest(source=f"{name or day}.md", name=name or day,
                  date=dt.date.fromisoformat(day), layout="v3", papers=tuple(papers))
