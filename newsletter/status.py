"""`newsletter status`: digests seen and the state of their deliveries, as text or JSON."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsletter.errors import ConfigError
from newsletter.models import plural
from newsletter.state import FAILED, PENDING, SENDING, SENT, is_unknown, open_state
from newsletter.subscribers import is_valid_address
from newsletter.unsubscribe import load_secret, read_token

if TYPE_CHECKING:
    from newsletter.delivery import SendReport


@dataclass(frozen=True, slots=True)
class RecipientIssue:
    recipient: str
    status: str  # "failed" | "unknown" | "pending" (a temporary failure, retried next run)
    attempts: int
    last_error: str


@dataclass(frozen=True, slots=True)
class DigestStatus:
    name: str
    date: str | None
    papers: int
    problems: int
    status: str  # new | error | sent | skipped
    error: str | None
    skipped_reason: str | None
    sent: int
    failed: int
    unknown: int  # left in `sending` by a process that is gone (or after a drop after DATA)
    sending: int  # being sent right now by a live process
    pending: int
    test_sends: int
    issues: tuple[RecipientIssue, ...]


@dataclass(frozen=True, slots=True)
class StatusReport:
    database: str
    exists: bool
    digests: tuple[DigestStatus, ...]
    suppressed: int
    next_send_due: str | None  # ISO time; filled in by the scheduler's hook (None = unknown)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect_status(state_path: Path, *, next_send_due: dt.datetime | None = None) -> StatusReport:
    """Read the state database (never creating it) into a StatusReport.

    `next_send_due` is the hook for the scheduler: pass the next time `schedule.send_at` fires.
    """
    due = next_send_due.isoformat(timespec="minutes") if next_send_due else None
    if not state_path.exists():
        return StatusReport(str(state_path), False, (), 0, due)
    with open_state(state_path, read_only=True) as state:
        digests: list[DigestStatus] = []
        for row in state.list_digests():
            deliveries = state.list_deliveries(row.name)
            counts = {PENDING: 0, SENDING: 0, SENT: 0, FAILED: 0, "unknown": 0}
            issues: list[RecipientIssue] = []
            for d in deliveries:
                status = d.status
                if is_unknown(d):
                    status = "unknown"
                counts[status] += 1
                if status in (FAILED, "unknown") or (status == PENDING and d.last_error):
                    issues.append(RecipientIssue(d.recipient, status, d.attempts,
                                                 d.last_error or "outcome unknown"))
            digests.append(DigestStatus(
                name=row.name, date=row.date, papers=row.papers, problems=row.problems,
                status=row.status, error=row.error, skipped_reason=row.skipped_reason,
                sent=counts[SENT], failed=counts[FAILED], unknown=counts["unknown"],
                sending=counts[SENDING], pending=counts[PENDING],
                test_sends=state.count_test_sends(row.name), issues=tuple(issues),
            ))
        suppressed = len(state.list_suppressed())
    return StatusReport(str(state_path), True, tuple(digests), suppressed, due)


def format_status(report: StatusReport) -> str:
    """The human-readable text of `newsletter status`."""
    lines = [f"state: {report.database}"]
    if not report.exists:
        lines.append("no state database yet: nothing has been sent")
    lines.append(f"next send due: {report.next_send_due or 'not scheduled (newsletter run)'}")
    if report.exists:
        lines.append(f"suppressed addresses: {report.suppressed}")
        lines.append(f"digests seen: {len(report.digests)}")
    for d in report.digests:
        head = f"  {d.name}  {d.date or '-'}  {d.papers} papers"
        if d.problems:
            head += f", {plural(d.problems, 'problem')}"
        head += f"  [{d.status}]"
        lines.append(head)
        if d.error:
            lines.append(f"    error: {d.error}")
        if d.skipped_reason:
            lines.append(f"    skipped: {d.skipped_reason}")
        if d.sent or d.failed or d.unknown or d.sending or d.pending:
            lines.append(f"    sent {d.sent}, failed {d.failed}, unknown {d.unknown}, "
                         f"sending {d.sending}, pending {d.pending}")
        if d.test_sends:
            lines.append(f"    test sends: {d.test_sends}")
        for issue in d.issues:
            lines.append(f"    {issue.status}: {issue.recipient} (attempts {issue.attempts}): "
                         f"{issue.last_error}")
    if any(d.unknown for d in report.digests):
        lines.append("unknown = the process stopped after handing the message to the server "
                     "and before recording the answer; check the mailbox, then "
                     "`newsletter send --retry-unknown` to resend those")
    return "\n".join(lines)


def format_send_report(report: SendReport, *, inbox: Path, dry_run: bool = False) -> str:
    """What `newsletter send` prints: one line per digest, and what to do about the unsent."""
    lines: list[str] = []
    for d in report.digests:
        if dry_run:
            lines.append(f"{d.name}: wrote {len(d.written)} message(s)"
                         + (f" to {d.written[0].parent}" if d.written else "")
                         + f" ({d.suppressed} suppressed, {d.empty} with nothing selected)")
        elif d.test:
            lines.append(f"{d.name}: test send {'sent' if d.sent else 'FAILED'}")
        else:
            lines.append(f"{d.name}: {d.sent} sent, {d.failed} failed, {d.unknown} unknown, "
                         f"{d.pending} pending ({d.already} sent before, {d.suppressed} "
                         f"suppressed, {d.empty} with nothing selected)")
    if not report.digests and not report.errors:
        lines.append(f"nothing to send: no unsent digest in {inbox}")
    lines.extend(f"skipped: {error}" for error in report.errors)
    if any(d.unknown for d in report.digests):
        lines.append("unknown: the outcome of some messages is not known (a crash or a dropped "
                     "connection after the message was sent); see `newsletter status`, then "
                     "`newsletter send --retry-unknown` to resend them")
    if any(d.pending for d in report.digests):
        lines.append("pending: temporary failures; run `newsletter send` again later")
    return "\n".join(lines)


def add_unsubscribe(state_path: Path, value: str) -> str:
    """`newsletter unsubscribe ADDRESS|TOKEN`: add to the suppression list; the message to print.

    A token from a List-Unsubscribe URL is accepted too (checked against the signing secret).
    """
    value = value.strip()
    with open_state(state_path) as state:
        address = value
        if "@" not in value:
            decoded = read_token(load_secret(state, create=False), value)
            if decoded is None:
                raise ConfigError(f"{value!r} is neither an email address nor a valid "
                                  "unsubscribe token")
            address = decoded
        if not is_valid_address(address):
            raise ConfigError(f"{address!r} is not a valid email address")
        added = state.add_suppression(address)
    if added:
        return f"{address.lower()}: added to the suppression list; it will not be mailed again"
    return f"{address.lower()}: already on the suppression list"
