"""The email (inlined HTML + text) and the day page of a digest, rendered once and reused."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import jinja2
from markupsafe import escape

from newsletter.budget import SectionCost, SectionPlan, Size, measure, plan_sections
from newsletter.config import Settings
from newsletter.errors import ConfigError
from newsletter.inline import inline_css
from newsletter.message import encoded_size, header_value
from newsletter.models import Digest, Paper, plural
from newsletter.pieces import Marker
from newsletter.templating import render_template
from newsletter.views import CategoryView, PaperView, category_view, paper_view, site_url

log = logging.getLogger(__name__)

# Headers and MIME structure of a message, generously (long From/To/Message-ID/List-Id values);
# the List-Unsubscribe URL and the subject are added on top of this.
HEADER_RESERVE = 2_000
_CACHE_SIZE = 64


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """One subscriber's email: what build_message needs, plus what was shown and what was not."""

    subject: str
    html: str
    text: str
    total: int  # papers selected
    shown_full: int  # with their TL;DR
    shown_title_only: int
    more: dict[str, int]  # category -> papers only counted in a "+N more" line


@dataclass(frozen=True, slots=True)
class _Section:
    """A category in the templates: its view, placeholder count and "more", its papers."""

    category: CategoryView
    count: str
    more: str
    papers: list[PaperView]


@dataclass(frozen=True, slots=True)
class PreparedDigest:
    """A digest's email cut into inlined pieces (per paper: full and title-only), built once.

    `render()` puts a subscriber's email together from the pieces; results are cached by
    selection, so many subscribers with the same filter cost one assembly.
    """

    digest: Digest
    settings: Settings
    marker: Marker
    categories: tuple[CategoryView, ...]
    section_of: dict[str, int]  # category code -> section index
    index_of: dict[str, int]  # paper id -> index in digest.papers
    views: tuple[PaperView, ...]
    html: dict[str, str]
    text: dict[str, str]
    sizes: dict[str, Size]
    _cache: dict[tuple[object, ...], tuple[RenderedEmail, str]] = field(default_factory=dict)

    def render(self, papers: Sequence[Paper] | None = None, *, unsubscribe_url: str = "") -> (
        RenderedEmail
    ):
        """The email for `papers` (a selection from this digest; None = every paper)."""
        if papers is None:
            selection = tuple(range(len(self.views)))
        else:
            selection = tuple(sorted({self._index(p) for p in papers}))
        reserve = _unsubscribe_reserve(unsubscribe_url, self.settings)
        key = (selection, bool(unsubscribe_url), reserve)
        cached = self._cache.get(key)
        if cached is None:
            cached = _assemble(self, selection, unsubscribe=bool(unsubscribe_url), reserve=reserve)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = cached
        rendered, token = cached
        if not unsubscribe_url:
            return rendered
        url = unsubscribe_url if unsubscribe_url.startswith("https://") else ""
        return RenderedEmail(
            subject=rendered.subject,
            html=rendered.html.replace(token, str(escape(url))),
            text=rendered.text.replace(token, header_value(url)),
            total=rendered.total,
            shown_full=rendered.shown_full,
            shown_title_only=rendered.shown_title_only,
            more=rendered.more,
        )

    def _index(self, paper: Paper) -> int:
        try:
            return self.index_of[paper.id]
        except KeyError:
            raise ValueError(f"paper {paper.id!r} is not in digest {self.digest.name}") from None


def _unsubscribe_reserve(url: str, settings: Settings) -> int:
    """Room kept for the per-recipient unsubscribe URL, in steps so the cache is shared."""
    longest = max(len(url), len(settings.email.unsubscribe_url) + 120, 200)
    return (longest // 256 + 1) * 256


def date_text(digest: Digest) -> str:
    return digest.date.isoformat() if digest.date else digest.name


def make_subject(digest: Digest, settings: Settings, *, count: int) -> str:
    """The subject from `email.subject`, on one line whatever the digest contains."""
    values = {
        "date": date_text(digest),
        "count": count,
        "papers": plural(count, "paper"),
        "title": settings.site.title,
        "name": digest.name,
    }
    try:
        subject = settings.email.subject.format_map(values)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"email.subject = {settings.email.subject!r} is not valid: {exc}; use the fields "
            "{date}, {count}, {papers}, {title} and {name}"
        ) from None
    return header_value(subject)


def prepare_email(digest: Digest, settings: Settings, *, env: jinja2.Environment) -> (
    PreparedDigest
):
    """Render the email once with every piece in it, inline its CSS, and cut it into pieces."""
    marker = Marker.new()
    day_path = f"days/{quote(digest.name)}.html"
    base = settings.site.base_url
    index_of: dict[str, int] = {}
    for i, paper in enumerate(digest.papers):
        index_of.setdefault(paper.id, i)
    views = tuple(paper_view(p, i) for i, p in enumerate(digest.papers))
    groups: dict[str, list[PaperView]] = {code: [] for code in digest.categories}
    for view in views:
        groups.setdefault(view.category, []).append(view)
    categories = tuple(
        category_view(code, base_url=base, day_path=day_path) for code, v in groups.items() if v
    )
    sections = [
        _Section(
            category=cat,
            count=marker.token(f"c{s}"),
            more=marker.token(f"m{s}"),
            papers=groups[cat.code],
        )
        for s, cat in enumerate(categories)
    ]
    context = {
        "lang": settings.site.language,
        "site_title": settings.site.title,
        "date_text": date_text(digest),
        "name": digest.name,
        "subject": marker.token("subject"),
        "preheader": marker.token("preheader"),
        "lede": marker.token("lede"),
        "total": marker.token("total"),
        "unsubscribe_url": marker.token("unsub"),
        "day_url": site_url(base, day_path),
        "index_url": site_url(base, "index.html"),
        "all_feed_url": site_url(base, "all.atom.xml"),
        "sections": sections,
        "mark": marker.mark,
    }
    html = inline_css(render_template(env, "email.html.j2", **context))
    text = render_template(env, "email.txt.j2", **context)
    html_pieces = marker.split(html, template="email.html.j2")
    text_pieces = marker.split(text, template="email.txt.j2")
    sizes = {
        name: measure(marker.probe(piece), marker.probe(text_pieces.get(name, "")))
        for name, piece in html_pieces.items()
    }
    return PreparedDigest(
        digest=digest,
        settings=settings,
        marker=marker,
        categories=categories,
        section_of={cat.code: s for s, cat in enumerate(categories)},
        index_of=index_of,
        views=views,
        html=html_pieces,
        text=text_pieces,
        sizes=sizes,
    )


def _preheader(prep: PreparedDigest, order: list[int], counts: dict[int, int]) -> str:
    """The hidden first line inboxes show: the count, the biggest categories, the first title."""
    total = sum(counts.values())
    if not total:
        return f"{prep.settings.site.title}: no papers matched your filter today."
    biggest = sorted(order, key=lambda s: -counts[s])
    parts = [f"{prep.categories[s].name} {counts[s]}" for s in biggest[:4]]
    if len(biggest) > 4:
        parts.append(f"+{len(biggest) - 4} more categories")
    first = next(v for v in prep.views if prep.section_of[v.category] == order[0])
    text = f"{plural(total, 'paper')}: {', '.join(parts)}. First: {first.title}"
    return text if len(text) <= 200 else text[:199].rstrip() + "…"


def _lede(total: int, sections: int, plans: Sequence[SectionPlan]) -> str:
    cats = plural(sections, "category", "categories")
    lede = f"{plural(total, 'paper')} in {cats}."
    full = sum(p.full for p in plans)
    titles = sum(p.title for p in plans)
    if full + titles < total or titles:
        lede += (
            f" Too many for one email: {full} with their TL;DR, {titles} more by title;"
            " every paper is on the web page."
        )
    return lede


def _costs(
    prep: PreparedDigest, order: list[int], chosen: dict[int, list[int]], *, fixed_names: list[str]
) -> tuple[Size, list[SectionCost]]:
    """The size of the pieces every email has, and per section its pieces' sizes."""
    sizes = prep.sizes
    fixed = sum((sizes[n] for n in fixed_names), Size())
    costs = [
        SectionCost(
            head=sizes[f"sec:{s}"] + sizes[f"chip:{s}"] + sizes["chip_sep:0"],
            more=sizes[f"more:{s}"],
            full=[sizes[f"full:{i}"] for i in chosen[s]],
            title=[sizes[f"title:{i}"] for i in chosen[s]],
        )
        for s in order
    ]
    return fixed, costs


def _assemble(
    prep: PreparedDigest, selection: tuple[int, ...], *, unsubscribe: bool, reserve: int
) -> tuple[RenderedEmail, str]:
    """Fit the selection under the budget and put its email together from the pieces.

    Sizes are estimated from the pieces; the result is then measured exactly once (twice in
    the rare case the estimate was short) with the unsubscribe URL at its reserved length.
    """
    m = prep.marker
    chosen: dict[int, list[int]] = {}
    for i in selection:
        chosen.setdefault(prep.section_of[prep.views[i].category], []).append(i)
    order = sorted(chosen)
    counts = {s: len(chosen[s]) for s in order}
    total = len(selection)
    subject = make_subject(prep.digest, prep.settings, count=total)
    preheader = _preheader(prep, order, counts)
    fixed_names = ["start", "chips", "head_end", "foot", "unsub_end"]
    fixed_names += ["unsub"] if unsubscribe else []
    fixed_names += [] if total else ["empty"]
    fixed, costs = _costs(prep, order, chosen, fixed_names=fixed_names)
    longest_lede = _lede(total, len(order), [SectionPlan(full=0, title=1, more=1)])
    texts = (subject, preheader, longest_lede)
    fixed = fixed + measure("".join(str(escape(t)) for t in texts), subject + longest_lede)
    # Headers, the subject in its header, and the unsubscribe URL in List-Unsubscribe (the
    # URL in the two bodies is measured with the token replaced by `reserve` characters).
    overhead = HEADER_RESERVE + 2 * len(subject.encode()) + (reserve if unsubscribe else 0)
    limit = prep.settings.email.max_bytes
    budget = limit - overhead
    unsub_token = m.token("unsub")
    for _attempt in range(8):
        plans = plan_sections(costs, fixed=fixed, budget=budget)
        values = {
            "subject": subject,
            "preheader": preheader,
            "lede": _lede(total, len(order), plans),
            "total": str(total),
            "unsub": unsub_token if unsubscribe else "",
        }
        for s, plan in zip(order, plans, strict=True):
            values[f"c{s}"] = str(counts[s])
            values[f"m{s}"] = str(plan.more)
        html_values = {k: str(escape(v)) for k, v in values.items()}
        names = _piece_names(order, chosen, plans, unsubscribe=unsubscribe, empty=not total)
        out_html = "".join(m.fill(prep.html[n], html_values) for n in names)
        out_text = "".join(m.fill(prep.text.get(n, ""), values) for n in names)
        probe = "x" * reserve
        size = overhead + encoded_size(out_html.replace(unsub_token, probe))
        size += encoded_size(out_text.replace(unsub_token, probe))
        if size <= limit:
            break
        if budget <= 0:
            log.warning("%s: the email is %d bytes even with every paper only counted "
                        "(email.max_bytes = %d)", prep.digest.name, size, limit)
            break
        budget -= size - limit + 500
    rendered = RenderedEmail(
        subject=subject,
        html=out_html,
        text=out_text,
        total=total,
        shown_full=sum(p.full for p in plans),
        shown_title_only=sum(p.title for p in plans),
        more={prep.categories[s].code: p.more for s, p in zip(order, plans, strict=True) if p.more},
    )
    return rendered, unsub_token


def _piece_names(
    order: list[int],
    chosen: dict[int, list[int]],
    plans: Sequence[SectionPlan],
    *,
    unsubscribe: bool,
    empty: bool,
) -> list[str]:
    """The names of the pieces that make up one email, in order."""
    names = ["start", "chips"]
    for n, s in enumerate(order):
        names += ["chip_sep:0", f"chip:{s}"] if n else [f"chip:{s}"]
    names.append("head_end")
    if empty:
        names.append("empty")
    for s, plan in zip(order, plans, strict=True):
        ids = chosen[s]
        names.append(f"sec:{s}")
        names += [f"full:{i}" for i in ids[: plan.full]]
        names += [f"title:{i}" for i in ids[plan.full : plan.full + plan.title]]
        if plan.more:
            names.append(f"more:{s}")
    names.append("foot")
    if unsubscribe:
        names.append("unsub")
    names.append("unsub_end")
    return names


def render_email(
    digest: Digest,
    settings: Settings,
    *,
    env: jinja2.Environment,
    papers: Sequence[Paper] | None = None,
    unsubscribe_url: str = "",
    prepared: PreparedDigest | None = None,
) -> RenderedEmail:
    """One subscriber's email: `papers` is their selection from `digest` (None = every paper).

    Pass `prepared` (from prepare_email) when rendering many subscribers: preparing runs
    premailer over the whole digest once; rendering one selection from it is cheap.
    """
    prepared = prepared or prepare_email(digest, settings, env=env)
    return prepared.render(papers, unsubscribe_url=unsubscribe_url)


def render_day_page(prep: PreparedDigest, *, env: jinja2.Environment) -> str:
    """The whole digest as a web page: every paper with every field, by category, with a TOC."""
    groups: dict[str, list[PaperView]] = {cat.code: [] for cat in prep.categories}
    for view in prep.views:
        groups[view.category].append(view)
    base = prep.settings.site.base_url
    return render_template(
        env,
        "day.html.j2",
        lang=prep.settings.site.language,
        site_title=prep.settings.site.title,
        date_text=date_text(prep.digest),
        name=prep.digest.name,
        total=len(prep.views),
        sections=[(cat, groups[cat.code]) for cat in prep.categories],
        index_url=site_url(base, "index.html"),
        all_feed_url=site_url(base, "all.atom.xml"),
        email_url=site_url(base, f"email/{quote(prep.digest.name)}.html"),
    )


def render_digest_files(
    digest: Digest, settings: Settings, *, env: jinja2.Environment
) -> dict[str, bytes]:
    """The files `generate` writes for one digest: the unfiltered email (HTML, text), day page."""
    prep = prepare_email(digest, settings, env=env)
    email = prep.render()
    name = digest.name
    return {
        f"email/{name}.html": email.html.encode("utf-8"),
        f"email/{name}.txt": email.text.encode("utf-8"),
        f"days/{name}.html": render_day_page(prep, env=env).encode("utf-8"),
    }
