"""The send pipeline: which digests to mail, exactly once per recipient, through the state DB."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from newsletter.config import Settings, Subscriber
from newsletter.errors import ConfigError, DigestError, SmtpSetupError
from newsletter.inbox import file_sha256, list_digest_files
from newsletter.models import Digest
from newsletter.outgoing import MessageBuilder, Plan, Recipient, plan_recipients
from newsletter.parse import read_digest
from newsletter.state import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    State,
    is_unknown,
    make_owner_id,
    open_state,
    utc_now,
)
from newsletter.subscribers import load_subscribers
from newsletter.templating import make_environment
from newsletter.transport import Outcome, SendResult, SmtpTransport
from newsletter.unsubscribe import load_secret
from newsletter.writer import write_file

log = logging.getLogger(__name__)

# Test hook: the process exits (os._exit) right after it moved this recipient's row to
# `sending`, to prove a crash there is reported as "unknown" and never resent blindly.
CRASH_HOOK_ENV = "NEWSLETTER_TEST_EXIT_AFTER_SENDING"
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._@+-]+")


class Transport(Protocol):
    def send(self, sender: str, recipient: str, data: bytes, *, crlf: bool = False
             ) -> SendResult: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DigestReport:
    """What happened to one digest in this run (counts of recipients)."""

    name: str
    sent: int = 0  # accepted by the server in this run
    failed: int = 0  # permanently refused in this run
    unknown: int = 0  # left in `sending`: maybe delivered (a crash, or a drop after DATA)
    pending: int = 0  # still to send (temporary failures, or the batch stopped)
    already: int = 0  # sent in an earlier run (or by another process)
    suppressed: int = 0
    empty: int = 0  # their filter matched nothing (and email.send_empty is false)
    written: tuple[Path, ...] = ()  # --dry-run files
    test: bool = False  # a --to test send

    @property
    def unsent(self) -> int:
        return self.failed + self.unknown + self.pending


@dataclass(frozen=True, slots=True)
class SendReport:
    digests: tuple[DigestReport, ...] = ()
    errors: tuple[str, ...] = ()  # digest files that could not be read
    warnings: tuple[str, ...] = field(default=())

    @property
    def unsent(self) -> int:
        return sum(d.unsent for d in self.digests)


def record_digest_seen(state: State, path: Path, digest: Digest | None, *,
                       error: str | None = None, sha256: str | None = None,
                       now: dt.datetime | None = None) -> None:
    """Record a digest file in the state database (or its parse error)."""
    state.record_digest(
        now=now,
        name=digest.name if digest else path.stem,
        path=str(path),
        sha256=sha256 or file_sha256(path),
        date=digest.date if digest else None,
        papers=len(digest.papers) if digest else 0,
        problems=len(digest.problems) if digest else 0,
        error=error,
    )


def send_digests(
    settings: Settings,
    *,
    digests: Sequence[Path] | None = None,
    to: str | None = None,
    dry_run: bool = False,
    outbox: Path = Path("outbox"),
    retry_unknown: bool = False,
    transport: Transport | None = None,
    now: Callable[[], dt.datetime] = utc_now,
    should_stop: Callable[[], bool] = lambda: False,
) -> SendReport:
    """`newsletter send`: mail the named digests, or every arrived and unsent one, oldest first.

    Raises SmtpSetupError when the server cannot be reached or refuses the login; rows that were
    not sent stay pending for the next run.
    """
    named = digests is not None and len(digests) > 0
    if not named and not settings.input.dir.is_dir():
        raise ConfigError(f"input.dir {settings.input.dir} is not a folder: set input.dir in "
                          "the config, or name a DIGEST file")
    paths = list(digests) if named and digests else list_digest_files(
        settings.input.dir, settings.input.pattern)
    if to is not None and not named:
        paths = paths[-1:]  # a test send without DIGEST: the newest digest
    # A dry run records no delivery, but it opens (or creates) the database too, so that the
    # unsubscribe secret exists and the tokens in its .eml files stay valid for the real send.
    state: State | None = open_state(settings.state.path)
    own_transport = transport is None
    smtp: Transport = transport or SmtpTransport(settings.smtp)
    reports: list[DigestReport] = []
    errors: list[str] = []
    try:
        subscribers = () if to else load_subscribers(settings).subscribers
        if to is None and not subscribers:
            raise ConfigError("no subscribers to mail: add [[subscribers]] to the config or "
                              "set subscribers_file (or use --to ADDRESS for a test send)")
        for path in paths:
            if should_stop():
                break
            if not named and to is None and state is not None and _is_done(state, path.stem):
                continue
            digest = _read(path, state=state, record=not dry_run, named=named,
                           errors=errors)
            if digest is None:
                continue
            job = _Job(settings, digest, state=state, now=now())
            if dry_run:
                reports.append(job.write_outbox(subscribers, to=to, outbox=outbox))
            elif to is not None:
                assert state is not None
                reports.append(job.send_test(smtp, to))
            else:
                assert state is not None
                reports.append(job.deliver(subscribers, smtp, retry_unknown=retry_unknown,
                                           should_stop=should_stop))
    finally:
        if own_transport:
            smtp.close()
        if state is not None:
            state.close()
    return SendReport(tuple(reports), tuple(errors))


def send_pending(settings: Settings, *, transport: Transport | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> SendReport:
    """For the scheduler: mail every arrived digest that is not yet sent (nor skipped)."""
    return send_digests(settings, transport=transport, should_stop=should_stop)


def _is_done(state: State, name: str) -> bool:
    row = state.get_digest(name)
    return row is not None and row.status in ("sent", "skipped")


def _read(path: Path, *, state: State | None, record: bool, named: bool,
          errors: list[str]) -> Digest | None:
    try:
        digest = read_digest(path)
    except DigestError as exc:
        if named:
            raise
        log.warning("%s", exc)
        errors.append(str(exc))
        if record and state is not None and path.is_file():
            record_digest_seen(state, path, None, error=exc.reason)
        return None
    if record and state is not None:
        record_digest_seen(state, path, digest)
    return digest


class _Job:
    """One digest being mailed."""

    def __init__(self, settings: Settings, digest: Digest, *, state: State | None,
                 now: dt.datetime) -> None:
        self.settings = settings
        self.digest = digest
        self.state = state
        self.builder = MessageBuilder(
            digest, settings, env=make_environment(settings.email.templates),
            secret=load_secret(state, create=state is not None and not state.read_only),
            now=now,
        )

    def plan(self, subscribers: Sequence[Subscriber]) -> Plan:
        suppressed = self.state.list_suppressed() if self.state is not None else frozenset()
        return plan_recipients(self.digest, subscribers, suppressed=suppressed,
                               send_empty=self.settings.email.send_empty)

    def write_outbox(self, subscribers: Sequence[Subscriber], *, to: str | None,
                     outbox: Path) -> DigestReport:
        plan = (Plan((Recipient(to, "", None),), 0, 0) if to is not None
                else self.plan(subscribers))
        written: list[Path] = []
        for recipient in plan.recipients:
            data = self.builder.build(recipient, message_id=self.builder.new_message_id())
            name = _UNSAFE_FILE_CHARS.sub("_", f"{self.digest.name}__{recipient.address}")
            target = outbox / f"{name.strip('.')}.eml"
            write_file(target, data)
            written.append(target)
        log.info("%s: wrote %d message(s) to %s", self.digest.name, len(written), outbox)
        return DigestReport(self.digest.name, suppressed=plan.suppressed, empty=plan.empty,
                            written=tuple(written))

    def send_test(self, transport: Transport, to: str) -> DigestReport:
        assert self.state is not None
        message_id = self.builder.new_message_id()
        data = self.builder.build(Recipient(to, "", None), message_id=message_id)
        result = transport.send(self.builder.sender, to, data, crlf=True)
        status = SENT if result.outcome is Outcome.SENT else FAILED
        self.state.record_test_send(self.digest.name, to, message_id=message_id, status=status,
                                    error=result.error or None)
        log.info("%s: test send to %s: %s", self.digest.name, to, result.outcome.value)
        ok = result.outcome is Outcome.SENT
        return DigestReport(self.digest.name, sent=int(ok), failed=int(not ok), test=True)

    def deliver(self, subscribers: Sequence[Subscriber], transport: Transport, *,
                retry_unknown: bool, should_stop: Callable[[], bool]) -> DigestReport:
        state = self.state
        assert state is not None
        name = self.digest.name
        plan = self.plan(subscribers)
        state.add_deliveries(name, [(r.address, self.builder.new_message_id())
                                    for r in plan.recipients])
        rows = {row.recipient: row for row in state.list_deliveries(name)}
        owner = make_owner_id()
        tally = {SENT: 0, FAILED: 0, "already": 0}
        crash_on = os.environ.get(CRASH_HOOK_ENV, "").lower()
        todo: list[tuple[Recipient, str]] = []
        for recipient in plan.recipients:
            row = rows[recipient.address.lower()]
            if row.status in (SENT, FAILED) or (row.status == SENDING and not retry_unknown):
                tally["already"] += row.status == SENT
                continue
            todo.append((recipient, row.message_id))
        for recipient, data in self._built(todo):
            if should_stop():
                break
            claimed = state.claim_delivery(name, recipient.address, owner=owner,
                                           retry_unknown=retry_unknown)
            if claimed is None:
                continue  # another process has it, or it is done
            if crash_on and crash_on == recipient.address.lower():
                os._exit(75)
            try:
                result = transport.send(self.builder.sender, recipient.address, data,
                                        crlf=True)
            except SmtpSetupError as exc:
                state.finish_delivery(name, recipient.address, status=PENDING, owner=owner,
                                      error=str(exc))
                raise
            except BaseException:
                # Interrupted mid-transaction: the server may have the message. Unknown.
                state.finish_delivery(name, recipient.address, status=SENDING, owner=owner,
                                      error="interrupted during the SMTP transaction")
                raise
            status = {Outcome.SENT: SENT, Outcome.FAILED: FAILED, Outcome.DEFERRED: PENDING,
                      Outcome.UNKNOWN: SENDING}[result.outcome]
            state.finish_delivery(name, recipient.address, status=status, owner=owner,
                                  error=result.error or None)
            if status in tally:
                tally[status] += 1
            if result.error:
                log.warning("%s: %s: %s (%s)", name, recipient.address, result.outcome.value,
                            result.error)
        return self._finish(plan, tally, had_subscribers=bool(subscribers))

    def _built(self, todo: list[tuple[Recipient, str]]) -> Iterator[tuple[Recipient, bytes]]:
        """(recipient, message bytes) in order, each built just before it is sent.

        (Building the next message in a worker thread while the current one is on the wire
        was tried: no measurable gain on 2 cores, the GIL hand-over eats it.)
        """
        for recipient, message_id in todo:
            yield recipient, self.builder.build(recipient, message_id=message_id)

    def _finish(self, plan: Plan, tally: dict[str, int], *, had_subscribers: bool) -> DigestReport:
        state = self.state
        assert state is not None
        name = self.digest.name
        wanted = {p.address.lower() for p in plan.recipients}
        rows = [r for r in state.list_deliveries(name) if r.recipient in wanted]
        pending = sum(r.status == PENDING for r in rows)
        # `sending` rows with no live owner are unknown; a live process's are in flight and
        # that process reports them.
        unknown = sum(is_unknown(r) for r in rows)
        in_flight = sum(r.status == SENDING for r in rows) - unknown
        if had_subscribers and pending == 0 and unknown == 0 and in_flight == 0:
            state.mark_digest_sent(name)
        report = DigestReport(name, sent=tally[SENT], failed=tally[FAILED], unknown=unknown,
                              pending=pending, already=tally["already"],
                              suppressed=plan.suppressed, empty=plan.empty)
        log.info("%s: %d sent, %d failed, %d unknown, %d pending, %d sent before, "
                 "%d suppressed, %d with nothing selected", name, report.sent, report.failed,
                 report.unknown, report.pending, report.already, report.suppressed,
                 report.empty)
        return report
