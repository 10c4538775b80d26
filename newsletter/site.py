"""The feed list for humans and feed readers: feeds.opml and index.html."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

import jinja2

from newsletter.categories import category_label
from newsletter.cleaning import xml_safe
from newsletter.config import SiteSettings
from newsletter.feeds import Feed, FeedSet
from newsletter.models import Digest
from newsletter.templating import render_template

INDEX_TEMPLATE = "index.html.j2"
OPML_NAME = "feeds.opml"
INDEX_NAME = "index.html"
NEWEST_PER_CATEGORY = 5


def day_page(name: str) -> str:
    """Relative URL of a digest's web page, as the email stage writes it."""
    return f"days/{quote(name)}.html"


def email_page(name: str) -> str:
    """Relative URL of a digest's archived email."""
    return f"email/{quote(name)}.html"


def render_opml(feed_set: FeedSet, *, site: SiteSettings, updated: dt.date) -> bytes:
    """An OPML 2.0 list with one outline per feed, importable by a feed reader."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = xml_safe(site.title)
    ET.SubElement(head, "dateModified").text = _rfc822(updated)
    body = ET.SubElement(root, "body")
    for feed in feed_set.feeds:
        ET.SubElement(body, "outline", {
            "type": "rss",
            "text": xml_safe(feed.title),
            "title": xml_safe(feed.title),
            "xmlUrl": site.base_url + quote(feed.filename),
            "htmlUrl": site.base_url + (f"#{quote(feed.category)}" if feed.category else ""),
        })
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def render_index(
    feed_set: FeedSet,
    digests: Sequence[Digest],
    *,
    site: SiteSettings,
    env: jinja2.Environment,
    newest: int = NEWEST_PER_CATEGORY,
) -> bytes:
    """index.html: categories with counts and feed links, autodiscovery, newest papers, days."""
    feeds = [_feed_view(f, newest=newest) for f in feed_set.feeds]
    ordered = sorted((d for d in digests if d.date), key=lambda d: (d.date, d.name), reverse=True)
    days = [
        {"name": d.name, "date": d.date.isoformat() if d.date else "", "papers": len(d.papers),
         "page": day_page(d.name), "email": email_page(d.name)}
        for d in ordered
    ]
    all_feed = feeds[0]
    text = render_template(
        env,
        INDEX_TEMPLATE,
        title=site.title,
        language=site.language,
        feeds=feeds,
        all_feed=all_feed,
        category_feeds=feeds[1:],
        days=days,
        paper_count=feed_set.feeds[0].total,
    )
    return xml_safe(text).encode("utf-8")


def _feed_view(feed: Feed, *, newest: int) -> dict[str, Any]:
    code = feed.category or ""
    return {
        "title": feed.title,
        "href": quote(feed.filename),
        "code": code,
        "label": category_label(code) if code else "",
        "total": feed.total,
        "newest": [
            {"title": i.paper.title, "url": i.paper.url, "summary": i.paper.summary,
             "date": i.published.isoformat()}
            for i in feed.items[:newest]
        ],
    }


def _rfc822(day: dt.date) -> str:
    from email.utils import format_datetime

    return format_datetime(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))
