"""Per-recipient messages for one digest: filter, render once per selection, address, serialise."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formataddr, make_msgid, parseaddr

import jinja2

from newsletter.compose import RenderedEmail, prepare_email
from newsletter.config import Settings, Subscriber
from newsletter.message import build_message, serialize_message
from newsletter.models import Digest, Paper
from newsletter.subscribers import select_papers
from newsletter.unsubscribe import make_token, unsubscribe_link

log = logging.getLogger(__name__)

_SLUG = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True, slots=True)
class Recipient:
    """One subscriber's share of a digest: the papers chosen (None = the unfiltered email)."""

    address: str  # bare address, the envelope recipient
    name: str
    papers: tuple[Paper, ...] | None


@dataclass(frozen=True, slots=True)
class Plan:
    """Who gets this digest, and who does not and why."""

    recipients: tuple[Recipient, ...]
    suppressed: int
    empty: int


def sender_address(settings: Settings) -> str:
    """The bare From address (envelope sender)."""
    return parseaddr(settings.email.from_addr)[1] or "newsletter@localhost"


def sender_domain(settings: Settings) -> str:
    return sender_address(settings).rpartition("@")[2] or "localhost"


def new_message_id(settings: Settings) -> str:
    """A Message-ID on the sender's domain."""
    return make_msgid(domain=sender_domain(settings))


def list_id(settings: Settings) -> str:
    """`Title <slug.domain>` (RFC 2919)."""
    slug = _SLUG.sub("-", settings.site.title.lower()).strip("-") or "newsletter"
    title = " ".join(settings.site.title.replace('"', "").split())
    return f'"{title}" <{slug}.{sender_domain(settings)}>'


def plan_recipients(
    digest: Digest, subscribers: Sequence[Subscriber], *, suppressed: frozenset[str],
    send_empty: bool,
) -> Plan:
    """Apply the suppression list and each subscriber's filter."""
    chosen: list[Recipient] = []
    n_suppressed = n_empty = 0
    for sub in subscribers:
        if sub.email.lower() in suppressed:
            n_suppressed += 1
            continue
        if not sub.categories and not sub.keywords:
            papers: tuple[Paper, ...] | None = None
            count = len(digest.papers)
        else:
            papers = select_papers(digest, sub)
            count = len(papers)
        if count == 0 and not send_empty:
            n_empty += 1
            continue
        chosen.append(Recipient(sub.email, sub.name, papers))
    return Plan(tuple(chosen), n_suppressed, n_empty)


class MessageBuilder:
    """Builds the serialised message for each recipient of one digest.

    The digest is prepared once (compose.prepare_email); the composer caches each distinct
    selection of papers and only swaps in the recipient's unsubscribe URL.
    """

    def __init__(
        self, digest: Digest, settings: Settings, *, env: jinja2.Environment,
        secret: bytes, now: dt.datetime,
    ) -> None:
        self.digest = digest
        self.settings = settings
        self.env = env
        self.secret = secret
        self.now = now
        self.prepared = prepare_email(digest, settings, env=env)
        self.sender = sender_address(settings)
        self.list_id = list_id(settings)
        email = settings.email
        self.mailto = f"mailto:{email.unsubscribe_mailto or self.sender}?subject=unsubscribe"

    def render(self, recipient: Recipient, *, unsubscribe_url: str) -> RenderedEmail:
        return self.prepared.render(recipient.papers, unsubscribe_url=unsubscribe_url)

    def build(self, recipient: Recipient, *, message_id: str) -> bytes:
        """The message for `recipient`, serialised for SMTP (lines <= 998, no folding)."""
        url = ""
        if self.settings.email.unsubscribe_url:
            token = make_token(self.secret, recipient.address)
            url = unsubscribe_link(self.settings.email.unsubscribe_url, token)
        rendered = self.render(recipient, unsubscribe_url=url)
        msg = build_message(
            rendered,
            sender=self.settings.email.from_addr,
            recipient=formataddr((recipient.name, recipient.address)),
            date=self.now,
            message_id=message_id,
            list_id=self.list_id,
            unsubscribe_mailto=self.mailto,
            unsubscribe_url=url,
            reply_to=self.settings.email.reply_to,
        )
        data = serialize_message(msg)
        if len(data) > self.settings.email.max_bytes:
            log.warning("%s: message to %s is %d bytes, over email.max_bytes = %d",
                        self.digest.name, recipient.address, len(data),
                        self.settings.email.max_bytes)
        return data
