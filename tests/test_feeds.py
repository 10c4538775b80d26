"""Atom feeds from hand-made digests: validity, window, cap, size, escaping, link workaround."""

from __future__ import annotations

import datetime as dt

import feedparser
import pytest
from feed_helpers import make_digest, make_paper
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from newsletter.categories import category_label, safe_category_filename
from newsletter.cleaning import xml_safe
from newsletter.config import SiteSettings
from newsletter.feeds import (
    ALL_FEED,
    CATEGORY_SCHEME,
    build_feeds,
    collect_items,
    render_feed,
)

ATOM = "{http://www.w3.org/2005/Atom}"
SITE = SiteSettings(title="Test digest", base_url="https://feeds.example.org/arxiv/", language="de")


def _render(digests, *, max_entries=500, **kw):  # type: ignore[no-untyped-def]
    feed_set = build_feeds(digests, site_title=SITE.title, max_entries=max_entries)
    return {f.filename: render_feed(f, site=SITE, **kw) for f in feed_set.feeds}


def _parse(data: bytes):  # type: ignore[no-untyped-def]
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def test_feed_has_every_required_element() -> None:
    files = _render([make_digest("2025-06-04", [make_paper("2506.00001")])])
    assert set(files) == {ALL_FEED, "cs.CV.atom.xml"}
    root = etree.fromstring(files["cs.CV.atom.xml"])
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "de"
    assert root.findtext(f"{ATOM}id") == "https://feeds.example.org/arxiv/cs.CV.atom.xml"
    assert root.findtext(f"{ATOM}updated") == "2025-06-04T00:00:00+00:00"
    assert root.findtext(f"{ATOM}author/{ATOM}name") == "Test digest"
    assert root.findtext(f"{ATOM}generator") == "newsletter"
    self_link = root.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None
    assert self_link.get("href") == "https://feeds.example.org/arxiv/cs.CV.atom.xml"
    (entry,) = root.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}id") == "https://arxiv.org/abs/2506.00001"
    assert entry.findtext(f"{ATOM}title") == "Paper 2506.00001"
    assert entry.findtext(f"{ATOM}published") == "2025-06-04T00:00:00+00:00"
    assert [a.text for a in entry.findall(f"{ATOM}author/{ATOM}name")] == [
        "Ada Lovelace", "Alan Turing"]
    assert entry.findtext(f"{ATOM}summary") == "TL;DR of 2506.00001."
    cat = entry.find(f"{ATOM}category")
    assert cat is not None
    assert cat.attrib == {"term": "cs.CV", "scheme": CATEGORY_SCHEME,
                          "label": "Computer Vision and Pattern Recognition"}
    parsed = _parse(files["cs.CV.atom.xml"])
    assert parsed.version == "atom10"
    assert parsed.entries[0].link == "https://arxiv.org/abs/2506.00001"


def test_pdf_link_keeps_rel_and_type_despite_feedgen_bug() -> None:
    data = _render([make_digest("2025-06-04", [make_paper("2506.00001")])])[ALL_FEED]
    root = etree.fromstring(data)
    links = root.findall(f"{ATOM}entry/{ATOM}link")
    assert [(ln.get("rel"), ln.get("type"), ln.get("href")) for ln in links] == [
        ("alternate", "text/html", "https://arxiv.org/abs/2506.00001"),
        ("related", "application/pdf", "https://arxiv.org/pdf/2506.00001"),
    ]
    entry = _parse(data).entries[0]
    assert [ln["rel"] for ln in entry.links] == ["alternate", "related"]


def test_content_is_labelled_html_with_authors_and_categories() -> None:
    paper = make_paper("2506.00001", motivation="Why.", method="How.", result="What.",
                       conclusion="So.", categories=("cs.CV", "cs.LG"))
    entry = _parse(_render([make_digest("2025-06-04", [paper])])[ALL_FEED]).entries[0]
    (content,) = entry.content
    assert content.type == "text/html"
    for label in ("TL;DR:", "Motivation:", "Method:", "Result:", "Conclusion:", "Abstract:",
                  "Authors:", "Categories:"):
        assert f"<strong>{label}</strong>" in content.value
    assert "cs.LG (Machine Learning)" in content.value


def test_missing_tldr_falls_back_to_abstract_first_sentence() -> None:
    paper = make_paper("2506.00001", tldr="", abstract="The first sentence is here. Second one.")
    entry = _parse(_render([make_digest("2025-06-04", [paper])])[ALL_FEED]).entries[0]
    assert entry.summary == "The first sentence is here."
    assert "TL;DR" not in entry.content[0].value


@pytest.mark.parametrize("title", ["A<B & C", "<script>alert(1)</script>", "x ]]> y",
                                   "bell\x07 back\x08 ff\x0c", "lone \ud800 surrogate \udfff"])
def test_hostile_text_is_escaped_or_removed(title: str) -> None:
    paper = make_paper("2506.00001", title=title, tldr=title, authors=(title, "B"),
                       abstract=title + " rest.", motivation=title)
    data = _render([make_digest("2025-06-04", [paper])])[ALL_FEED]
    root = etree.fromstring(data)  # well-formed
    entry = root.find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}title") == xml_safe(title)
    assert b"<script>" not in data
    parsed = _parse(data)
    assert parsed.entries[0].title == xml_safe(title).strip()
    assert "<script>" not in parsed.entries[0].content[0].value


def test_xml_safe_strips_only_illegal_characters() -> None:
    assert xml_safe("a\x00b\x08c\x0bd\x0ce\x1ff\ud800g\ufffeh") == "abcdefgh"
    assert xml_safe("tab\tnl\ncr\r 中文 é 😀") == "tab\tnl\ncr\r 中文 é 😀"


def test_output_is_byte_identical_across_runs() -> None:
    digests = [make_digest("2025-06-03", [make_paper("2506.00001")]),
               make_digest("2025-06-04", [make_paper("2506.00002", category="cs.LG")])]
    assert _render(digests) == _render(list(reversed(digests)))


def test_reappearing_paper_is_one_entry_with_first_date_and_newest_data() -> None:
    old = make_digest("2025-06-02", [make_paper("2506.00001", tldr="old")])
    mid = make_digest("2025-06-03", [make_paper("2506.00002")])
    new = make_digest("2025-06-04", [make_paper("2506.00001", tldr="new"),
                                     make_paper("2506.00003")])
    items = collect_items([new, old, mid])
    assert [i.paper.id for i in items] == ["2506.00003", "2506.00002", "2506.00001"]
    again = items[-1]
    assert again.published == dt.date(2025, 6, 2)
    assert again.paper.tldr == "new"
    entries = _parse(_render([old, mid, new])[ALL_FEED]).entries
    assert [e.id for e in entries].count("https://arxiv.org/abs/2506.00001") == 1
    assert entries[-1].published == entries[-1].updated == "2025-06-02T00:00:00+00:00"


def test_same_day_keeps_section_and_file_order() -> None:
    papers = [make_paper("2506.00003", category="cs.LG"), make_paper("2506.00001"),
              make_paper("2506.00002", category="cs.LG")]
    items = collect_items([make_digest("2025-06-04", papers)])
    assert [i.paper.id for i in items] == ["2506.00003", "2506.00002", "2506.00001"]


def test_cap_keeps_the_newest_entries() -> None:
    digests = [make_digest(f"2025-06-0{d}", [make_paper(f"2506.0{d}00{i}") for i in range(3)])
               for d in range(1, 5)]
    feed_set = build_feeds(digests, site_title="T", max_entries=5)
    for feed in feed_set.feeds:
        assert len(feed.items) == 5
        assert feed.total == 12
        assert feed.items[0].published == dt.date(2025, 6, 4)
    entries = _parse(render_feed(feed_set.feeds[0], site=SITE)).entries
    assert [e.id[-7:] for e in entries] == ["6.04000", "6.04001", "6.04002", "6.03000", "6.03001"]


def test_content_budget_shortens_older_entries_only() -> None:
    papers = [make_paper(f"2506.{i:05d}", abstract="word " * 300, method="m " * 100)
              for i in range(20)]
    feed = build_feeds([make_digest("2025-06-04", papers)], site_title="T",
                       max_entries=500).feeds[0]
    full = render_feed(feed, site=SITE)
    small = render_feed(feed, site=SITE, content_budget=5_000)
    assert len(small) < len(full) / 2
    entries = _parse(small).entries
    assert "Abstract:" in entries[0].content[0].value
    assert "Abstract:" not in entries[-1].content[0].value
    assert "TL;DR:" in entries[-1].content[0].value  # still readable, never empty
    assert all(e.summary for e in entries)


def test_runaway_field_is_cut() -> None:
    paper = make_paper("2506.00001", method="blah " * 10_000)
    data = _render([make_digest("2025-06-04", [paper])])[ALL_FEED]
    assert len(data) < 20_000


def test_unsafe_category_gets_no_file_but_stays_in_all_feed() -> None:
    papers = [make_paper("2506.00001", category="../evil"), make_paper("2506.00002")]
    feed_set = build_feeds([make_digest("2025-06-04", papers)], site_title="T", max_entries=9)
    assert [f.filename for f in feed_set.feeds] == [ALL_FEED, "cs.CV.atom.xml"]
    assert feed_set.skipped_categories == ("../evil",)
    assert feed_set.feeds[0].total == 2


def test_empty_window_gives_a_valid_all_feed() -> None:
    files = _render([make_digest("2025-06-04", [])])
    assert list(files) == [ALL_FEED]
    parsed = _parse(files[ALL_FEED])
    assert parsed.entries == []
    assert parsed.feed.updated == "2025-06-04T00:00:00+00:00"


@pytest.mark.parametrize("code", ["cs.CV", "q-bio.NC", "cond-mat.str-el", "hep-th", "math-ph",
                                  "Uncategorized", "astro-ph.CO"])
def test_real_codes_are_their_own_file_names(code: str) -> None:
    assert safe_category_filename(code) == code


@pytest.mark.parametrize("code", ["../x", "a/b", "a\\b", "..", ".hidden", "-rf", "", "a..b",
                                  "cs CV", "cs.CV\n", "数学", "x" * 101, "a\x00b", "%2e%2e"])
def test_unsafe_codes_are_rejected(code: str) -> None:
    assert safe_category_filename(code) is None


def test_category_labels() -> None:
    assert category_label("cs.CV") == "Computer Vision and Pattern Recognition"
    assert category_label("q-bio.NC") == "Neurons and Cognition"
    assert category_label("gr-qc") == "General Relativity and Quantum Cosmology"
    assert category_label("xx.YY") == "xx.YY"


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=80))
@example(text=" ")  # a whitespace-only abstract once crashed the content builder
def test_any_text_gives_a_valid_feed(text: str) -> None:
    paper = make_paper("2506.00001", title=text, tldr=text, authors=(text,), abstract=text,
                       conclusion=text)
    data = _render([make_digest("2025-06-04", [paper])])[ALL_FEED]
    root = etree.fromstring(data)
    entry = root.find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}title") == (xml_safe(text) or "2506.00001")
    assert feedparser.parse(data).bozo == 0
