"""`newsletter run`: pick up digests as they land, rebuild the feeds, mail on the cron schedule.

The truth lives in the app's own state database (digests seen with their sha256, deliveries, the
last send slot handled); APScheduler only keeps the two jobs (poll, send) in memory and runs them
one at a time on a single worker thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from newsletter.config import Settings
from newsletter.crontime import WallClockCron, make_trigger
from newsletter.delivery import SendReport, Transport, record_digest_seen, send_digests
from newsletter.errors import NewsletterError, StateError
from newsletter.inbox import file_sha256
from newsletter.models import plural
from newsletter.parse import read_digest
from newsletter.pipeline import generate
from newsletter.state import State, make_owner_id, open_state, utc_now
from newsletter.subscribers import load_subscribers
from newsletter.watch import InboxWatcher

log = logging.getLogger(__name__)

LOCK_NAME = "scheduler"
LAST_SLOT_KEY = "scheduler.last_send_slot"
Clock = Callable[[], dt.datetime]


@dataclass
class Daemon:
    """The scheduler's work, callable step by step (tests drive it with their own clock)."""

    settings: Settings
    state: State
    clock: Clock = utc_now
    transport: Transport | None = None  # None: a real SMTP connection per batch
    stop: threading.Event = field(default_factory=threading.Event)
    trigger: WallClockCron = field(init=False)
    watcher: InboxWatcher = field(init=False)
    retry_at: dt.datetime | None = None
    reported: set[str] = field(default_factory=set)  # "path: reason" lines already logged

    def __post_init__(self) -> None:
        self.trigger = make_trigger(self.settings)
        self.watcher = InboxWatcher(
            self.settings.input.dir, self.settings.input.pattern,
            settle_seconds=self.settings.schedule.settle_seconds,
        )

    # -- picking up digests -------------------------------------------------------------------

    def poll(self, *, monotonic: float | None = None) -> list[str]:
        """Scan the inbox once; parse and record new or changed files; rebuild the feeds.

        Returns the names of digests that were new or changed and parsed. A file that fails to
        parse is logged and recorded with its error, and is not read again until it changes.
        """
        ready = self.watcher.poll(time.monotonic() if monotonic is None else monotonic)
        picked: list[str] = []
        for path in ready:
            if self._pick_up(path):
                picked.append(path.stem)
        for name in self.watcher.removed:
            log.info("%s was removed from %s", name, self.settings.input.dir)
        if picked or self.watcher.removed:
            self._rebuild_feeds()
        return picked

    def _pick_up(self, path: Path) -> bool:
        try:
            sha = file_sha256(path)
        except OSError as exc:
            log.error("%s: cannot read: %s", path, exc.strerror)
            return False
        known = self.state.get_digest(path.stem)
        if known is not None and known.sha256 == sha:
            return False  # same content as last time (a restart, or a touch)
        now = self.clock()
        try:
            digest = read_digest(path)
        except NewsletterError as exc:
            log.error("%s", exc)
            record_digest_seen(self.state, path, None, error=str(exc), sha256=sha, now=now)
            return False
        record_digest_seen(self.state, path, digest, sha256=sha, now=now)
        verb = "changed" if known is not None else "picked up"
        log.info("%s %s: %s, %s", verb, path, plural(len(digest.papers), "paper"),
                 plural(len(digest.problems), "problem"))
        for problem in digest.problems:
            log.warning("%s", problem.describe(str(path)))
        return True

    def _rebuild_feeds(self) -> None:
        # A file's parse problems were logged once, when it was picked up; a digest the build
        # leaves out is logged once per reason (e.g. two files with the same name).
        report = generate(self.settings, log_problems=False)
        for bad in report.bad:
            said = bad.describe()
            if said not in self.reported:
                self.reported.add(said)
                log.error("left out of the feeds: %s", said)
        skipped = f", {len(report.bad)} bad digest(s) left out" if report.bad else ""
        log.info("feeds rebuilt in %s: %d file(s) written%s", report.out, len(report.written),
                 skipped)

    # -- sending ------------------------------------------------------------------------------

    def catch_up(self) -> bool:
        """At start: send once now if a send time passed while the daemon was down, or if an
        earlier run left messages pending (stopped mid-batch, or the SMTP server was down)."""
        now = self.clock()
        last = self.state.get_meta(LAST_SLOT_KEY)
        missed = None
        if last is None:  # first start: the schedule begins now
            self.state.set_meta(LAST_SLOT_KEY, now.isoformat())
        else:
            missed = self.trigger.latest_slot(since=dt.datetime.fromisoformat(last), now=now)
        if missed is not None:
            log.info("send time %s passed while stopped: sending now",
                     missed.astimezone(self.trigger.zone).isoformat(timespec="minutes"))
            self.send_due(slot=missed)
            return True
        if self.state.has_pending_deliveries():
            log.info("messages left pending by an earlier run: sending them now")
            self.send_due()
            return True
        return False

    def send_due(self, *, slot: dt.datetime | None = None) -> SendReport | None:
        """Mail every arrived digest that is not yet sent; digests too old are skipped."""
        now = self.clock()
        self._skip_old_digests(now)
        if not load_subscribers(self.settings).subscribers:
            if slot is not None:
                self.state.set_meta(LAST_SLOT_KEY, slot.isoformat())
            log.info("no subscribers configured: feeds only, nothing to mail")
            return None
        try:
            report = send_digests(self.settings, transport=self.transport,
                                  now=self.clock, should_stop=self.stop.is_set)
        except NewsletterError as exc:
            log.error("send failed: %s", exc)
            self._schedule_retry(now)
            return None
        finally:
            if slot is not None:
                self.state.set_meta(LAST_SLOT_KEY, slot.isoformat())
        if any(item.pending for item in report.digests):
            self._schedule_retry(now)
        else:
            self.retry_at = None
        return report

    def _skip_old_digests(self, now: dt.datetime) -> None:
        max_age = self.settings.schedule.max_age_days
        if max_age <= 0:
            return
        today = now.astimezone(self.trigger.zone).date()
        oldest = today - dt.timedelta(days=max_age)
        for row in self.state.list_digests():
            if row.status == "new" and row.date is not None and row.date < oldest.isoformat():
                reason = (f"older than schedule.max_age_days ({max_age}): {row.date} < "
                          f"{oldest.isoformat()}; `newsletter send {row.path}` mails it anyway")
                self.state.mark_digest_skipped(row.name, reason, now=now)
                log.warning("not mailing %s: %s", row.name, reason)

    def _schedule_retry(self, now: dt.datetime) -> None:
        delay = dt.timedelta(seconds=self.settings.schedule.retry_seconds)
        self.retry_at = now + delay
        log.warning("unsent messages stay pending; next attempt at %s",
                    self.retry_at.isoformat(timespec="seconds"))

    def retry_if_due(self) -> None:
        if self.retry_at is not None and self.clock() >= self.retry_at:
            self.retry_at = None
            self.send_due()


def run_scheduler(settings: Settings, *, install_signals: bool = True) -> int:
    """The foreground daemon: returns 0 after SIGTERM/SIGINT once the work in flight is done."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    owner = make_owner_id()
    state = open_state(settings.state.path)
    stale = dt.timedelta(seconds=max(300.0, 5 * settings.schedule.poll_seconds))
    holder = state.acquire_lock(LOCK_NAME, owner=owner, stale_after=stale)
    if holder is not None:
        state.close()
        raise StateError(
            f"another `newsletter run` is already using {settings.state.path} "
            f"({holder.owner}, since {holder.acquired_at}); stop it first, or give this one its "
            "own state.path"
        )
    stop = threading.Event()
    daemons: list[Daemon] = []  # made in the worker thread: an sqlite3 connection stays in one

    def daemon_here() -> Daemon:
        if not daemons:
            daemons.append(Daemon(settings, open_state(settings.state.path), stop=stop))
        return daemons[0]

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: finishing the work in flight, then stopping",
                 signal.Signals(signum).name)
        stop.set()

    if install_signals:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def poll_job() -> None:
        if stop.is_set():
            return
        try:
            daemon = daemon_here()
            daemon.state.renew_lock(LOCK_NAME, owner=owner)
            picked = daemon.poll()
            if picked and settings.schedule.send_on_arrival:
                daemon.send_due()
            else:
                daemon.retry_if_due()
        except Exception:  # one bad cycle must not kill the daemon
            log.exception("poll failed; trying again at the next poll")

    def send_job() -> None:
        if stop.is_set():
            return
        try:
            daemon = daemon_here()
            daemon.send_due(slot=daemon.clock())
        except Exception:
            log.exception("send failed; unsent messages stay pending")

    def start_job() -> None:
        poll_job()
        if not stop.is_set():
            try:
                daemon_here().catch_up()
            except Exception:
                log.exception("catch-up send failed; unsent messages stay pending")

    scheduler = BackgroundScheduler(
        timezone=dt.UTC,
        executors={"default": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    now = utc_now()
    scheduler.add_job(start_job, "date", run_date=now, id="start")
    scheduler.add_job(poll_job, IntervalTrigger(seconds=settings.schedule.poll_seconds,
                                                timezone=dt.UTC),
                      id="poll", next_run_time=now + dt.timedelta(
                          seconds=settings.schedule.poll_seconds))
    trigger = make_trigger(settings)
    scheduler.add_job(send_job, trigger, id="send")
    due = trigger.next_slot(now).astimezone(trigger.zone)
    log.info("scheduler started: watching %s (%s) every %gs; next send %s",
             settings.input.dir, settings.input.pattern, settings.schedule.poll_seconds,
             due.isoformat(timespec="minutes"))
    if not settings.input.dir.is_dir():
        log.warning("input.dir %s does not exist (yet): digests are picked up once it does",
                    settings.input.dir)
    scheduler.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        scheduler.shutdown(wait=True)
        for daemon in daemons:
            daemon.state.close()
        state.release_lock(LOCK_NAME, owner=owner)
        state.close()
    log.info("scheduler stopped")
    return 0
