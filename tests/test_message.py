"""The MIME message: headers, both parts, encodings, no folding, no header injection."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from email.message import EmailMessage

import pytest

from newsletter.compose import RenderedEmail
from newsletter.message import build_message, encode_body, encoded_size, serialize_message

LONG_URL = "https://news.example.org/unsubscribe?token=" + "Zx9" * 120
DATE = dt.datetime(2025, 6, 4, 8, 0, tzinfo=dt.UTC)


def rendered(**changes: str) -> RenderedEmail:
    values = {
        "subject": "arXiv digest 2025-06-04 · 3 papers",
        "html": "<html><body><p>本文提出 = a &amp; b</p>" + "<p>x</p>" * 200 + "</body></html>",
        "text": "Hello 世界\nSecond line = ok\n",
    }
    values.update(changes)
    return RenderedEmail(total=3, shown_full=3, shown_title_only=0, more={}, **values)


def content(part: EmailMessage) -> str:
    """A text part's decoded content with its line ends as LF (MIME text uses CRLF)."""
    text: str = part.get_content()
    return text.replace("\r\n", "\n")


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def build(r: RenderedEmail | None = None, **kw: str) -> bytes:
    args = {
        "sender": "Lab digest <news@example.org>",
        "recipient": "Ada Lovelace <ada@example.org>",
        "message_id": "<abc.123@example.org>",
        "list_id": '"Lab digest" <lab-digest.example.org>',
        "unsubscribe_mailto": "mailto:unsub@example.org?subject=unsubscribe",
        "unsubscribe_url": LONG_URL,
    }
    args.update(kw)
    return serialize_message(build_message(r or rendered(), date=DATE, **args))


def test_headers_round_trip() -> None:
    data = build(reply_to="help@example.org")
    msg = parse(data)
    assert msg["From"] == "Lab digest <news@example.org>"
    assert msg["To"] == "Ada Lovelace <ada@example.org>"
    assert msg["Reply-To"] == "help@example.org"
    assert msg["Subject"] == "arXiv digest 2025-06-04 · 3 papers"
    assert msg["Date"] == "Wed, 04 Jun 2025 08:00:00 +0000"
    assert msg["Message-ID"] == "<abc.123@example.org>"
    assert msg["List-Id"] == '"Lab digest" <lab-digest.example.org>'
    assert msg["List-Unsubscribe"] == (
        f"<mailto:unsub@example.org?subject=unsubscribe>, <{LONG_URL}>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["MIME-Version"] == "1.0"
    # The long List-Unsubscribe value is one unfolded line on the wire.
    line = next(x for x in data.split(b"\r\n") if x.startswith(b"List-Unsubscribe:"))
    assert LONG_URL.encode() in line and len(line) <= 998
    assert all(len(x) <= 998 for x in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_parts_text_then_html_utf8() -> None:
    r = rendered()
    msg = parse(build(r))
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert content(parts[0]) == r.text
    assert content(parts[1]) == r.html


def test_one_click_only_with_url_and_no_unsubscribe_headers_without_either() -> None:
    msg = parse(build(unsubscribe_url=""))
    assert msg["List-Unsubscribe"] == "<mailto:unsub@example.org?subject=unsubscribe>"
    assert msg["List-Unsubscribe-Post"] is None
    msg = parse(build(unsubscribe_url="", unsubscribe_mailto=""))
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
    with pytest.raises(ValueError, match="https"):
        build(unsubscribe_url="http://plain.example.org/u")


def test_no_header_injection_from_digest_text() -> None:
    r = rendered(subject="Evil\r\nBcc: victim@example.com\nX-Evil: 1")
    data = build(r, recipient="Ada\r\nBcc: other@example.com <ada@example.org>")
    msg = parse(data)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert msg["Subject"] == "Evil Bcc: victim@example.com X-Evil: 1"


def test_encoding_is_the_shorter_one_and_sizes_are_exact() -> None:
    chinese = "<p>" + "本文提出了一种新方法" * 300 + "</p>\n"
    english = "<p>" + "We propose a new method. " * 300 + "=</p>\n"
    assert encode_body(chinese)[0] == "base64"
    assert encode_body(english)[0] == "quoted-printable"
    assert encode_body("plain ascii\n")[0] == "7bit"
    r = rendered(html=chinese, text=english)
    data = build(r)
    msg = parse(data)
    parts = list(msg.iter_parts())
    assert parts[0]["Content-Transfer-Encoding"] == "quoted-printable"
    assert parts[1]["Content-Transfer-Encoding"] == "base64"
    assert content(parts[1]) == chinese and content(parts[0]) == english
    bodies = data.split(b"\r\n\r\n")
    assert encoded_size(chinese) + encoded_size(english) < len(data)
    assert any(len(b) >= encoded_size(chinese) - 4 for b in bodies)
