"""What the email and day-page templates see: papers and categories with safe links, built once."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import quote

from newsletter.categories import category_label, safe_category_filename
from newsletter.cleaning import flatten
from newsletter.models import AI_FIELDS, FIELD_LABELS, Paper

AUTHORS_SHOWN = 3
# A versionless arXiv id: new style (2506.02013) or old style (math/0601001, math.AG/0601001).
_ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Za-z-]{2,})?/\d{7})")


def arxiv_links(paper_id: str) -> tuple[str, str]:
    """The abstract and PDF URLs of a paper, built from its id ("" when the id is not valid)."""
    if not _ARXIV_ID.fullmatch(paper_id):
        return "", ""
    quoted = quote(paper_id, safe="/.")
    return f"https://arxiv.org/abs/{quoted}", f"https://arxiv.org/pdf/{quoted}"


def site_url(base_url: str, path: str = "") -> str:
    """`path` (already URL-safe) under the configured base URL, which must be http(s)."""
    if not base_url.startswith(("http://", "https://")):
        return ""
    return (base_url if base_url.endswith("/") else base_url + "/") + path


def category_anchor(code: str) -> str:
    """The HTML id of a category's section on the day page: the code itself when it is safe."""
    safe = safe_category_filename(code)
    if safe is not None:
        return safe
    digest = hashlib.sha1(code.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"cat-{digest}"


def short_authors(authors: tuple[str, ...], *, shown: int = AUTHORS_SHOWN) -> str:
    """The first few authors, then "et al." when there are more."""
    names = [flatten(a) for a in authors[:shown]]
    text = ", ".join(n for n in names if n)
    return f"{text} et al." if len(authors) > shown else text


@dataclass(frozen=True, slots=True)
class CategoryView:
    """A category as templates show it: code, readable label, anchor and links."""

    code: str  # as the digest has it (the key)
    name: str  # the code on one line, for display
    label: str  # the readable name ("" when it would only repeat the code)
    anchor: str
    feed_url: str  # "" when the code is not a safe file name (no per-category feed exists)
    day_url: str  # this category's part of the day page


@dataclass(frozen=True, slots=True)
class PaperView:
    """A paper as templates show it: one-line title and authors, safe links, summary."""

    index: int  # position in the digest, the key of its email fragments
    id: str
    title: str
    url: str  # "" when the id is not a valid arXiv id
    pdf_url: str
    authors: str  # first few, then "et al."
    all_authors: str
    summary: str  # TL;DR, else the abstract's first sentence; one line
    category: str
    paper: Paper  # every field, for the day page

    def details(self) -> list[tuple[str, str]]:
        """(label, text) of every non-empty detail field, in display order (day page)."""
        names = (*AI_FIELDS, "abstract")
        shown = [(FIELD_LABELS[n], self.paper.field(n).strip()) for n in names]
        extra = [(flatten(k), v.strip()) for k, v in self.paper.extra]
        return [(label, text) for label, text in (*shown, *extra) if text]


def category_view(code: str, *, base_url: str, day_path: str) -> CategoryView:
    safe = safe_category_filename(code)
    label = category_label(code)
    anchor = category_anchor(code)
    return CategoryView(
        code=code,
        name=flatten(code),
        label="" if label == code else label,
        anchor=anchor,
        feed_url=site_url(base_url, f"{safe}.atom.xml") if safe else "",
        day_url=site_url(base_url, f"{day_path}#{anchor}"),
    )


def paper_view(paper: Paper, index: int) -> PaperView:
    url, pdf = arxiv_links(paper.id)
    return PaperView(
        index=index,
        id=flatten(paper.id),
        title=flatten(paper.title) or flatten(paper.id) or "(untitled)",
        url=url,
        pdf_url=pdf,
        authors=short_authors(paper.authors),
        all_authors=", ".join(n for n in (flatten(a) for a in paper.authors) if n),
        summary=flatten(paper.summary),
        category=paper.category,
        paper=paper,
    )
