"""Corpus test: every real digest in ../shared/corpus parses to exactly the papers it lists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import corpus_params

from newsletter.errors import DigestError
from newsletter.parse import read_digest

# Independent of the parser: an arXiv id anywhere in an entry heading line.
_HEADING_ID = re.compile(r"(\d{4}\.\d{4,5})(?:v\d+)?\)?\s*$")
_FOREIGN = {"straw674-astro-ph/2026-05-08.md"}
# Page markup that must never end up inside a paper's text: section anchors and headings.
_PAGE_MARKUP = re.compile(r"<div id=|^#{1,2} .*\[\[Back\]\]\(#toc\)", re.MULTILINE)
# Failure texts as listed in FORMAT.md §2.2 (written out again here, not imported).
_FAILURES = re.compile(
    r"^(Error|None|N/A|Summary generation failed|Processing failed|Request timed out\.|"
    r"Not mentioned in abstract|Error code: .*|Error: .*|达到API配额限制.*|错误：AI分析失败。|"
    r"\{\w+\}|A one-sentence summary of the paper\.?|"
    r"This content has not passed the compliance test and has been hidden\.)$"
)


def expected_ids(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return {json.loads(line)["id"] for line in text.split("\n") if line.strip()}
    ids = set()
    for line in text.split("\n"):
        if line.startswith("### ["):
            match = _HEADING_ID.search(line)
            assert match, f"independent count cannot read {line!r}"
            ids.add(match[1])
    return ids


@pytest.mark.parametrize("path", corpus_params(".md", ".jsonl"))
def test_corpus_file(path: Path) -> None:
    if path.name == "SOURCES.md":
        pytest.skip("the corpus index, not a digest")
    relative = f"{path.parent.name}/{path.name}"
    if relative in _FOREIGN:
        with pytest.raises(DigestError, match="not a daily-arXiv digest"):
            read_digest(path)
        return
    digest = read_digest(path)
    ids = expected_ids(path)
    assert {p.id for p in digest.papers} == ids
    assert len(digest.papers) == len(ids)
    if not ids:
        assert digest.layout == "empty"
        assert path.stat().st_size < 100  # only the stubs and the 41-byte empty day
    assert digest.date is not None
    for paper in digest.papers:
        assert paper.title.strip(), paper.id
        assert paper.authors, paper.id
        assert not _FAILURES.match(paper.tldr), (paper.id, paper.tldr)
        assert paper.category
        texts = [paper.title, paper.tldr, paper.motivation, paper.method, paper.result]
        texts += [paper.conclusion, paper.abstract, *(value for _, value in paper.extra)]
        leaks = [text for text in texts if _PAGE_MARKUP.search(text)]
        assert not leaks, (paper.id, leaks)
    if any(p.tldr or p.abstract for p in digest.papers):
        assert digest.layout != "empty"
