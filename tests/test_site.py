"""OPML and index.html from hand-made digests."""

from __future__ import annotations

from html.parser import HTMLParser

from feed_helpers import make_digest, make_paper
from lxml import etree

from newsletter.config import SiteSettings
from newsletter.feeds import build_feeds
from newsletter.site import render_index, render_opml
from newsletter.templating import make_environment

SITE = SiteSettings(title="Lab <digest> & co", base_url="https://feeds.example.org/x/",
                    language="zh-CN")
DIGESTS = [
    make_digest("2025-06-03", [make_paper("2506.00001", title="A<B & C <script>x</script>")]),
    make_digest("2025-06-04", [make_paper("2506.00002", category="q-bio.NC"),
                               make_paper("2506.00003", title="bad \x08 \ud800 chars")],
                name="2025-06-04_topic one"),
]


def _feed_set():  # type: ignore[no-untyped-def]
    return build_feeds(DIGESTS, site_title=SITE.title, max_entries=500)


def test_opml_lists_every_feed_with_absolute_urls() -> None:
    data = render_opml(_feed_set(), site=SITE, updated=DIGESTS[-1].date)  # type: ignore[arg-type]
    root = etree.fromstring(data)
    assert root.get("version") == "2.0"
    assert root.findtext("head/title") == "Lab <digest> & co"
    outlines = root.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [
        "https://feeds.example.org/x/all.atom.xml",
        "https://feeds.example.org/x/cs.CV.atom.xml",
        "https://feeds.example.org/x/q-bio.NC.atom.xml",
    ]
    assert all(o.get("type") == "rss" and o.get("text") and o.get("htmlUrl") for o in outlines)
    assert outlines[2].get("htmlUrl") == "https://feeds.example.org/x/#q-bio.NC"


class _Checker(HTMLParser):
    """Collects tags and checks that non-void elements are closed in order."""

    VOID = frozenset({"meta", "link", "br", "img", "hr", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.links: list[dict[str, str | None]] = []
        self.hrefs: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "link":
            self.links.append(dict(attrs))
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")


def test_index_is_escaped_balanced_html5_with_autodiscovery() -> None:
    data = render_index(_feed_set(), DIGESTS, site=SITE, env=make_environment())
    text = data.decode("utf-8")
    assert text.startswith("<!DOCTYPE html>\n<html lang=\"zh-CN\">")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "<title>Lab &lt;digest&gt; &amp; co</title>" in text
    assert "<script>" not in text
    assert "A&lt;B &amp; C &lt;script&gt;" in text
    assert "\x08" not in text
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    feeds = [ln for ln in checker.links if ln.get("rel") == "alternate"]
    assert [ln["href"] for ln in feeds] == ["all.atom.xml", "cs.CV.atom.xml", "q-bio.NC.atom.xml"]
    assert all(ln["type"] == "application/atom+xml" and ln["title"] for ln in feeds)
    for href in ("days/2025-06-03.html", "email/2025-06-03.html",
                 "days/2025-06-04_topic%20one.html", "email/2025-06-04_topic%20one.html",
                 "feeds.opml", "q-bio.NC.atom.xml", "https://arxiv.org/abs/2506.00002"):
        assert href in checker.hrefs
    assert "Neurons and Cognition" in text
    assert "1 paper ·" in text  # per-category counts


def test_index_shows_only_the_newest_papers_per_category() -> None:
    papers = [make_paper(f"2506.{i:05d}") for i in range(12)]
    digests = [make_digest("2025-06-04", papers)]
    feed_set = build_feeds(digests, site_title="T", max_entries=500)
    text = render_index(feed_set, digests, site=SITE, env=make_environment(), newest=3).decode()
    assert text.count('<li><a href="https://arxiv.org/abs/') == 3
    assert "12 papers, newest 3 shown" in text
