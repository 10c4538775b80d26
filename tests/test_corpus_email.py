"""Every digest of ../shared/corpus: the email fits the budget and shows or counts every paper."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import lxml.html
import pytest
from conftest import corpus_params

from newsletter.compose import render_email
from newsletter.config import Settings, SiteSettings
from newsletter.errors import DigestError
from newsletter.message import build_message, serialize_message
from newsletter.parse import read_digest
from newsletter.templating import make_environment

SETTINGS = Settings(site=SiteSettings(base_url="https://example.org/arxiv/"))
ENV = make_environment()
# Texts an LLM writes when it failed; none may be shown as a summary.
FAILURES = ("Summary generation failed", "Error code:", "Request timed out", "API配额",
            "API quota", "Motivation analysis unavailable", "错误：AI分析失败")


@pytest.mark.parametrize("path", corpus_params())
def test_corpus_email(path: Path) -> None:
    try:
        digest = read_digest(path)
    except DigestError:
        pytest.skip("not a digest the parser reads (its own corpus test covers this)")
    email = render_email(digest, SETTINGS, env=ENV)
    msg = build_message(
        email, sender="arXiv digest <newsletter@example.org>",
        recipient="Some Reader <some.reader@example.org>",
        date=dt.datetime(2025, 6, 4, 8, tzinfo=dt.UTC),
        message_id="<20250604080000.1234.5678@example.org>",
        list_id='"arXiv digest" <arxiv-digest.example.org>',
        unsubscribe_mailto="mailto:newsletter@example.org?subject=unsubscribe",
        unsubscribe_url="https://example.org/unsubscribe?token=" + "x" * 120,
    )
    size = len(serialize_message(msg))
    assert size <= SETTINGS.email.max_bytes, f"{size} bytes"
    n = len(digest.papers)
    assert email.total == n
    assert email.shown_full + email.shown_title_only + sum(email.more.values()) == n
    tree = lxml.html.fromstring(email.html)
    shown = [a for a in tree.iter("a") if a.get("class") in ("ptitle", "ttitle")]
    assert len(shown) == email.shown_full + email.shown_title_only
    chips = [c.text_content().split("\xa0")[0] for c in tree.find_class("chip")]
    assert len(chips) == len({p.category for p in digest.papers})
    for code, count in email.more.items():
        assert f"+{count} more in {' '.join(code.split())}" in email.html
    summaries = " ".join(el.text_content() for el in tree.find_class("ptldr"))
    for failure in FAILURES:
        assert failure.lower() not in summaries.lower()
