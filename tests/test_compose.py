"""The email and day page: structure, CSS inlining, escaping, links, subject, selections, budget."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import lxml.html
import pytest
from compose_helpers import big_digest, links, make_digest, make_paper, paper_links

from newsletter.compose import (
    make_subject,
    prepare_email,
    render_day_page,
    render_digest_files,
    render_email,
)
from newsletter.config import EmailSettings, Settings, SiteSettings
from newsletter.errors import ConfigError
from newsletter.message import build_message, serialize_message
from newsletter.templating import make_environment

BASE = "https://digest.example.org/feeds/"
SETTINGS = Settings(site=SiteSettings(title="Lab digest", base_url=BASE, language="zh-CN"))


@pytest.fixture(scope="module")
def env():  # type: ignore[no-untyped-def]
    return make_environment()


def small_digest():  # type: ignore[no-untyped-def]
    return make_digest(
        [make_paper(1, "cs.CV"), make_paper(2, "cs.CV"), make_paper(3, "cs.CL"),
         make_paper(4, "q-bio.NC", tldr="")]
    )


def test_email_structure_and_inlined_css(env) -> None:  # type: ignore[no-untyped-def]
    email = render_email(small_digest(), SETTINGS, env=env)
    tree = lxml.html.fromstring(email.html)
    assert tree.get("lang") == "zh-CN"
    tables = tree.findall(".//table")
    assert tables and all(t.get("role") == "presentation" for t in tables)
    main = tree.find_class("main")[0]
    assert "max-width:600px" in main.get("style")
    assert '"Noto Sans CJK SC"' in main.get("style")  # quotes survived premailer as quotes
    styles = tree.findall(".//style")
    assert len(styles) == 1  # the inlinable block is gone, the ignored one is kept
    assert "prefers-color-scheme: dark" in styles[0].text
    assert "max-width: 620px" in styles[0].text
    assert "&#34;" not in email.html and "&quot;Segoe" not in styles[0].text
    assert tree.find_class("ptitle")[0].get("style")  # inlined
    assert tree.find_class("preheader")[0].text.startswith("4 papers: cs.CV 2")
    assert (email.total, email.shown_full, email.shown_title_only, email.more) == (4, 4, 0, {})


def test_email_shows_tldr_or_abstract_sentence_and_short_authors(env) -> None:  # type: ignore[no-untyped-def]
    email = render_email(small_digest(), SETTINGS, env=env)
    tree = lxml.html.fromstring(email.html)
    tldrs = [el.text_content() for el in tree.find_class("ptldr")]
    assert tldrs[0].endswith("(1)") and tldrs[3] == "We study interesting things in great depth."
    authors = tree.find_class("pauthors")[0].text_content()
    assert authors == "Ada Lovelace, Alan Turing, Grace Hopper et al."
    assert "Dijkstra" not in email.html
    assert "Abstract: https://arxiv.org/abs/2506.00001" in email.text
    assert "PDF: https://arxiv.org/pdf/2506.00001" in email.text
    assert "We study interesting things in great depth." in email.text


def test_header_counts_feed_links_and_footer(env) -> None:  # type: ignore[no-untyped-def]
    email = render_email(small_digest(), SETTINGS, env=env)
    tree = lxml.html.fromstring(email.html)
    chips = [c.text_content() for c in tree.find_class("chip")]
    assert chips == ["cs.CV\xa02", "cs.CL\xa01", "q-bio.NC\xa01"]
    hrefs = links(email.html)
    assert f"{BASE}cs.CV.atom.xml" in hrefs and f"{BASE}q-bio.NC.atom.xml" in hrefs
    assert f"{BASE}days/2025-06-04.html" in hrefs  # view in browser
    assert "Unsubscribe" not in email.html  # no URL, no link
    assert "Computer Vision and Pattern Recognition" in email.html


HOSTILE = [
    make_paper(1, "cs.CV", title="<script>alert(1)</script> {{ 7*7 }} {% if 1 %}x{% endif %}",
               tldr='<img src=x onerror="alert(2)"> [a](javascript:alert(3)) {{ config }}'),
    make_paper(2, "cs.CV", id="javascript:alert(4)", title="javascript:alert(5)"),
    make_paper(3, "<b>evil</b>\r\nBcc: x@y", title="Line\r\nBreak\x85Title"),
]


def test_hostile_text_is_inert(env) -> None:  # type: ignore[no-untyped-def]
    digest = make_digest(HOSTILE, name="2025-06-04")
    email = render_email(digest, SETTINGS, env=env)
    files = render_digest_files(digest, SETTINGS, env=env)
    day = files["days/2025-06-04.html"].decode()
    for html in (email.html, day):
        tree = lxml.html.fromstring(html)
        assert not tree.findall(".//script") and not tree.findall(".//img")
        assert not any(k.startswith("on") for el in tree.iter() for k in el.attrib)
        assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} {% if 1 %}x{% endif %}" in html
        assert "49" not in html
        for url in links(html):
            assert url.startswith(("https://arxiv.org/abs/", "https://arxiv.org/pdf/", BASE, "#"))
    assert "<script>alert(1)</script> {{ 7*7 }}" in email.text  # plain text stays literal
    assert "javascript:alert(4)" not in " ".join(links(email.html))
    assert "Line Break Title" in email.text and "\r" not in email.text


def test_subject_is_one_line_and_formatted() -> None:
    digest = make_digest([make_paper(1)], name="2025-06-04")
    settings = Settings(site=SiteSettings(title="Evil\r\nBcc: victim@example.com"),
                        email=EmailSettings(subject="{title} | {date} | {count} | {name}"))
    subject = make_subject(digest, settings, count=1)
    assert subject == "Evil Bcc: victim@example.com | 2025-06-04 | 1 | 2025-06-04"
    assert make_subject(digest, Settings(), count=469) == "arXiv digest 2025-06-04 · 469 papers"
    with pytest.raises(ConfigError, match=r"email\.subject"):
        make_subject(digest, Settings(email=EmailSettings(subject="{nope}")), count=1)


def test_selection_unsubscribe_and_cache(env) -> None:  # type: ignore[no-untyped-def]
    digest = small_digest()
    prepared = prepare_email(digest, SETTINGS, env=env)
    cl_only = [p for p in digest.papers if p.category == "cs.CL"]
    url = "https://digest.example.org/unsubscribe?token=abc&x=1"
    email = prepared.render(cl_only, unsubscribe_url=url)
    assert email.total == 1 and email.subject.endswith("· 1 paper")
    tree = lxml.html.fromstring(email.html)
    assert [c.text_content() for c in tree.find_class("chip")] == ["cs.CL\xa01"]
    assert paper_links(email) == ["https://arxiv.org/abs/2506.00003"]
    assert url in links(email.html) and f"Unsubscribe: {url}" in email.text
    assert prepared.marker.secret not in email.html + email.text
    again = prepared.render(cl_only, unsubscribe_url="https://digest.example.org/u?token=zzz")
    assert "token=zzz" in again.html and "token=abc" not in again.html
    assert len(prepared._cache) == 1  # one assembly for both recipients


def test_empty_selection_says_so(env) -> None:  # type: ignore[no-untyped-def]
    email = render_email(small_digest(), SETTINGS, env=env, papers=[])
    assert email.total == 0 and "No papers matched your filter today" in email.html
    assert "No papers matched your filter today" in email.text
    assert not lxml.html.fromstring(email.html).find_class("paper")


def test_empty_digest(env) -> None:  # type: ignore[no-untyped-def]
    email = render_email(make_digest([]), SETTINGS, env=env)
    assert email.total == 0 and "0 papers" in email.subject


def test_large_day_fits_fairly_and_counts_everything(env) -> None:  # type: ignore[no-untyped-def]
    digest = big_digest(962, [("cs.CV", 40), ("cs.LG", 25), ("cs.CL", 20), ("cs.RO", 8),
                              ("cs.MA", 1), ("eess.IV", 3), ("q-bio.NC", 3)])
    email = render_email(digest, SETTINGS, env=env)
    msg = build_message(email, sender="Lab <news@example.org>", recipient="a@example.org",
                        date=dt.datetime(2025, 6, 4, 8, tzinfo=dt.UTC),
                        message_id="<x@example.org>", list_id="<lab.example.org>",
                        unsubscribe_mailto="unsub@example.org",
                        unsubscribe_url="https://example.org/u?token=" + "a" * 200)
    assert len(serialize_message(msg)) <= SETTINGS.email.max_bytes
    assert email.total == len(digest.papers) == 962
    assert email.shown_full + email.shown_title_only + sum(email.more.values()) == 962
    assert len(paper_links(email)) == email.shown_full + email.shown_title_only
    tree = lxml.html.fromstring(email.html)
    full_by_cat: dict[str, int] = {}
    for p in digest.papers:
        if f'href="{p.url}" style' in email.html and p.tldr[:20] in email.html:
            full_by_cat[p.category] = full_by_cat.get(p.category, 0) + 1
    assert len(full_by_cat) == 7  # every category got at least one paper in full
    assert full_by_cat["cs.CV"] > full_by_cat["cs.MA"]
    mores = [a.text_content() for a in tree.find_class("more-link")]
    assert f"+{email.more['cs.CV']} more in cs.CV →" in mores
    more_hrefs = [a.get("href") for a in tree.find_class("more-link")]
    assert f"{BASE}days/2025-06-04.html#cs.CV" in more_hrefs
    assert "Too many for one email" in email.html
    assert f"+{email.more['cs.CV']} more in cs.CV: {BASE}days/2025-06-04.html#cs.CV" in email.text


def test_day_page_has_every_field_toc_and_anchors(env) -> None:  # type: ignore[no-untyped-def]
    digest = small_digest()
    day = render_day_page(prepare_email(digest, SETTINGS, env=env), env=env)
    tree = lxml.html.fromstring(day)
    assert tree.get("lang") == "zh-CN"
    toc = [a.get("href") for a in tree.find_class("toc")[0].iter("a")]
    assert toc == ["#cs.CV", "#cs.CL", "#q-bio.NC"]
    assert [s.get("id") for s in tree.find_class("cat")] == ["cs.CV", "cs.CL", "q-bio.NC"]
    for label in ("Motivation", "Method", "Result", "Conclusion", "Abstract"):
        assert day.count(f"<dt>{label}</dt>") == 4
    assert day.count("Edsger Dijkstra") == 4  # every author on the web page
    assert "A second paragraph." in day


def test_user_template_without_marks_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "email.html.j2").write_text("<html><body>{{ site_title }}</body></html>")
    env = make_environment(tmp_path)
    with pytest.raises(ConfigError, match=r"email.html.j2: mark\('chips'\) is missing"):
        prepare_email(small_digest(), SETTINGS, env=env)


def test_user_template_overrides_a_partial(tmp_path: Path) -> None:
    macros = (Path(__file__).parent.parent / "templates" / "_email_macros.j2").read_text()
    (tmp_path / "_email_macros.j2").write_text(macros.replace("Abstract</a>", "Abs</a>"))
    email = render_email(small_digest(), SETTINGS, env=make_environment(tmp_path))
    assert ">Abs</a>" in email.html and ">Abstract</a>" not in email.html


def test_render_digest_files_names(env) -> None:  # type: ignore[no-untyped-def]
    files = render_digest_files(small_digest(), SETTINGS, env=env)
    assert sorted(files) == ["days/2025-06-04.html", "email/2025-06-04.html",
                             "email/2025-06-04.txt"]
    assert all(isinstance(v, bytes) and v for v in files.values())
    assert re.search(rb"<html lang=\"zh-CN\"", files["email/2025-06-04.html"])
