"""Property test: any text gives a Digest or a DigestError, and every output string is XML-safe."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.errors import DigestError
from newsletter.models import Digest
from newsletter.parse import parse_digest

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff\r]")

# Fragments of real layouts, so generated text often reaches deep parser states.
_FRAGMENTS = [
    "<div id=toc></div>\n\n# Table of Contents\n\n",
    "- [cs.CV](#cs.CV) [Total: 1]\n",
    "# cs.CV [[Back]](#toc)\n",
    "## cs.CR \n",
    "## 人工智能 (AI) [cs.AI]\n",
    "### [1] [T [O III] ](x)](https://arxiv.org/abs/2506.01234)\n",
    "### [2] [Other](http://arxiv.org/pdf/2506.01234v2)\n",
    "### [3] [Bad](https://example.com)\n",
    "### [X](2506.05566)\n",
    "*A,B*\n",
    "*['A', 'B']* | **Category: cs.CR, 68T27**\n",
    "> *翻译*\n",
    "Main category: cs.CV\n",
    "TL;DR: ",
    "TLDR: ",
    "Task: ",
    "**TL;DR**: ",
    "> **TL;DR:** ",
    "#### 🧩 TL;DR\n",
    "#### 📄 Abstract\n",
    "Motivation: ",
    "Abstract: ",
    "**Keywords:** {keywords}\n",
    "<details>\n",
    "  <summary>Abstract</summary>\n",
    "</details>\n",
    "[**[PDF]**](https://arxiv.org/pdf/2506.01234) | **Categories:** cs.AI, I.2\n",
    "---\n",
    "Summary generation failed\n",
    "Error\n",
    '{"id": "2506.01234", "title": "T", "AI": {"tldr": "x\\b"}}\n',
    "{\n",
    "\n",
    "\x08\x0c\r\t\ud800\ufffe",
]

_text = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=20)), max_size=40
    ).map("".join),
)


def _strings(digest: Digest) -> list[str]:
    out = [digest.source, digest.name, digest.layout, *digest.categories]
    out += [p.message for p in digest.problems]
    for paper in digest.papers:
        out += [paper.id, paper.title, paper.url, paper.pdf_url, paper.category, paper.abstract]
        out += [paper.field(name) for name in ("tldr", "motivation", "method", "result")]
        out += [paper.conclusion, *paper.authors, *paper.categories]
        out += [part for pair in paper.extra for part in pair]
    return out


@settings(max_examples=200, deadline=None)
@given(_text)
def test_any_text_gives_a_digest_or_a_digest_error(text: str) -> None:
    try:
        digest = parse_digest(text, source="fuzz/2025-06-04.md")
    except DigestError as exc:
        assert exc.source == "fuzz/2025-06-04.md"
        return
    for value in _strings(digest):
        assert not _XML_ILLEGAL.search(value), repr(value)
    for paper in digest.papers:
        assert "\n" not in paper.title and all("\n" not in a for a in paper.authors)
        assert paper.url == f"https://arxiv.org/abs/{paper.id}"
    assert len({p.id for p in digest.papers}) == len(digest.papers)
