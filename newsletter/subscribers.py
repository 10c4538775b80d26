"""Subscribers: loading them from the config and a CSV file, validating them, their paper filter."""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from newsletter.config import Settings, Subscriber
from newsletter.errors import ConfigError
from newsletter.models import Digest, Paper

log = logging.getLogger(__name__)

CSV_COLUMNS = ("email", "name", "categories", "keywords")

# Pragmatic address check: one @, a local part without spaces, quotes or angle brackets, and a
# domain of dot-separated labels (letters, digits, hyphens; IDN letters allowed).
_LOCAL = r"[^\s@<>()\[\],;:\"\\]+"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_ADDRESS = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class SubscriberList:
    """The subscribers that passed validation, and one warning per row that did not."""

    subscribers: tuple[Subscriber, ...]
    warnings: tuple[str, ...]


def is_valid_address(address: str) -> bool:
    """True for a plausible single mailbox address (no display name)."""
    return len(address) <= 254 and bool(_ADDRESS.match(address)) and ".." not in address


def clean_name(name: str) -> str:
    """A display name safe to put in a header: control characters (CR, LF) become spaces."""
    return " ".join(_CONTROL.sub(" ", name).split())


def load_subscribers(settings: Settings) -> SubscriberList:
    """Subscribers from `[[subscribers]]` then `subscribers_file`; bad rows warned and skipped.

    An address listed twice keeps its first entry (the later one is a warning).
    """
    config_name = str(settings.source) if settings.source else "config"
    rows: list[tuple[str, Subscriber]] = [
        (f"{config_name}: subscribers[{i}]", sub) for i, sub in enumerate(settings.subscribers)
    ]
    warnings: list[str] = []
    if settings.subscribers_file is not None:
        file_rows, file_warnings = read_subscribers_csv(settings.subscribers_file)
        rows.extend(file_rows)
        warnings.extend(file_warnings)
    seen: set[str] = set()
    kept: list[Subscriber] = []
    for where, sub in rows:
        email = sub.email.strip()
        if not is_valid_address(email):
            warnings.append(f"{where}: {email!r} is not a valid email address; row skipped")
            continue
        if email.lower() in seen:
            warnings.append(f"{where}: {email} is listed twice; the first entry is used")
            continue
        seen.add(email.lower())
        kept.append(Subscriber(email=email, name=clean_name(sub.name),
                               categories=sub.categories, keywords=sub.keywords))
    for warning in warnings:
        log.warning("%s", warning)
    return SubscriberList(tuple(kept), tuple(warnings))


def read_subscribers_csv(path: Path) -> tuple[list[tuple[str, Subscriber]], list[str]]:
    """Rows of a CSV with a header `email,name,categories,keywords` (lists `;`-separated)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: subscribers_file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read subscribers_file as UTF-8 text: {exc}") from exc
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "email" not in header:
        raise ConfigError(
            f"{path}:1: the first line must be a header with the columns {','.join(CSV_COLUMNS)}"
        )
    unknown = [h for h in header if h and h not in CSV_COLUMNS]
    if unknown:
        raise ConfigError(f"{path}:1: unknown column(s) {', '.join(unknown)}; valid columns: "
                          + ", ".join(CSV_COLUMNS))
    reader.fieldnames = header
    rows: list[tuple[str, Subscriber]] = []
    warnings: list[str] = []
    line = 1
    for record in reader:
        where = f"{path}:{line + 1}"
        line = reader.line_num
        if None in record:
            warnings.append(f"{where}: more fields than columns; row skipped")
            continue
        values = {k: (v or "").strip() for k, v in record.items()}
        if not any(values.values()) or values.get("email", "").startswith("#"):
            continue
        rows.append((where, Subscriber(
            email=values.get("email", ""),
            name=values.get("name", ""),
            categories=split_list(values.get("categories", "")),
            keywords=split_list(values.get("keywords", "")),
        )))
    return rows, warnings


def split_list(value: str) -> tuple[str, ...]:
    """`cs.AI; cs.LG` -> ("cs.AI", "cs.LG"); empty items dropped."""
    return tuple(item.strip() for item in value.split(";") if item.strip())


def select_papers(digest: Digest, subscriber: Subscriber) -> tuple[Paper, ...]:
    """The papers of `digest` this subscriber asked for, in digest order.

    A paper matches when one of its categories matches one of the category globs
    (case-sensitive: `cs.*`, `q-bio.NC`) AND one keyword occurs, case-insensitively, in its
    title, TL;DR or abstract. An empty list of globs or keywords matches everything.
    """
    return PaperSelector(digest).select(subscriber)


class PaperSelector:
    """select_papers for many subscribers of one digest: each paper's text is case-folded
    once, and each distinct filter is evaluated once."""

    def __init__(self, digest: Digest) -> None:
        self.digest = digest
        self._haystacks: tuple[str, ...] | None = None
        self._cache: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[Paper, ...]] = {}

    def _texts(self) -> tuple[str, ...]:
        if self._haystacks is None:
            self._haystacks = tuple(f"{p.title}\n{p.tldr}\n{p.abstract}".casefold()
                                    for p in self.digest.papers)
        return self._haystacks

    def select(self, subscriber: Subscriber) -> tuple[Paper, ...]:
        globs = subscriber.categories
        keywords = tuple(k.casefold() for k in subscriber.keywords)
        key = (globs, keywords)
        cached = self._cache.get(key)
        if cached is None:
            texts = self._texts() if keywords else ()
            cached = tuple(
                paper for i, paper in enumerate(self.digest.papers)
                if (not globs or _category_matches(paper, globs))
                and (not keywords or any(k in texts[i] for k in keywords))
            )
            self._cache[key] = cached
        return cached


def _category_matches(paper: Paper, globs: tuple[str, ...]) -> bool:
    categories = paper.categories or (paper.category,)
    return any(fnmatchcase(cat, g) for cat in categories for g in globs)
