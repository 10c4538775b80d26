"""Per-recipient messages: the fast serialiser gives the same bytes as the `email` package."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest import EXAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.config import EmailSettings, Settings, SiteSettings, Subscriber
from newsletter.message import encode_body
from newsletter.outgoing import (
    MessageBuilder,
    PartEncoder,
    Recipient,
    encode_body_fast,
    plan_recipients,
)
from newsletter.parse import read_digest
from newsletter.subscribers import select_papers
from newsletter.templating import make_environment

_BOUNDARY = re.compile(rb'={15}\d+==')


@pytest.mark.parametrize("unsubscribe_url", ["", "https://lab.example.org/u?list=1"])
@pytest.mark.parametrize("name", ["Ann All", "Bob, Jr.", "Bücher Ünïcode 张三", "",
                                  'Quote "Q" Person', "x" * 120, "O'Brien-Smith",
                                  "Dr. Who", "two  spaces", "a" * 990])
def test_fast_build_is_byte_identical_to_the_email_package(name: str,
                                                          unsubscribe_url: str) -> None:
    digest = read_digest(EXAMPLES / "2025-06-04.md")
    settings = Settings(
        site=SiteSettings(title="Lab digest · 实验室"),
        email=EmailSettings(from_addr="Lab Digest <news@lab.example.org>",
                            unsubscribe_url=unsubscribe_url, reply_to="pi@lab.example.org"),
    )
    builder = MessageBuilder(digest, settings, env=make_environment(None), secret=b"k",
                             now=dt.datetime(2025, 6, 4, 8, 0, tzinfo=dt.UTC))
    for papers in (None, select_papers(digest, Subscriber("x@y.org", categories=("q-bio.*",)))):
        recipient = Recipient("someone@example.com", name, papers)
        fast = builder.build(recipient, message_id="<abc@lab.example.org>")
        slow = builder.build_reference(recipient, message_id="<abc@lab.example.org>")
        assert _BOUNDARY.sub(b"B", fast) == _BOUNDARY.sub(b"B", slow)


def test_plan_skips_suppressed_and_empty() -> None:
    digest = read_digest(EXAMPLES / "2025-06-04.md")
    subs = [Subscriber("a@x.org"), Subscriber("b@x.org", keywords=("no-such-word-zz",)),
            Subscriber("C@x.org")]
    plan = plan_recipients(digest, subs, suppressed=frozenset({"c@x.org"}), send_empty=False)
    assert [r.address for r in plan.recipients] == ["a@x.org"]
    assert (plan.suppressed, plan.empty) == (1, 1)
    plan = plan_recipients(digest, subs, suppressed=frozenset(), send_empty=True)
    assert [r.address for r in plan.recipients] == ["a@x.org", "b@x.org", "C@x.org"]


@pytest.mark.parametrize("text", ["", "plain ascii\n", "a" * 2000, "ünïcödé " * 300,
                                  "中文摘要。" * 500, "mixed 中 text\r\nline\n" * 50,
                                  "x" * 56 + "é", "é" * 57, "=" * 100 + "\n."])
def test_encode_body_fast_matches_encode_body(text: str) -> None:
    assert encode_body_fast(text) == encode_body(text)


_PIECES = st.lists(st.sampled_from([*"ab =.\t\n中é", "x" * 80, "\r\n", "中" * 30]),
                   max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(before=_PIECES, after=_PIECES, tokens=st.lists(
    st.from_regex(r"[A-Za-z0-9_-]{4,40}\.[A-Za-z0-9_-]{22}", fullmatch=True), min_size=1,
    max_size=3))
def test_part_encoder_with_a_cached_head_matches_encode_body(
    before: str, after: str, tokens: list[str]
) -> None:
    encoder = PartEncoder()
    for token in tokens:  # the same head for several recipients: the cache is used
        text = f"{before}https://x.org/u?token={token}{after}"
        assert encoder.encode(text, token=token) == encode_body(text)
