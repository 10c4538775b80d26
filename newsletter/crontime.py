"""Send times: a cron expression read on the local wall clock, so DST neither skips nor doubles."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from newsletter.config import Settings
from newsletter.errors import ConfigError

UTC = dt.UTC
_TICK = dt.timedelta(microseconds=1)


def local_zone(name: str) -> dt.tzinfo:
    """The IANA zone `name`, or the machine's zone when `name` is empty."""
    if name:
        return ZoneInfo(name)
    try:
        import tzlocal

        zone: dt.tzinfo = tzlocal.get_localzone()
        return zone
    except Exception:  # pragma: no cover - tzlocal failing means "use UTC"
        return UTC


_WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_weekdays(field: str) -> str:
    """Translate a cron weekday field (0 or 7 = Sunday) into APScheduler's day names.

    APScheduler 3 numbers weekdays from Monday = 0, also in `CronTrigger.from_crontab`, so a
    plain `1-5` would mean Tuesday to Saturday there. Numbers, ranges and steps are expanded to
    explicit names; names and `*` pass through.
    """
    if not any(ch.isdigit() for ch in field):
        return field
    days: list[str] = []
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            first_text, last_text = base.split("-", 1)
            first, last = int(first_text), int(last_text)
        else:
            first = int(base)
            last = 6 if step_text else first
        if not (0 <= first <= 7 and 0 <= last <= 7 and first <= last and step >= 1):
            raise ValueError(f"weekday field {field!r} is out of range (0-7, 0 and 7 = Sunday)")
        for number in range(first, last + 1, step):
            name = _WEEKDAY_NAMES[number]
            if name not in days:
                days.append(name)
    return ",".join(days)


class WallClockCron(BaseTrigger):  # type: ignore[misc]
    """A cron trigger evaluated on the naive local wall clock of `zone`.

    APScheduler 3's CronTrigger fires twice in the repeated hour of a DST fall-back night (and can
    then keep returning the same instant). Here each wall-clock slot ("2026-11-01 01:30") fires
    exactly once: at its first occurrence when the hour repeats, and at the shifted instant
    (02:30 EST = 03:30 EDT) when spring-forward skips it.
    """

    def __init__(self, expression: str, zone: dt.tzinfo) -> None:
        try:
            fields = expression.split()
            if len(fields) != 5:
                raise ValueError("it needs 5 fields: minute hour day month weekday")
            minute, hour, day, month, weekday = fields
            self._cron = CronTrigger(minute=minute, hour=hour, day=day, month=month,
                                     day_of_week=cron_weekdays(weekday), timezone=UTC)
        except ValueError as exc:
            raise ConfigError(
                f"schedule.send_at = {expression!r} is not a valid cron expression: {exc}"
            ) from exc
        self.expression = expression
        self.zone = zone

    def _wall(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.zone).replace(tzinfo=UTC, fold=0)

    def _aware(self, wall: dt.datetime) -> dt.datetime:
        return wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def next_slot(self, after: dt.datetime, *, inclusive: bool = False) -> dt.datetime:
        """The first slot at or after (`inclusive`) / strictly after `after`, as a UTC instant."""
        start = self._wall(after) if inclusive else self._wall(after) + _TICK
        wall: dt.datetime | None = self._cron.get_next_fire_time(None, start)
        if wall is None:  # pragma: no cover - a 5-field cron always has a next time
            raise ConfigError(f"schedule.send_at = {self.expression!r} never fires")
        return self._aware(wall)

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime:
        if previous_fire_time is not None:
            return self.next_slot(previous_fire_time)
        return self.next_slot(now, inclusive=True)

    def latest_slot(self, *, since: dt.datetime, now: dt.datetime) -> dt.datetime | None:
        """The newest slot in (since, now], or None: what a restart after downtime must catch up."""
        latest = None
        slot = self.next_slot(since)
        while slot <= now:
            latest = slot
            if now - slot > dt.timedelta(days=1):
                # Jump close to `now` instead of walking every missed slot of a long downtime.
                slot = self.next_slot(max(slot, now - dt.timedelta(days=1)))
            else:
                slot = self.next_slot(slot)
        return latest

    def __str__(self) -> str:
        return f"cron[{self.expression}] in {self.zone}"


def make_trigger(settings: Settings) -> WallClockCron:
    """The send trigger `schedule.send_at` / `schedule.timezone` describe."""
    return WallClockCron(settings.schedule.send_at, local_zone(settings.schedule.timezone))


def next_send_due(settings: Settings, *, now: dt.datetime | None = None) -> dt.datetime:
    """When `schedule.send_at` fires next, as an aware time in the schedule's zone."""
    trigger = make_trigger(settings)
    return trigger.next_slot(now or dt.datetime.now(UTC)).astimezone(trigger.zone)
