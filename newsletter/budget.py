"""Fitting an email under its size budget: which papers get a TL;DR, a title line, or "+N more"."""

from __future__ import annotations

import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_B64_RATIO = 4 / 3 * 78 / 76  # 4 characters per 3 bytes, CRLF after every 76


@dataclass(frozen=True, slots=True)
class Size:
    """Size of some HTML and text: raw UTF-8 bytes and quoted-printable bytes (with CRLF)."""

    html: int = 0
    html_qp: int = 0
    text: int = 0
    text_qp: int = 0

    def __add__(self, other: Size) -> Size:
        return Size(
            self.html + other.html,
            self.html_qp + other.html_qp,
            self.text + other.text,
            self.text_qp + other.text_qp,
        )

    def __sub__(self, other: Size) -> Size:
        return Size(
            self.html - other.html,
            self.html_qp - other.html_qp,
            self.text - other.text,
            self.text_qp - other.text_qp,
        )


def _qp_size(data: bytes) -> int:
    encoded = binascii.b2a_qp(data, istext=True)
    return len(encoded) + encoded.count(b"\n")


def measure(html: str, text: str) -> Size:
    """The Size of an HTML piece and a text piece (pieces add up to within a few bytes)."""
    h, t = html.encode("utf-8"), text.encode("utf-8")
    return Size(len(h), _qp_size(h), len(t), _qp_size(t))


def _part_estimate(raw: int, qp: int) -> int:
    return int(min(qp, raw * _B64_RATIO)) + 80


def estimate(size: Size) -> int:
    """An upper estimate of both parts' encoded size (the cheaper encoding of each part)."""
    return _part_estimate(size.html, size.html_qp) + _part_estimate(size.text, size.text_qp)


@dataclass(frozen=True, slots=True)
class SectionCost:
    """One category of a selection: its fixed pieces and, per paper, the full and title sizes."""

    head: Size  # heading and header chip
    more: Size  # the "+N more" line, paid only when something is left over
    full: Sequence[Size]
    title: Sequence[Size]


@dataclass(frozen=True, slots=True)
class SectionPlan:
    """How many papers of a category are shown in full, then as titles; the rest is "+N more"."""

    full: int
    title: int
    more: int


def _fair_order(sections: Sequence[SectionCost], starts: Sequence[int]) -> list[tuple[int, int]]:
    """(section, paper) pairs from each section's `start` on, interleaved in proportion to size.

    The first paper of every section comes first, then each section in turn as often as its share
    of the papers says, so a 200-paper category gets more room than a 3-paper one but the 3-paper
    one is never starved.
    """
    keyed: list[tuple[float, int, int]] = []
    for s, section in enumerate(sections):
        n = len(section.full)
        for i in range(starts[s], n):
            keyed.append(((i - starts[s]) / n, s, i))
    keyed.sort()
    return [(s, i) for _, s, i in keyed]


def plan_sections(
    sections: Sequence[SectionCost],
    *,
    fixed: Size,
    budget: int,
    cost: Callable[[Size], int] = estimate,
) -> list[SectionPlan]:
    """Show as many papers in full as fit, fairly across sections, then titles, then "+N more".

    Within a section the shown papers are always its first ones (file order is kept); a paper
    that does not fit closes its section for that round, so later papers never jump ahead.
    """
    total = fixed
    for section in sections:
        total = total + section.head + (section.more if section.full else Size())
    full = [0] * len(sections)
    title = [0] * len(sections)
    for phase in ("full", "title"):
        starts = full if phase == "full" else [f + t for f, t in zip(full, title, strict=True)]
        closed = [False] * len(sections)
        for s, i in _fair_order(sections, list(starts)):
            if closed[s]:
                continue
            section = sections[s]
            added = section.full[i] if phase == "full" else section.title[i]
            candidate = total + added
            if i == len(section.full) - 1:
                candidate = candidate - section.more  # the section is complete: no "+N more"
            if cost(candidate) > budget:
                closed[s] = True
                continue
            total = candidate
            if phase == "full":
                full[s] += 1
            else:
                title[s] += 1
    return [
        SectionPlan(full=f, title=t, more=len(section.full) - f - t)
        for f, t, section in zip(full, title, sections, strict=True)
    ]
