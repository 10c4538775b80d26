"""Atom feeds: the rolling window of papers, one feed per category plus all papers, as bytes."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from newsletter.categories import category_label, safe_category_filename
from newsletter.cleaning import abs_url, xml_safe
from newsletter.config import SiteSettings
from newsletter.models import AI_FIELDS, FIELD_LABELS, Digest, Paper

ALL_FEED = "all.atom.xml"
FEED_SUFFIX = ".atom.xml"
CATEGORY_SCHEME = "http://arxiv.org/schemas/atom"
GENERATOR = "newsletter"


# Size policy. Each entry carries full content (every labelled field, the abstract, authors,
# categories) until the feed's content reaches CONTENT_BUDGET bytes; the older entries after that
# carry a short content (TL;DR/summary, authors, links). Entries are newest first, so a whole
# 900-paper day keeps its full text (~3 KB a paper) while a 500-entry feed stays near 2 MB, not
# 15 MB; readers polling daily have already stored the older days' full text. FIELD_LIMIT cuts a
# runaway LLM field (real abstracts are at most ~1,920 characters, so they are never cut).
CONTENT_BUDGET = 1_500_000
FIELD_LIMIT = 4_000

@dataclass(frozen=True, slots=True)
class FeedItem:
    """One paper in the window: its newest data, dated by the first digest it appeared in."""

    paper: Paper
    published: dt.date


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed file to write: its name, title, the papers it carries (newest first)."""

    filename: str  # "cs.CV.atom.xml" or "all.atom.xml"
    title: str
    category: str | None  # None for the all-papers feed
    updated: dt.date
    items: tuple[FeedItem, ...]  # capped at max_entries
    total: int  # papers of this feed in the window before the cap


@dataclass(frozen=True, slots=True)
class FeedSet:
    """Every feed of one window, the all-papers feed first, then categories by code."""

    feeds: tuple[Feed, ...]
    skipped_categories: tuple[str, ...]  # codes that are not safe file names (no own feed)

    @property
    def category_feeds(self) -> tuple[Feed, ...]:
        return tuple(f for f in self.feeds if f.category is not None)


def collect_items(digests: Iterable[Digest]) -> list[FeedItem]:
    """Each paper of the window once, newest first.

    A paper in several digests is one item: `published` is the earliest digest date, its data
    the newest digest's (a later digest may carry a better summary). Order: published descending,
    then the position in that first digest (section order, file order). Undated digests are
    ignored (the pipeline rejects them before this point).
    """
    dated = sorted((d for d in digests if d.date is not None), key=lambda d: (d.date, d.name))
    first: dict[str, tuple[dt.date, int, int]] = {}
    newest: dict[str, Paper] = {}
    for rank, digest in enumerate(dated):
        assert digest.date is not None
        for pos, paper in enumerate(_section_order(digest)):
            first.setdefault(paper.id, (digest.date, rank, pos))
            newest[paper.id] = paper
    order = sorted(first, key=lambda pid: (-first[pid][0].toordinal(), -first[pid][1],
                                           first[pid][2]))
    return [FeedItem(paper=newest[pid], published=first[pid][0]) for pid in order]


def _section_order(digest: Digest) -> list[Paper]:
    return [paper for papers in digest.by_category().values() for paper in papers]


def build_feeds(
    digests: Sequence[Digest], *, site_title: str, max_entries: int
) -> FeedSet:
    """The all-papers feed and one feed per category for the papers of `digests`."""
    items = collect_items(digests)
    dates = [d.date for d in digests if d.date is not None]
    newest_date = max(dates) if dates else dt.date(1970, 1, 1)
    by_cat: dict[str, list[FeedItem]] = {}
    for item in items:
        by_cat.setdefault(item.paper.category, []).append(item)
    feeds = [_make_feed(ALL_FEED, f"{site_title} · all papers", None, items, max_entries,
                        fallback=newest_date)]
    skipped: list[str] = []
    for code in sorted(by_cat):
        stem = safe_category_filename(code)
        if stem is None:
            skipped.append(code)
            continue
        label = category_label(code)
        title = f"{site_title} · {code}" + (f" ({label})" if label != code else "")
        feeds.append(_make_feed(stem + FEED_SUFFIX, title, code, by_cat[code], max_entries,
                                fallback=newest_date))
    return FeedSet(feeds=tuple(feeds), skipped_categories=tuple(skipped))


def _make_feed(
    filename: str, title: str, category: str | None, items: list[FeedItem], cap: int,
    *, fallback: dt.date,
) -> Feed:
    kept = tuple(items[:cap])
    updated = max((i.published for i in kept), default=fallback)
    return Feed(filename=filename, title=title, category=category, updated=updated,
                items=kept, total=len(items))


def render_feed(
    feed: Feed, *, site: SiteSettings, content_budget: int = CONTENT_BUDGET
) -> bytes:
    """The Atom document of `feed`: pure, deterministic, byte-identical for the same inputs."""
    from feedgen.feed import FeedGenerator  # imported here: only generate needs it

    self_url = site.base_url + feed.filename
    fg = FeedGenerator()
    fg.id(self_url)
    fg.title(xml_safe(feed.title))
    fg.updated(_timestamp(feed.updated))
    fg.author({"name": xml_safe(site.title)})
    fg.link(href=self_url, rel="self", type="application/atom+xml")
    fg.link(href=site.base_url, rel="alternate", type="text/html")
    fg.language(xml_safe(site.language))
    fg.generator(GENERATOR)
    if feed.category is not None:
        fg.category(_category(feed.category))
    spent = 0
    for item in feed.items:
        full = spent < content_budget
        content = _content_html(item.paper, full=full)
        if full:
            spent += len(content.encode("utf-8", "replace"))
        _add_entry(fg, item, content)
    data: bytes = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return data


def _add_entry(fg: Any, item: FeedItem, content: str) -> None:
    paper = item.paper
    when = _timestamp(item.published)
    entry = fg.add_entry(order="append")
    entry.id(xml_safe(abs_url(paper.id)))  # from the id, never the (versioned) link
    entry.title(xml_safe(paper.title) or paper.id)
    entry.published(when)
    entry.updated(when)  # a reappearance is not a change: readers must not show it again
    for name in map(xml_safe, paper.authors):
        if name.strip():
            entry.author({"name": name})
    entry.summary(xml_safe(paper.summary) or xml_safe(paper.title))
    entry.content(content, type="html")
    for code in _categories(paper):
        entry.category(_category(code))
    # feedgen 1.0.0 drops rel/type on entry links (upstream issue #135): write them ourselves.
    entry.register_extension("newsletter_links", _EntryLinks, atom=True, rss=False)
    entry.newsletter_links.links = _links(paper)


def _links(paper: Paper) -> list[dict[str, str]]:
    links = [{"href": xml_safe(paper.url), "rel": "alternate", "type": "text/html"}]
    if paper.pdf_url:
        links.append({"href": xml_safe(paper.pdf_url), "rel": "related",
                      "type": "application/pdf", "title": "PDF"})
    return links


class _EntryLinks:
    """A feedgen entry extension that writes <link> elements with their rel and type."""

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_rss(self, entry: Any) -> Any:
        return entry

    def extend_atom(self, entry: Any) -> Any:
        from lxml import etree

        for attrs in self.links:
            etree.SubElement(entry, "link", attrs)
        return entry


def _categories(paper: Paper) -> list[str]:
    codes = [paper.category, *paper.categories]
    seen: dict[str, None] = {}
    for code in codes:
        code = xml_safe(code).strip()
        if code:
            seen.setdefault(code, None)
    return list(seen)


def _category(code: str) -> dict[str, str]:
    code = xml_safe(code)
    return {"term": code, "scheme": CATEGORY_SCHEME, "label": category_label(code)}


def _timestamp(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _content_html(paper: Paper, *, full: bool) -> str:
    """The entry's HTML: labelled fields, authors, categories, links. Every value escaped."""
    parts: list[str] = []
    if full:
        for name in AI_FIELDS:
            _labelled(parts, FIELD_LABELS[name], paper.field(name))
        paras = [p for p in _cut(paper.abstract).split("\n\n") if p.strip()]
        if paras:
            parts.append(f"<p><strong>{FIELD_LABELS['abstract']}:</strong> {_esc(paras[0])}</p>")
            parts.extend(f"<p>{_esc(p)}</p>" for p in paras[1:])
    else:
        _labelled(parts, "TL;DR" if paper.tldr else "Summary", paper.summary)
    if paper.authors:
        _labelled(parts, "Authors", ", ".join(paper.authors))
    cats = ", ".join(
        code if category_label(code) == code else f"{code} ({category_label(code)})"
        for code in _categories(paper)
    )
    _labelled(parts, "Categories", cats)
    links = [f'<a href="{_esc(paper.url)}">arXiv</a>']
    if paper.pdf_url:
        links.append(f'<a href="{_esc(paper.pdf_url)}">PDF</a>')
    parts.append("<p>" + " · ".join(links) + "</p>")
    return xml_safe("\n".join(parts))


def _labelled(parts: list[str], label: str, value: str) -> None:
    value = _cut(value).strip()
    if value:
        parts.append(f"<p><strong>{label}:</strong> {_esc(value)}</p>")


def _cut(text: str) -> str:
    if len(text) <= FIELD_LIMIT:
        return text
    return text[:FIELD_LIMIT].rsplit(" ", 1)[0] + "…"


def _esc(text: str) -> str:
    return html.escape(xml_safe(text), quote=True)
