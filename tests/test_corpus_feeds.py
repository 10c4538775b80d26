"""generate over real ../shared/corpus digests: valid feeds, every paper in its feeds, one id."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest
from conftest import CORPUS, corpus_files
from lxml import etree

from newsletter.categories import safe_category_filename
from newsletter.config import FeedsSettings, Settings
from newsletter.pipeline import generate

GROUPS = ["upstream-dw-dengwei", "xmkxabc-rich", "bguanmath-math-nt", "yukari502-q-bio",
          "straw674-astro-ph", "valoray-emoji", "junle-chen-topics", "zzhaozeng-failed"]


def _group_files(group: str) -> list[Path]:
    return [p for p in corpus_files(".md") if p.parent.name == group]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")
@pytest.mark.parametrize("group", GROUPS)
def test_corpus_window_feeds(group: str, tmp_path: Path) -> None:
    files = _group_files(group)
    if not files:
        pytest.skip(f"no markdown digests for {group}")
    out = tmp_path / "out"
    settings = Settings(feeds=FeedsSettings(days=len(files), max_entries=1_000_000))
    report = generate(settings, digests=files, out=out)
    assert report.digests, [b.describe() for b in report.bad]
    ids_by_feed: dict[str, set[str]] = {}
    for feed_file in sorted(out.glob("*.atom.xml")):
        data = feed_file.read_bytes()
        etree.fromstring(data)  # well-formed for lxml too
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, (feed_file.name, parsed.get("bozo_exception"))
        ids = [e.id for e in parsed.entries]
        assert len(ids) == len(set(ids)), f"duplicate entry in {feed_file.name}"
        ids_by_feed[feed_file.name] = set(ids)
    papers = {p.id: p for d in report.digests for p in d.papers}
    expected = {f"https://arxiv.org/abs/{pid}" for pid in papers}
    assert ids_by_feed.pop("all.atom.xml") == expected
    for pid, paper in papers.items():
        stem = safe_category_filename(paper.category)
        if stem is not None:
            assert f"https://arxiv.org/abs/{pid}" in ids_by_feed[f"{stem}.atom.xml"], pid
    in_categories = set().union(*ids_by_feed.values()) if ids_by_feed else set()
    assert in_categories <= expected
