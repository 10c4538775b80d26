"""Send times in time zones and across DST nights, with explicit instants (a fake clock)."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from newsletter.crontime import WallClockCron, cron_weekdays
from newsletter.errors import ConfigError

NY = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC


def fire_times(trigger: WallClockCron, start: dt.datetime, count: int) -> list[dt.datetime]:
    """What APScheduler would get from the trigger, fire after fire, starting at `start`."""
    times: list[dt.datetime] = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, start)
        times.append(previous)
    return times


def test_eight_oclock_in_shanghai_is_midnight_utc() -> None:
    trigger = WallClockCron("0 8 * * *", SHANGHAI)
    first = trigger.get_next_fire_time(None, dt.datetime(2026, 5, 1, 1, 0, tzinfo=UTC))
    assert first == dt.datetime(2026, 5, 2, 0, 0, tzinfo=UTC)
    assert first.astimezone(SHANGHAI).hour == 8


def test_eight_oclock_in_new_york_follows_dst() -> None:
    trigger = WallClockCron("0 8 * * *", NY)
    times = fire_times(trigger, dt.datetime(2026, 3, 6, 12, tzinfo=NY), 4)
    assert [t.astimezone(NY).strftime("%m-%d %H:%M") for t in times] == [
        "03-07 08:00", "03-08 08:00", "03-09 08:00", "03-10 08:00",
    ]
    # the UTC instant moves by an hour when the clocks spring forward
    assert [t.hour for t in times] == [13, 12, 12, 12]


@pytest.mark.parametrize("expr", ["30 2 * * *", "0 2 * * *", "59 2 * * *"])
def test_spring_forward_night_does_not_skip_a_slot_that_does_not_exist(expr: str) -> None:
    trigger = WallClockCron(expr, NY)
    times = fire_times(trigger, dt.datetime(2026, 3, 7, 12, tzinfo=NY), 3)
    days = [t.astimezone(NY).date().isoformat() for t in times]
    assert days == ["2026-03-08", "2026-03-09", "2026-03-10"]
    # 02:xx does not exist on 03-08: it fires an hour later on the wall clock, once
    assert times[0].astimezone(NY).hour == 3


@pytest.mark.parametrize("expr", ["30 1 * * *", "0 1 * * *", "59 1 * * *"])
def test_fall_back_night_does_not_double_a_slot_in_the_repeated_hour(expr: str) -> None:
    trigger = WallClockCron(expr, NY)
    times = fire_times(trigger, dt.datetime(2026, 10, 31, 12, tzinfo=NY), 3)
    days = [t.astimezone(NY).date().isoformat() for t in times]
    assert days == ["2026-11-01", "2026-11-02", "2026-11-03"]
    # the first 01:xx of the night (EDT, 05:xx UTC), not the repeated one an hour later
    assert (times[0].hour, times[0].tzinfo) == (5, UTC)
    assert len(set(times)) == 3
    assert all(b > a for a, b in itertools.pairwise(times))


def test_latest_slot_after_downtime_is_one_slot_not_one_per_missed_day() -> None:
    trigger = WallClockCron("0 8 * * *", NY)
    last = dt.datetime(2026, 6, 1, 8, tzinfo=NY)
    now = dt.datetime(2026, 6, 5, 9, tzinfo=NY)
    latest = trigger.latest_slot(since=last, now=now)
    assert latest == dt.datetime(2026, 6, 5, 8, tzinfo=NY)
    # nothing missed when the last handled slot is the newest one
    assert trigger.latest_slot(since=latest, now=now) is None
    # before today's slot: yesterday's is the one to catch up
    early = dt.datetime(2026, 6, 5, 7, tzinfo=NY)
    assert trigger.latest_slot(since=last, now=early) == dt.datetime(2026, 6, 4, 8, tzinfo=NY)


def test_latest_slot_over_a_year_of_downtime_is_cheap_and_right() -> None:
    trigger = WallClockCron("*/5 * * * *", UTC)
    since = dt.datetime(2025, 1, 1, tzinfo=UTC)
    now = dt.datetime(2026, 1, 1, 0, 7, tzinfo=UTC)
    assert trigger.latest_slot(since=since, now=now) == dt.datetime(2026, 1, 1, 0, 5, tzinfo=UTC)


def test_invalid_cron_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="send_at"):
        WallClockCron("0 25 * * *", UTC)


@pytest.mark.parametrize(("field", "names"), [
    ("1-5", "mon,tue,wed,thu,fri"),
    ("0", "sun"),
    ("7", "sun"),
    ("0,6", "sun,sat"),
    ("*/2", "sun,tue,thu,sat"),
    ("mon-fri", "mon-fri"),
    ("*", "*"),
])
def test_cron_weekdays_use_cron_numbering_not_apschedulers(field: str, names: str) -> None:
    assert cron_weekdays(field) == names


def test_weekday_schedule_fires_on_weekdays_only() -> None:
    trigger = WallClockCron("30 7 * * 1-5", NY)
    # Friday evening -> Monday morning
    due = trigger.next_slot(dt.datetime(2026, 3, 6, 20, tzinfo=NY))
    assert due.astimezone(NY).isoformat() == "2026-03-09T07:30:00-04:00"
    with pytest.raises(ConfigError):
        WallClockCron("0 8 * * 9", NY)
