"""Unit tests for the digest parser: every layout and every quirk, on small inline digests."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from newsletter.cleaning import is_failure_text
from newsletter.errors import DigestError
from newsletter.parse import parse_digest, read_digest

TOC = "<div id=toc></div>\n\n# Table of Contents\n\n"


def v3_paper(
    idx: int,
    title: str,
    url: str,
    *,
    authors: str = "Ada Lovelace,Alan Turing",
    cat: str = "cs.CV",
    tldr: str = "一句话总结。",
    motivation: str = "Why.",
    method: str = "How.",
    result: str = "What.",
    conclusion: str = "So.",
    abstract: str = "We study things. It works.",
    label: str = "TL;DR",
) -> str:
    return (
        f"### [{idx}] [{title}]({url})\n*{authors}*\n\nMain category: {cat}\n\n"
        f"{label}: {tldr}\n\n\n<details>\n  <summary>Details</summary>\n"
        f"Motivation: {motivation}\n\nMethod: {method}\n\nResult: {result}\n\n"
        f"Conclusion: {conclusion}\n\nAbstract: {abstract}\n\n</details>\n"
    )


def v3(sections: dict[str, list[str]]) -> str:
    out = TOC + "".join(f"- [{c}](#{c}) [Total: {len(p)}]\n" for c, p in sections.items())
    for cat, papers in sections.items():
        out += f"\n\n<div id='{cat}'></div>\n\n# {cat} [[Back]](#toc)\n\n" + "\n\n".join(papers)
    return out


def parse(text: str, name: str = "2025-06-04.md") -> object:
    return parse_digest(text, source=f"inbox/{name}")


# --- the bundled example -------------------------------------------------------------------------


def test_example_digest(examples_dir: Path) -> None:
    digest = read_digest(examples_dir / "2025-06-04.md")
    assert digest.layout == "v3"
    assert digest.date == dt.date(2025, 6, 4)
    assert digest.name == "2025-06-04"
    assert digest.categories == ("cs.CV", "cs.CL", "q-bio.NC", "math.NT")
    assert len(digest.papers) == 12  # 13 entries, one duplicate
    assert digest.failed_summaries == 5
    messages = [p.message for p in digest.problems]
    assert any("1 duplicate" in m for m in messages)
    assert any("5 AI summary fields" in m for m in messages)
    by_id = {p.id: p for p in digest.papers}
    assert by_id["2506.03287"].title.startswith("Detecting [O III] Emitters")
    assert by_id["2506.02655"].title == "Cyclic Codes over F_q[u](u^3-u) and Their Gray Images"
    assert "A<B & B<C" in by_id["2506.02940"].title
    assert "<script>" in by_id["2506.03015"].tldr  # kept as text; escaping is the output's job
    assert by_id["2506.03287"].authors[-2:] == ("Mei Tanaka*", "Rafael Ortega*")
    failed = by_id["2506.03777"]
    assert (failed.tldr, failed.motivation, failed.conclusion) == ("", "", "")
    assert failed.summary.startswith("We study the generation of furnished 3D indoor scenes")
    method = by_id["2506.02655"].method
    assert "\x08" not in method and "\tilde{C}" in method  # TAB is legal XML, backspace is not
    assert "\n" not in by_id["2506.03112"].abstract  # hard-wrapped lines joined
    assert by_id["2506.02788"].abstract.count("\n\n") == 1  # a real paragraph break kept


# --- V3 quirks ---------------------------------------------------------------------------------


def test_v3_fields_and_canonical_urls() -> None:
    text = v3({"cs.CV": [v3_paper(1, "A Title", "https://arxiv.org/abs/2506.01234")]})
    digest = parse(text)
    (paper,) = digest.papers
    assert (paper.id, paper.url, paper.pdf_url) == (
        "2506.01234",
        "https://arxiv.org/abs/2506.01234",
        "https://arxiv.org/pdf/2506.01234",
    )
    assert paper.authors == ("Ada Lovelace", "Alan Turing")
    assert paper.category == "cs.CV" and paper.categories == ("cs.CV",)
    assert (paper.tldr, paper.motivation, paper.method) == ("一句话总结。", "Why.", "How.")
    assert (paper.result, paper.conclusion) == ("What.", "So.")
    assert paper.abstract == "We study things. It works."
    assert paper.line == 12
    assert digest.problems == ()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://arxiv.org/pdf/2506.01234", "2506.01234"),
        ("http://arxiv.org/abs/2506.01234v3", "2506.01234"),
        ("http://arxiv.org/pdf/2506.01234v1", "2506.01234"),
        ("https://arxiv.org/abs/math/0601001v2", "math/0601001"),
        ("https://arxiv.org/abs/cond-mat/0604591", "cond-mat/0604591"),
        ("2506.05566", "2506.05566"),  # bare id as link target (one fork)
    ],
)
def test_id_from_every_url_form(url: str, expected: str) -> None:
    (paper,) = parse(v3({"cs.CV": [v3_paper(1, "T", url)]})).papers
    assert paper.id == expected
    assert paper.url == f"https://arxiv.org/abs/{expected}"


def test_broken_nested_link_of_the_rich_fork() -> None:
    heading_url = "[https://arxiv.org/abs/](https://arxiv.org/abs/)2506.05566"
    (paper,) = parse(v3({"cs.AR": [v3_paper(1, "ScaleRTL: Scaling LLMs", heading_url)]})).papers
    assert (paper.id, paper.title) == ("2506.05566", "ScaleRTL: Scaling LLMs")


@pytest.mark.parametrize(
    "title",
    [
        "Cyclic codes over the ring Z2[u,v](u2(1+u),v2(1+v2))",
        "FAUST XXV. A potential new molecular outflow in [BHB2007] 11",
        "Insights from [O III] Emitting Galaxies at 1.5 < z < 4.2",
        "<think> So let's replace this phrase </think> Lessons learned",
        "$\\mathbb{Z}[i]$-modules & *stars* and _under_ `code`",
    ],
)
def test_titles_survive_brackets_and_markdown(title: str) -> None:
    (paper,) = parse(v3({"cs.CV": [v3_paper(1, title, "https://arxiv.org/abs/2506.01234")]})).papers
    assert paper.title == title


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("A,B,C", ("A", "B", "C")),
        ("A, B, C", ("A", "B", "C")),
        ("*Chenglei Yu*,Chuanrui Wang*,Bangyan Liao,Tailin Wu*", None),
        ("John_Ross Rizzo,Théo Defosse", ("John_Ross Rizzo", "Théo Defosse")),
        ("Solo Author", ("Solo Author",)),
    ],
)
def test_authors(line: str, expected: tuple[str, ...] | None) -> None:
    (paper,) = parse(
        v3({"cs.CV": [v3_paper(1, "T", "https://arxiv.org/abs/2506.01234", authors=line)]})
    ).papers
    if expected is None:  # `*` marks inside the line: only the outer pair is markup
        expected = ("*Chenglei Yu*", "Chuanrui Wang*", "Bangyan Liao", "Tailin Wu*")
    assert paper.authors == expected


def test_duplicates_collapse_to_first_across_url_forms() -> None:
    papers = [
        v3_paper(1, "First", "https://arxiv.org/abs/2506.01234", tldr="first"),
        v3_paper(2, "Other", "https://arxiv.org/abs/2506.09999"),
        v3_paper(3, "First again", "http://arxiv.org/pdf/2506.01234v2", tldr="second"),
        v3_paper(4, "First thrice", "https://arxiv.org/abs/2506.01234"),
    ]
    digest = parse(v3({"cs.CV": papers}))
    assert [p.id for p in digest.papers] == ["2506.01234", "2506.09999"]
    assert digest.papers[0].tldr == "first"
    assert any("2 duplicate entries dropped" in p.message for p in digest.problems)


def test_counted_problems_are_singular_for_one() -> None:
    papers = [
        v3_paper(1, "First", "https://arxiv.org/abs/2506.01234", tldr="Error"),
        v3_paper(2, "First again", "https://arxiv.org/abs/2506.01234"),
    ]
    messages = [p.message for p in parse(v3({"cs.CV": papers})).problems]
    assert "1 duplicate entry dropped (first occurrence kept)" in messages
    assert "1 AI summary field was an LLM failure text and was left empty" in messages


def test_control_characters_are_removed_and_cr_becomes_space() -> None:
    method = "uses \tilde{x}, \bar{y}, \frac{1}{2} and \rightarrow here"
    title = "Bad\x01Title\x0b with\ufffe junk\ud800"
    paper = parse(
        v3({"math.NT": [v3_paper(1, title, "https://arxiv.org/abs/2506.01234", method=method)]})
    ).papers[0]
    assert paper.method == "uses \tilde{x}, ar{y}, rac{1}{2} and  ightarrow here"
    assert paper.title == "BadTitle with junk"


def test_hard_wrapped_abstract_joined_paragraphs_kept() -> None:
    abstract = "Line one of\nthe first paragraph.\n\nSecond paragraph\nwraps too."
    paper = parse(
        v3({"cs.CV": [v3_paper(1, "T", "https://arxiv.org/abs/2506.01234", abstract=abstract)]})
    ).papers[0]
    assert paper.abstract == "Line one of the first paragraph.\n\nSecond paragraph wraps too."


def test_abstract_lines_that_look_like_labels_stay_in_the_abstract() -> None:
    abstract = "Intro sentence\nResult: a line that starts like a label.\nMethod: another."
    paper = parse(
        v3({"cs.CV": [v3_paper(1, "T", "https://arxiv.org/abs/2506.01234", abstract=abstract)]})
    ).papers[0]
    assert paper.abstract.endswith("Method: another.")
    assert paper.result == "What."


def test_multiline_field_runs_to_next_label_not_blank_line_or_heading() -> None:
    method = "三步：\n1. 第一步\n\n### Motivation\n2. 第二步"
    paper = parse(
        v3({"math.NT": [v3_paper(1, "T", "https://arxiv.org/abs/2506.01234", method=method)]})
    ).papers[0]
    assert paper.method == method
    assert paper.result == "What."


def test_section_anchor_and_heading_end_the_last_entry_of_a_section() -> None:
    # V3 entry without its <details> block, last in its section: the TL;DR must not run on
    # into the next section's `<div id=...></div>` anchor or `# cs.XX [[Back]](#toc)` heading.
    bare = (
        "### [1] [Bare](https://arxiv.org/abs/2506.01234)\n*A. One*\n\nMain category: cs.CV\n\n"
        "TL;DR: one.\n\n"
    )
    other = v3_paper(2, "Other", "https://arxiv.org/abs/2506.09999", cat="cs.CL")
    digest = parse(v3({"cs.CV": [bare], "cs.CL": [other]}))
    first, second = digest.papers
    assert (first.tldr, first.category) == ("one.", "cs.CV")
    assert (second.tldr, second.category) == ("一句话总结。", "cs.CL")
    # The emoji layout never closes an entry: its abstract is the last field.
    emoji = EMOJI + (
        "\n\n<div id='cs.CL'></div>\n\n# cs.CL [[Back]](#toc)\n\n"
        "### [2] [Next](https://arxiv.org/abs/2511.11553)\n*B. Two*\n\n#### 🧩 TL;DR\n下一篇。\n"
    )
    first, second = parse(emoji).papers
    assert first.abstract == "Comprehending long documents."
    assert (second.category, second.tldr) == ("cs.CL", "下一篇。")
    # A section heading alone (no anchor line) ends the abstract too.
    first, _ = parse(emoji.replace("<div id='cs.CL'></div>", "")).papers
    assert first.abstract == "Comprehending long documents."


@pytest.mark.parametrize(
    "text",
    [
        "Error",
        "Summary generation failed",
        "Motivation analysis unavailable",
        "Method extraction failed",
        "Result analysis unavailable",
        "Conclusion extraction failed",
        "Processing failed",
        "None",
        "N/A",
        "Not mentioned in abstract",
        "Request timed out.",
        "Error code: 400 - {'error': {'message': 'Model Not Exist', 'type': 'invalid'}}",
        "达到API配额限制，请明天再试",
        "Error: API quota exceeded",
        "错误：AI分析失败。",
        "Error: Failed to generate summary.",
        "{tldr}",
        "A one-sentence summary of the paper.",
        "What problem is the paper trying to solve? What is the motivation for this work?",
        "This content has not passed the compliance test and has been hidden.",
    ],
)
def test_failure_texts_become_empty_and_are_counted(text: str) -> None:
    paper_text = v3_paper(1, "T", "https://arxiv.org/abs/2506.01234", tldr=text, result=text)
    digest = parse(v3({"cs.CV": [paper_text]}))
    assert (digest.papers[0].tldr, digest.papers[0].result) == ("", "")
    assert digest.failed_summaries == 2
    assert any("2 AI summary fields" in p.message for p in digest.problems)


def test_real_summaries_are_not_failure_texts() -> None:
    assert not is_failure_text("Errors in quantum codes are corrected by a new decoder.")
    assert not is_failure_text("本文提出了一种新的方法。")
    assert not is_failure_text("")


def test_empty_field_value() -> None:
    abstract = "We study a long list of interesting things. It works."
    paper = parse(
        v3({"cs.CV": [v3_paper(1, "T", "2506.01234", tldr="", abstract=abstract)]})
    ).papers[0]
    assert paper.tldr == "" and paper.summary == "We study a long list of interesting things."


def test_malformed_entries_are_problems_with_lines_and_the_rest_parses() -> None:
    good = v3_paper(3, "Good", "https://arxiv.org/abs/2506.01234")
    no_url = v3_paper(1, "No link", "https://example.com/paper")
    no_title = v3_paper(2, "", "https://arxiv.org/abs/2506.05555")
    digest = parse(v3({"cs.CV": [no_url, no_title, good]}))
    assert [p.id for p in digest.papers] == ["2506.01234"]
    problems = [p for p in digest.problems if p.line]
    assert len(problems) == 2
    assert problems[0].describe("x.md").startswith("x.md:12: entry without an arXiv URL")
    assert "has no title" in problems[1].message


def test_missing_authors_line_is_a_problem() -> None:
    text = TOC + "\n\n# cs.CV [[Back]](#toc)\n\n### [1] [T](https://arxiv.org/abs/2506.01234)\n\n"
    text += "TL;DR: x\n"
    digest = parse(text)
    assert digest.papers[0].authors == ()
    assert any("no authors" in p.message and p.line == 9 for p in digest.problems)


def test_uncategorized_section_with_main_category_na() -> None:
    text = v3({"Uncategorized": [v3_paper(1, "T", "2506.04249", cat="N/A")]})
    assert parse(text).papers[0].category == "Uncategorized"


# --- dates -------------------------------------------------------------------------------------


def test_date_from_name_then_header_then_problem() -> None:
    text = v3({"cs.CV": [v3_paper(1, "T", "https://arxiv.org/abs/2506.01234")]})
    assert parse(text, "2025-06-24_database.md").date == dt.date(2025, 6, 24)
    header = "# AI-Enhanced arXiv Daily 2025-06-26\n\n" + text
    assert parse(header, "digest.md").date == dt.date(2025, 6, 26)
    undated = parse(text, "digest.md")
    assert undated.date is None
    assert "no date" in undated.problems[0].message
    assert parse_digest(text, source="a/b.md", name="2025-01-02").name == "2025-01-02"


# --- older upstream layouts --------------------------------------------------------------------

V0 = (
    "### [Industrial-Grade Sensor Simulation](https://arxiv.org/abs/2503.11731)\n"
    "*Xianming Zeng,Sicong Du*\n<details>\n  <summary>Abstract</summary>\n"
    "Sensor simulation is pivotal\nfor validation.\nBackground: not a label here.\n</details>\n\n"
    "### [Safe Vision-Language Models](https://arxiv.org/abs/2503.11742)\n*Moreno D'Incà*\n"
    "<details>\n  <summary>Abstract</summary>\nSecond.\n</details>"
)

V1 = (
    "### [CAM-Seg](https://arxiv.org/abs/2503.15617)\n*Masud Ahmed,Zahid Hasan*\n\n"
    "Task: 提出一种框架。\n\nMotivation: 分析表明。\n\n<details>\n  <summary>Details</summary>\n"
    "Method: 方法。\n\nResult: 结果。\n\nConclusion: 结论。\n\n"
    "Abstract: Traditional\nsegmentation.\n\n"
    "</details>"
)


def test_v0_abstract_only() -> None:
    digest = parse(V0, "2025-03-18.md")
    assert digest.layout == "v0"
    assert [p.id for p in digest.papers] == ["2503.11731", "2503.11742"]
    first = digest.papers[0]
    expected = "Sensor simulation is pivotal for validation. Background: not a label here."
    assert first.abstract == expected
    assert first.category == "Uncategorized" and first.tldr == ""
    assert digest.papers[1].authors == ("Moreno D'Incà",)


def test_v1_task_layout() -> None:
    digest = parse(V1, "2025-03-21.md")
    assert digest.layout == "v1"
    (paper,) = digest.papers
    assert (paper.tldr, paper.motivation) == ("提出一种框架。", "分析表明。")
    assert paper.method == "方法。"
    assert paper.abstract == "Traditional segmentation."


def test_v2_tldr_layout() -> None:
    text = v3({"cs.CV": [v3_paper(1, "T", "https://arxiv.org/abs/2504.01234", label="TLDR")]})
    digest = parse(text.rstrip("\n"), "2025-04-15.md")
    assert digest.layout == "v2"
    assert digest.papers[0].tldr == "一句话总结。"


# --- fork layouts ------------------------------------------------------------------------------

ASTRO = (
    TOC + "- [astro-ph.GA](#astro-ph.GA) [Total: 1]\n\n\n<div id='astro-ph.GA'></div>\n\n"
    "# astro-ph.GA [[Back]](#toc)\n\n"
    "### [1] [Super-Eddington accretion in [CII] hosts](https://arxiv.org/abs/2505.05556)\n"
    "*Giada Quadri,Alessandro Trinca*\n\n**TL;DR**: 研究了超爱丁顿吸积。\n\n\n<details>\n"
    "  <summary>Details</summary>\n\nBackground: 背景。\n\nData: 数据。\n\nMethod: 方法。\n\n"
    "Result: Request timed out.\n\nAbstract: Quasars\nat high z.\n\n</details>\n"
)


def test_astro_fork() -> None:
    digest = parse(ASTRO)
    assert digest.layout == "astro"
    (paper,) = digest.papers
    assert paper.title == "Super-Eddington accretion in [CII] hosts"
    assert paper.tldr == "研究了超爱丁顿吸积。" and paper.method == "方法。"
    assert paper.result == "" and digest.failed_summaries == 1
    assert dict(paper.extra) == {"Background": "背景。", "Data": "数据。"}
    assert paper.abstract == "Quasars at high z."


def test_astro_transitional_plain_tldr() -> None:
    digest = parse(ASTRO.replace("**TL;DR**:", "TL;DR:"))
    assert digest.layout == "astro"
    assert digest.papers[0].tldr == "研究了超爱丁顿吸积。"


EMOJI = (
    TOC + "- [cs.CV](#cs.CV) [Total: 1]\n\n\n<div id='cs.CV'></div>\n\n# cs.CV [[Back]](#toc)\n\n"
    "### [1] [DocLens : A Tool-Augmented Framework](https://arxiv.org/abs/2511.11552)\n"
    "*Dawei Zhu, Rui Meng*\n\n#### 🧩 TL;DR\n本文提出DocLens。\n第二行。\n\n---\n\n"
    "#### 📘 Detailed Summary\n**Motivation:** 动机。\n\n**Method:** 方法。\n\n"
    "**Result:** 结果。\n\n"
    "**Conclusion:** 结论。\n\n---\n\n#### 📄 Abstract\nComprehending long\ndocuments.\n"
)


def test_emoji_fork() -> None:
    digest = parse(EMOJI)
    assert digest.layout == "emoji"
    (paper,) = digest.papers
    assert paper.authors == ("Dawei Zhu", "Rui Meng")
    assert paper.tldr == "本文提出DocLens。\n第二行。"
    assert (paper.motivation, paper.method, paper.result, paper.conclusion) == (
        "动机。", "方法。", "结果。", "结论。"
    )
    assert paper.abstract == "Comprehending long documents."


def topic_paper(idx: int, arxiv_id: str, cats: str, cat: str) -> str:
    return (
        f"### [{idx}] [Paper {arxiv_id}](https://arxiv.org/abs/{arxiv_id})\n*A. One, B. Two*\n\n"
        f"Main category: {cat}\n\nTL;DR: 达到API配额限制，请明天再试\n\n\n<details>\n"
        "  <summary>Details</summary>\nMotivation: Error: API quota exceeded\n\nMethod: 方法。\n\n"
        "Result: Error: API quota exceeded\n\nConclusion: 请联系管理员或等待明天API配额重置。\n\n"
        f"Abstract: One line.\n\n</details>\n\n[**[PDF]**](https://arxiv.org/pdf/{arxiv_id}) | "
        f"**Categories:** {cats}\n\n---\n\n"
    )


def test_topic_digest_fork() -> None:
    text = (
        "# 每日 ArXiv 轨迹预测与大模型摘要速递: 2025-06-24\n\n## 目录\n\n"
        "- [人工智能 (Artificial Intelligence) (1)](#cs-ai)\n- [cs.DB (1)](#cs-db)\n\n"
        "## 人工智能 (Artificial Intelligence) [cs.AI]\n"
        + topic_paper(1, "2506.16015", "cs.AI, cs.CL, math.LO, 68T27, 03B70, I.2.3; F.4.1", "cs.AI")
        + "## cs.DB [cs.DB]\n"
        + topic_paper(1, "2506.15831", "cs.DB", "cs.DB")
    )
    digest = parse(text, "2025-06-24_database.md")
    assert digest.layout == "topics"
    first, second = digest.papers
    assert first.categories == ("cs.AI", "cs.CL", "math.LO")  # MSC/ACM codes dropped
    assert (first.category, second.category) == ("cs.AI", "cs.DB")
    assert first.tldr == first.motivation == first.conclusion == ""
    assert first.method == "方法。"
    assert digest.failed_summaries == 8


RICH = (
    "# AI-Enhanced arXiv Daily 2025-06-26\n\n<a id='toc'></a>\n## 今日总计: 2 篇论文\n### 目录\n"
    "- [cs.CR](#cscr) (1 篇)\n- [cs.LG](#cslg) (1 篇)\n\n---\n<a id='cscr'></a>\n## cs.CR \n\n"
    "### [8] [Trustworthy AI for Cyber Threat Analysis](https://arxiv.org/abs/2506.19052)\n"
    "> *网络威胁分析中的可信人工智能*\n\n*Shuangbao Paul Wang, Paul Mullin* | "
    "**Category: cs.CR, cs.AI**\n\n**Keywords:** 可信人工智能, 网络威胁\n\n**Comment:** \n\n"
    "> **TL;DR:** 开发了一种框架。\n\n**AI_Comments:** 创新。\n\n<details>\n"
    "  <summary>Details</summary>\n\n**Motivation:** 动机。\n\n**Method:** 方法。\n\n"
    "**Result:** Not mentioned in abstract\n\n**Conclusion:** 结论。\n\n"
    "> **ai_Abstract:** 摘要。\n\n> **摘要翻译:** 翻译。\n\n</details>\n\n"
    "[⬆️ 返回分类顶部](#cscr) | [⬆️ 返回总目录](#toc)\n\n---\n\n"
    "<a id='cslg'></a>\n## cs.LG \n\n"
    "### [23] [Extending AALpy](http://arxiv.org/abs/2506.06333v1)\n> *{title_translation}*\n\n"
    "*['Benjamin von Berg', 'Bernhard K. Aichernig']* | **Main category: {cate}**\n\n"
    "**Keywords:** {keywords}\n\n> **TL;DR:** {tldr}\n\n<details>\n  <summary>Details</summary>\n\n"
    "**Motivation:** 为了。\n\n</details>\n\n---\n"
)


def test_rich_fork() -> None:
    digest = parse(RICH, "digest.md")
    assert digest.layout == "rich"
    assert digest.date == dt.date(2025, 6, 26)
    first, second = digest.papers
    assert first.authors == ("Shuangbao Paul Wang", "Paul Mullin")
    assert (first.category, first.categories) == ("cs.CR", ("cs.CR", "cs.AI"))
    assert first.tldr == "开发了一种框架。" and first.result == ""
    extra = dict(first.extra)
    assert extra["Title translation"] == "网络威胁分析中的可信人工智能"
    assert extra["Keywords"] == "可信人工智能, 网络威胁"
    assert extra["AI_Comments"] == "创新。" and extra["Abstract translation"] == "翻译。"
    assert "Comment" not in extra  # empty
    assert second.id == "2506.06333" and second.category == "cs.LG"
    assert second.authors == ("Benjamin von Berg", "Bernhard K. Aichernig")
    assert second.tldr == "" and second.motivation == "为了。"
    assert dict(second.extra) == {}  # {placeholders} dropped
    assert digest.failed_summaries == 4  # Result, {title_translation}, {keywords}, {tldr}


# --- JSONL -------------------------------------------------------------------------------------


def record(arxiv_id: str, **extra: object) -> str:
    base: dict[str, object] = {
        "id": arxiv_id,
        "categories": ["cs.GT", "cs.FL"],
        "pdf": f"https://arxiv.org/pdf/{arxiv_id}",
        "abs": f"https://arxiv.org/abs/{arxiv_id}",
        "authors": ["Julian Knodt", "Xifeng Gao"],
        "title": "Convex $ω$-Automatic Decomposition",
        "comment": None,
        "summary": "Creation of collision\nobjects is hard.",
    }
    base.update(extra)
    return json.dumps(base, ensure_ascii=False)


def test_jsonl_raw_with_duplicates() -> None:
    text = "\n".join([record("2602.07369"), record("2602.07370"), record("2602.07369")]) + "\n"
    digest = parse(text, "2026-02-10.jsonl")
    assert digest.layout == "jsonl"
    assert [p.id for p in digest.papers] == ["2602.07369", "2602.07370"]
    paper = digest.papers[0]
    assert paper.category == "cs.GT" and paper.categories == ("cs.GT", "cs.FL")
    assert paper.abstract == "Creation of collision objects is hard."
    assert paper.tldr == "" and paper.authors == ("Julian Knodt", "Xifeng Gao")


def test_jsonl_ai_enhanced_and_fork_schemas() -> None:
    upstream = record(
        "2509.01001",
        AI={"tldr": "总结\b。", "motivation": "Error", "method": "m", "result": "",
            "conclusion": "c"},
        code_url="https://github.com/x/y",
    )
    astro = record("2505.11587", AI={"tldr": "t", "background": "b", "data": "d", "method": "m"})
    old = record("2503.15617", AI={"task": "任务", "motivation": "m"})
    digest = parse("\n".join([upstream, "not json", "[1]", astro, old]), "x_AI_enhanced_.jsonl")
    first, second, third = digest.papers
    assert first.tldr == "总结。" and first.motivation == "" and first.conclusion == "c"
    assert dict(first.extra)["Code"] == "https://github.com/x/y"
    assert dict(second.extra) == {"Background": "b", "Data": "d"}
    assert third.tldr == "任务"
    assert digest.failed_summaries == 1
    assert [p.line for p in digest.problems if p.line] == [2, 3]


def test_jsonl_without_any_record_is_an_error() -> None:
    with pytest.raises(DigestError, match="JSON"):
        parse("{not json at all\n{also not}", "x.jsonl")


def test_jsonl_of_another_tool_is_an_error_not_an_empty_digest() -> None:
    with pytest.raises(DigestError, match="no record has the daily-arXiv keys") as info:
        parse('{"foo":1}\n{"name":"x"}\n', "2025-07-10.jsonl")
    assert str(info.value).startswith("inbox/2025-07-10.jsonl: JSON lines, but")
    # daily-arXiv records, but none usable: an error too, naming the first bad line.
    no_titles = "\n".join([record("2602.07369", title=""), record("2602.07370", title=None)])
    with pytest.raises(DigestError, match=r"line 1: record 2602\.07369 has no title"):
        parse(no_titles, "2025-07-10.jsonl")
    # One good record among foreign ones: a digest, the others are problems with lines.
    digest = parse('{"foo":1}\n' + record("2602.07369") + "\n", "2025-07-10.jsonl")
    assert [p.id for p in digest.papers] == ["2602.07369"]
    assert [(p.line, p.message) for p in digest.problems] == [
        (1, "record without an arXiv id (`id`, `abs` or `pdf`)")
    ]


# --- stubs, foreign formats, unreadable files --------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "<div id=toc></div>\n\n# Table of Contents\n\n",
        "# No New Papers Today\n\nNo new papers were found in the specified categories.",
        "# AI-Enhanced arXiv Daily 2025-06-18\n\n### 今日没有找到新论文。",
        "# No trajectory and large model papers found today",
    ],
)
def test_stubs_are_empty_digests(text: str) -> None:
    digest = parse(text)
    assert digest.layout == "empty" and digest.papers == ()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            '# <a id="toc"></a>Table of Contents\n\n## <a id="2605.05588v1"></a>[T]'
            "(http://arxiv.org/abs/2605.05588v1) [[back]](#toc-1)\n\n**Relevance:** `0.5883`\n",
            "relevance-ranked topic digest",
        ),
        (
            "# 每日 ArXiv 摘要速递: 2025-06-01\n\n### [T](https://arxiv.org/abs/2506.00001)\n\n"
            "**一句话总结:** 总结。\n\n**Authors:** A\n",
            "Gemini one-line-summary digest",
        ),
        (
            "[1]. [*T*](https://arxiv.org/abs/2608.05229 \"T\")\n"
            "arXiv:2608.05229v1 Announce Type: new\n",
            "another tool",
        ),
        ("# My notes\n\nNothing to see here.\n", "no `### \\["),
        ("### [1] [T](https://arxiv.org/abs/2506.00001)\n*A*\n\nJust text.\n", "known fields"),
        ("   \n\n  ", "empty file"),
        ("abc\x00def", "binary"),
    ],
)
def test_foreign_and_unusable_content_is_a_digest_error(text: str, reason: str) -> None:
    with pytest.raises(DigestError, match=reason) as info:
        parse_digest(text, source="data/2026-05-08.md")
    assert info.value.source == "data/2026-05-08.md"
    assert str(info.value).startswith("data/2026-05-08.md: ")


def test_read_digest_errors_name_the_path_and_why(tmp_path: Path) -> None:
    missing = tmp_path / "2025-01-01.md"
    with pytest.raises(DigestError, match="no such file"):
        read_digest(missing)
    with pytest.raises(DigestError, match="directory"):
        read_digest(tmp_path)
    latin = tmp_path / "latin.md"
    latin.write_bytes(("### [Café](https://arxiv.org/abs/2506.00001)\n" * 40).encode("latin-1"))
    with pytest.raises(DigestError, match=r"not UTF-8 text \(40 of 1800 bytes") as info:
        read_digest(latin)
    assert str(latin) in str(info.value)
    binary = tmp_path / "image.md"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DigestError, match="binary"):
        read_digest(binary)


def test_a_few_invalid_utf8_bytes_are_a_problem_not_a_lost_day(tmp_path: Path) -> None:
    papers = [
        v3_paper(1, "Caf\u00e9 one", "https://arxiv.org/abs/2506.01234", tldr="bad \u00e9 here"),
        v3_paper(2, "Fine", "https://arxiv.org/abs/2506.09999"),
    ]
    # U+00E9 is written as UTF-8 (two bytes); replacing both by one Latin-1 byte damages the file.
    data = v3({"cs.CV": papers}).encode("utf-8").replace(b"\xc3\xa9", b"\xe9")
    path = tmp_path / "2025-06-04.md"
    path.write_bytes(data)
    digest = read_digest(path)
    assert [p.id for p in digest.papers] == ["2506.01234", "2506.09999"]
    first = digest.papers[0]
    assert (first.title, first.tldr) == ("Caf\ufffd one", "bad \ufffd here")  # damage stays visible
    lines = data.split(b"\n")
    title_line = next(n for n, line in enumerate(lines, 1) if b"Caf\xe9" in line)
    tldr_line = lines.index(b"TL;DR: bad \xe9 here") + 1
    damage = digest.problems[0]
    assert damage.line == title_line
    assert damage.message == (
        f"2 invalid UTF-8 bytes shown as U+FFFD (lines {title_line}, {tldr_line}); "
        "re-save the file as UTF-8"
    )
    one = tmp_path / "2025-06-05.md"
    one.write_bytes(data.replace(b"bad \xe9", b"bad e"))
    damage = read_digest(one).problems[0]
    assert damage.message.startswith("1 invalid UTF-8 byte shown as U+FFFD;")
    assert damage.line == title_line


def test_layout_is_detected_from_content_not_extension(tmp_path: Path) -> None:
    path = tmp_path / "2025-06-04.jsonl"
    path.write_text(v3({"cs.CV": [v3_paper(1, "T", "https://arxiv.org/abs/2506.01234")]}))
    assert read_digest(path).layout == "v3"
    other = tmp_path / "2025-06-04.md"
    other.write_text(record("2602.07369") + "\n")
    assert read_digest(other).layout == "jsonl"
