"""One rendered email as a MIME message (text + HTML alternatives) and its bytes on the wire."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

from newsletter.cleaning import flatten

if TYPE_CHECKING:
    from newsletter.compose import RenderedEmail

WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


def header_value(text: str) -> str:
    """`text` safe for a header: control characters and line breaks become spaces, runs collapse."""
    return flatten(text)


def encode_body(text: str) -> tuple[str, str]:
    """The shorter of quoted-printable and base64 for `text` as UTF-8: (cte, payload with LF).

    Chosen by exact length, not by sniffing the first lines as the email package does (which
    picks quoted-printable for an HTML part whose head is ASCII, and then Chinese text costs
    nine bytes a character).
    """
    data = text.encode("utf-8")
    if data.isascii() and max(map(len, data.split(b"\n")), default=0) <= 990 and "\r" not in text:
        return "7bit", text if text.endswith("\n") else text + "\n"
    qp = binascii.b2a_qp(data, istext=True).decode("ascii")
    b64 = base64.encodebytes(data).decode("ascii")
    if len(qp) + qp.count("\n") <= len(b64) + b64.count("\n"):
        return "quoted-printable", qp if qp.endswith("\n") else qp + "=\n"
    return "base64", b64


def encoded_size(text: str) -> int:
    """Bytes the payload of `text` takes on the wire (CRLF), as build_message encodes it."""
    _cte, payload = encode_body(text)
    return len(payload) + payload.count("\n")


def _text_part(text: str, subtype: str) -> EmailMessage:
    cte, payload = encode_body(text)
    part = EmailMessage(policy=WIRE_POLICY)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = cte
    part.set_payload(payload)
    return part


def list_unsubscribe(*, mailto: str = "", url: str = "") -> str:
    """The List-Unsubscribe value: `<mailto:...>` and/or `<https://...>` ("" when neither)."""
    values = []
    if mailto:
        address = header_value(mailto).removeprefix("mailto:")
        values.append(f"<mailto:{address}>")
    if url:
        values.append(f"<{header_value(url)}>")
    return ", ".join(values)


def build_message(
    rendered: RenderedEmail,
    *,
    sender: str,
    recipient: str,
    date: dt.datetime,
    message_id: str,
    list_id: str,
    unsubscribe_mailto: str = "",
    unsubscribe_url: str = "",
    reply_to: str = "",
) -> EmailMessage:
    """A multipart/alternative message (text first, then HTML), UTF-8, ready for SMTP.

    Every header value is put on one line first, so text from a digest can never add a header.
    `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058) is set only with a URL.
    `date` must be timezone-aware.
    """
    if unsubscribe_url and not unsubscribe_url.startswith("https://"):
        raise ValueError("unsubscribe_url must be an https:// URL")
    msg = EmailMessage(policy=WIRE_POLICY)
    msg["From"] = header_value(sender)
    msg["To"] = header_value(recipient)
    if reply_to:
        msg["Reply-To"] = header_value(reply_to)
    msg["Subject"] = header_value(rendered.subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = header_value(message_id)
    msg["List-Id"] = header_value(list_id)
    unsubscribe = list_unsubscribe(mailto=unsubscribe_mailto, url=unsubscribe_url)
    if unsubscribe:
        msg["List-Unsubscribe"] = unsubscribe
    if unsubscribe_url:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["MIME-Version"] = "1.0"
    msg.make_alternative()
    msg.attach(_text_part(rendered.text, "plain"))
    msg.attach(_text_part(rendered.html, "html"))
    return msg


def serialize_message(msg: EmailMessage) -> bytes:
    """The message as it goes on the wire: CRLF, long header values not folded below 998."""
    return msg.as_bytes(policy=WIRE_POLICY)
