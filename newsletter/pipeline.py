"""`generate`: pick the window of digests, parse them, render feeds, pages and email, write."""

from __future__ import annotations

import functools
import itertools
import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import jinja2

from newsletter.config import Settings
from newsletter.errors import DigestError, NewsletterError
from newsletter.feeds import ALL_FEED, FeedSet
from newsletter.inbox import date_from_name, list_digest_files
from newsletter.models import Digest
from newsletter.writer import WriteResult, write_outputs

log = logging.getLogger(__name__)

# From this many digests on, email and day pages are rendered by a pool of processes (start-up
# of a worker costs ~0.3 s, one digest ~0.2 s); the default window of 7 stays in-process.
PARALLEL_FROM = 16
MAX_WORKERS = 4

NO_DATE = "no date: name the file YYYY-MM-DD*.md (e.g. 2025-06-04.md) so its papers can be dated"


@dataclass(frozen=True, slots=True)
class BadDigest:
    """A digest that could not be used, and why (for the user: path + reason)."""

    path: Path
    reason: str

    def describe(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True, slots=True)
class GenerateReport:
    """What one `generate` run did."""

    out: Path
    digests: tuple[Digest, ...]  # the good digests of the window, oldest first
    bad: tuple[BadDigest, ...]
    results: tuple[WriteResult, ...]
    feeds: int
    papers: int  # distinct papers in the window

    @property
    def ok(self) -> bool:
        return not self.bad

    @property
    def written(self) -> tuple[Path, ...]:
        return tuple(r.path for r in self.results if r.changed)


def select_window(settings: Settings) -> list[Path]:
    """The newest `feeds.days` digest files of input.dir, oldest first (undated files skipped)."""
    folder, pattern = settings.input.dir, settings.input.pattern
    files = list_digest_files(folder, pattern)
    dated = [p for p in files if date_from_name(p.name) is not None]
    for path in files:
        if date_from_name(path.name) is None:
            log.warning("skipping %s: %s", path, NO_DATE)
    if not dated:
        raise NewsletterError(
            f"no digest files matching {pattern!r} with a YYYY-MM-DD name in {folder}; "
            "pass DIGEST paths, or set input.dir / input.pattern in newsletter.toml"
        )
    return dated[-settings.feeds.days:]


def load_digests(
    paths: Sequence[Path], *, log_problems: bool = True
) -> tuple[list[Digest], list[BadDigest]]:
    """Parse every path; the bad ones come back with their reason instead of stopping the run.

    Two digests with the same name (file stem) would write the same day page and email files:
    the first one wins and the other is reported.
    """
    from newsletter.parse import read_digest

    good: list[Digest] = []
    bad: list[BadDigest] = []
    names: dict[str, Path] = {}
    for path in paths:
        try:
            digest = read_digest(path)
        except DigestError as exc:
            bad.append(BadDigest(path, exc.reason))
            continue
        if digest.date is None:
            bad.append(BadDigest(path, NO_DATE))
            continue
        if digest.name in names:
            bad.append(BadDigest(path, (
                f"same name as {names[digest.name]}: their days/ and email/ files would "
                "overwrite each other; rename one, or narrow input.pattern (e.g. '*.md')")))
            continue
        names[digest.name] = path
        if log_problems:
            for problem in digest.problems:
                log.warning("%s", problem.describe(digest.source))
        good.append(digest)
    good.sort(key=lambda d: (d.date, d.name))
    return good, bad


def render_site(
    digests: Sequence[Digest], settings: Settings, *, env: jinja2.Environment
) -> tuple[dict[str, bytes], FeedSet]:
    """The feeds, feeds.opml and index.html of the window as name -> bytes (pure)."""
    from newsletter.feeds import build_feeds, render_feed
    from newsletter.site import INDEX_NAME, OPML_NAME, render_index, render_opml

    feed_set = build_feeds(digests, site_title=settings.site.title,
                           max_entries=settings.feeds.max_entries)
    files = {feed.filename: render_feed(feed, site=settings.site) for feed in feed_set.feeds}
    files[OPML_NAME] = render_opml(feed_set, site=settings.site, updated=feed_set.feeds[0].updated)
    files[INDEX_NAME] = render_index(feed_set, digests, site=settings.site, env=env)
    return files, feed_set


def _email_files(
    digests: Sequence[Digest], settings: Settings, *, env: jinja2.Environment, workers: int
) -> dict[str, bytes]:
    """email/<name>.html, email/<name>.txt and days/<name>.html for every digest (compose stage).

    Each digest is independent and premailer is CPU-bound, so a big window (a rebuild of a
    year) is rendered by a pool of processes; a small one stays in this process.
    """
    from newsletter.compose import render_digest_files

    files: dict[str, bytes] = {}
    if workers < 2 or len(digests) < 2:
        for digest in digests:
            files.update(render_digest_files(digest, settings, env=env))
        return files
    # spawn, not fork: the scheduler calls this from a worker thread of a threaded process.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for rendered in pool.map(_render_in_worker, digests, itertools.repeat(settings),
                                 chunksize=4):
            files.update(rendered)
    return files


def _render_in_worker(digest: Digest, settings: Settings) -> dict[str, bytes]:
    from newsletter.compose import render_digest_files

    return render_digest_files(digest, settings, env=_worker_environment(settings.email.templates))


@functools.lru_cache(maxsize=2)
def _worker_environment(templates: Path | None) -> jinja2.Environment:
    from newsletter.templating import make_environment

    return make_environment(templates)


def _default_workers(digests: int) -> int:
    """Processes for rendering `digests` email/day pages: one below PARALLEL_FROM digests."""
    if digests < PARALLEL_FROM:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def generate(
    settings: Settings,
    *,
    digests: Sequence[Path] = (),
    out: Path | None = None,
    log_problems: bool = True,
    workers: int | None = None,
) -> GenerateReport:
    """Write feeds, OPML, index and email files for `digests` (default: the inbox window).

    Bad digests are reported in the result, the good ones are still generated; nothing is
    deleted, and each file is replaced atomically, only when its bytes change.
    """
    from newsletter.templating import make_environment

    out = out or settings.feeds.out
    paths = list(digests) if digests else select_window(settings)
    good, bad = load_digests(paths, log_problems=log_problems)
    results: list[WriteResult] = []
    feeds = papers = 0
    if good:
        env = make_environment(settings.email.templates)
        files, feed_set = render_site(good, settings, env=env)
        for code in feed_set.skipped_categories:
            log.warning("category %r is not a safe file name: its papers are only in %s",
                        code, ALL_FEED)
        pool = _default_workers(len(good)) if workers is None else workers
        files.update(_email_files(good, settings, env=env, workers=pool))
        results = write_outputs(out, files)
        feeds, papers = len(feed_set.feeds), feed_set.feeds[0].total
    report = GenerateReport(out=out, digests=tuple(good), bad=tuple(bad), results=tuple(results),
                            feeds=feeds, papers=papers)
    changed = len(report.written)
    log.info("generated %d feeds, %d papers from %d digest(s) into %s: %d file(s) written, "
             "%d unchanged, %d bad digest(s)", feeds, papers, len(good), out, changed,
             len(results) - changed, len(bad))
    return report
