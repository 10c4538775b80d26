"""The scheduler: its steps driven with a fake clock, and `newsletter run` end to end."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, ROOT
from smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401

from newsletter.config import Settings, load_settings
from newsletter.crontime import next_send_due
from newsletter.schedule import LAST_SLOT_KEY, Daemon
from newsletter.state import State, open_state
from newsletter.transport import SmtpTransport

DIGEST = EXAMPLES / "2025-06-04.md"
UTC = dt.UTC


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def write_config(tmp: Path, port: int, *, schedule: str = "") -> Path:
    (tmp / "inbox").mkdir(exist_ok=True)
    (tmp / "subscribers.csv").write_text(
        "email,name,categories,keywords\nann@example.com,Ann,,\ncv@example.com,Carl,cs.CV,\n",
        encoding="utf-8",
    )
    config = tmp / "newsletter.toml"
    config.write_text(f"""
subscribers_file = "subscribers.csv"
[site]
base_url = "https://lab.example.org/feeds/"
[input]
dir = "inbox"
[feeds]
out = "out"
[email]
from = "Lab digest <news@lab.example.org>"
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
timeout = 2
retries = 1
[state]
path = "state.sqlite3"
[schedule]
timezone = "Asia/Shanghai"
{schedule if "settle_seconds" in schedule else "settle_seconds = 0" + chr(10) + schedule}
""", encoding="utf-8")
    return config


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    states: list[State] = []

    def make(settings: Settings, clock: FakeClock) -> Daemon:
        state = open_state(settings.state.path)
        states.append(state)
        transport = SmtpTransport(settings.smtp, sleep=lambda s: None)
        return Daemon(settings, state, clock=clock, transport=transport)

    yield make
    for state in states:
        state.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_poll_picks_up_new_digests_once_and_rebuilds_the_feeds(
    tmp_path: Path, smtp_server: SmtpServer, make_daemon: Callable[..., Daemon]
) -> None:
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    daemon = make_daemon(settings, FakeClock(dt.datetime(2025, 6, 4, 3, tzinfo=UTC)))
    assert daemon.poll(monotonic=0) == []
    shutil.copy(DIGEST, tmp_path / "inbox" / DIGEST.name)
    assert daemon.poll(monotonic=1) == ["2025-06-04"]
    assert (tmp_path / "out" / "all.atom.xml").is_file()
    assert (tmp_path / "out" / "email" / "2025-06-04.html").is_file()
    assert daemon.poll(monotonic=2) == []
    # a touched file with the same content is not parsed again; nothing is mailed by polling
    os.utime(tmp_path / "inbox" / DIGEST.name)
    assert daemon.poll(monotonic=3) == []
    assert smtp_server.handler.messages == []


def test_a_broken_file_is_recorded_and_not_retried_until_it_changes(
    tmp_path: Path, smtp_server: SmtpServer, make_daemon: Callable[..., Daemon],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    daemon = make_daemon(settings, FakeClock(dt.datetime(2025, 6, 4, 3, tzinfo=UTC)))
    broken = tmp_path / "inbox" / "2025-06-03.md"
    broken.write_bytes(b"\x00\x01binary junk")
    shutil.copy(DIGEST, tmp_path / "inbox" / DIGEST.name)
    assert daemon.poll(monotonic=0) == ["2025-06-04"]
    assert "2025-06-03.md" in caplog.text
    row = daemon.state.get_digest("2025-06-03")
    assert row is not None and row.status == "error" and row.error
    caplog.clear()
    os.utime(broken)  # touched, same content: not read again
    assert daemon.poll(monotonic=1) == []
    assert "2025-06-03" not in caplog.text
    broken.write_text(DIGEST.read_text(encoding="utf-8"), encoding="utf-8")  # fixed upstream
    assert daemon.poll(monotonic=2) == ["2025-06-03"]


def test_missed_send_time_after_downtime_sends_exactly_once(
    tmp_path: Path, smtp_server: SmtpServer, make_daemon: Callable[..., Daemon]
) -> None:
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    clock = FakeClock(dt.datetime(2025, 6, 4, 3, tzinfo=UTC))  # 11:00 in Shanghai
    daemon = make_daemon(settings, clock)
    assert daemon.catch_up() is False  # first start: nothing to catch up, the clock starts now
    shutil.copy(DIGEST, tmp_path / "inbox" / DIGEST.name)
    daemon.poll(monotonic=0)
    # down for two days: two 08:00 slots passed, one catch-up send
    clock.advance(days=2)
    assert daemon.catch_up() is True
    assert sorted(smtp_server.handler.recipients()) == ["ann@example.com", "cv@example.com"]
    last = daemon.state.get_meta(LAST_SLOT_KEY)
    assert last == dt.datetime(2025, 6, 6, 0, tzinfo=UTC).isoformat()  # 08:00 Shanghai
    assert daemon.catch_up() is False
    daemon.send_due()  # and a regular slot sends nothing twice
    assert len(smtp_server.handler.messages) == 2


def test_digests_older_than_max_age_are_skipped_but_stay_in_the_feeds(
    tmp_path: Path, smtp_server: SmtpServer, make_daemon: Callable[..., Daemon]
) -> None:
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    clock = FakeClock(dt.datetime(2025, 6, 10, 0, tzinfo=UTC))  # six days after the digest
    daemon = make_daemon(settings, clock)
    shutil.copy(DIGEST, tmp_path / "inbox" / DIGEST.name)
    daemon.poll(monotonic=0)
    daemon.send_due(slot=clock())
    assert smtp_server.handler.messages == []
    row = daemon.state.get_digest("2025-06-04")
    assert row is not None and row.status == "skipped"
    assert row.skipped_reason and "max_age_days" in row.skipped_reason
    assert (tmp_path / "out" / "all.atom.xml").is_file()


def test_max_age_zero_means_no_limit(
    tmp_path: Path, smtp_server: SmtpServer, make_daemon: Callable[..., Daemon]
) -> None:
    config = write_config(tmp_path, smtp_server.port, schedule="max_age_days = 0")
    settings = load_settings(config)
    daemon = make_daemon(settings, FakeClock(dt.datetime(2026, 1, 1, tzinfo=UTC)))
    shutil.copy(DIGEST, tmp_path / "inbox" / DIGEST.name)
    daemon.poll(monotonic=0)
    daemon.send_due()
    assert len(smtp_server.handler.messages) == 2


def test_smtp_down_at_send_time_keeps_the_digest_pending_and_retries(
    tmp_path: Path, smtp_server: SmtpServer, make_daemon: Callable[..., Daemon]
) -> None:
    down = load_settings(write_config(tmp_path, free_port(), schedule="retry_seconds = 300"))
    clock = FakeClock(dt.datetime(2025, 6, 4, 0, tzinfo=UTC))
    daemon = make_daemon(down, clock)
    shutil.copy(DIGEST, tmp_path / "inbox" / DIGEST.name)
    daemon.poll(monotonic=0)
    assert daemon.send_due(slot=clock()) is None
    assert daemon.retry_at == clock() + dt.timedelta(seconds=300)
    row = daemon.state.get_digest("2025-06-04")
    assert row is not None and row.status == "new"
    # the server comes back; the retry is not due yet, then it is
    up = load_settings(write_config(tmp_path, smtp_server.port, schedule="retry_seconds = 300"))
    daemon.settings = up
    daemon.transport = SmtpTransport(up.smtp, sleep=lambda s: None)
    clock.advance(seconds=100)
    daemon.retry_if_due()
    assert smtp_server.handler.messages == []
    clock.advance(seconds=300)
    daemon.retry_if_due()
    assert sorted(smtp_server.handler.recipients()) == ["ann@example.com", "cv@example.com"]
    assert daemon.retry_at is None


def test_status_shows_the_next_send_in_the_schedule_zone(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, 25))
    due = next_send_due(settings, now=dt.datetime(2026, 3, 1, 1, tzinfo=UTC))
    assert due.isoformat() == "2026-03-02T08:00:00+08:00"
    ny = load_settings(write_config(tmp_path, 25, schedule='send_at = "30 7 * * 1-5"'))
    ny = ny.replace(schedule=dataclasses.replace(ny.schedule, timezone="America/New_York"))
    # Friday 2026-03-06 evening in New York -> Monday 07:30 EDT (after the DST change)
    due = next_send_due(ny, now=dt.datetime(2026, 3, 7, 1, tzinfo=UTC))
    assert due.isoformat() == "2026-03-09T07:30:00-04:00"


# -- the real daemon, in a subprocess --------------------------------------------------------


def start_run(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as sink:
        return subprocess.Popen([sys.executable, "-m", "newsletter.cli", "run", "-c", str(config)],
                                stdout=sink, stderr=sink, env=env, cwd=config.parent)


def wait_for(check: Callable[[], bool], *, timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=20)


def test_run_end_to_end(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = write_config(tmp_path, smtp_server.port, schedule="""
poll_seconds = 0.2
settle_seconds = 0.6
send_on_arrival = true
max_age_days = 0
send_at = "0 8 1 1 *"
""")
    log = tmp_path / "run.log"
    proc = start_run(config, log)
    try:
        wait_for(lambda: "scheduler started" in log.read_text(), what="start")
        # a second scheduler on the same state database refuses
        second = subprocess.run(
            [sys.executable, "-m", "newsletter.cli", "run", "-c", str(config)],
            capture_output=True, text=True, timeout=30, cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert second.returncode == 1
        assert "another `newsletter run` is already using" in second.stderr
        assert "Traceback" not in second.stderr

        # the digest arrives slowly, in pieces: never read half-written
        data = DIGEST.read_bytes()
        target = tmp_path / "inbox" / DIGEST.name
        with target.open("wb") as handle:
            for start in range(0, len(data), len(data) // 4 + 1):
                handle.write(data[start:start + len(data) // 4 + 1])
                handle.flush()
                time.sleep(0.3)
        wait_for(lambda: len(smtp_server.handler.messages) == 2, what="the email")
        assert (tmp_path / "out" / "cs.CV.atom.xml").is_file()
        text = log.read_text()
        assert "picked up" in text
        assert "12 papers" in text  # parsed whole, not a truncated prefix

        # a broken file is logged; the daemon lives on
        (tmp_path / "inbox" / "2025-06-05.md").write_text("just some notes\n")
        wait_for(lambda: "2025-06-05.md" in log.read_text(), what="the broken file's error")
        assert proc.poll() is None
    finally:
        code = stop(proc)
    assert code == 0
    assert "scheduler stopped" in log.read_text()

    # restart: the digest is already sent, nothing goes out twice
    proc = start_run(config, log)
    try:
        wait_for(lambda: log.read_text().count("scheduler started") == 2, what="restart")
        time.sleep(1.5)  # several polls
    finally:
        assert stop(proc) == 0
    assert sorted(smtp_server.handler.recipients()) == ["ann@example.com", "cv@example.com"]
    assert "Traceback" not in log.read_text()


def test_without_subscribers_the_daemon_only_builds_feeds(
    tmp_path: Path, smtp_server: SmtpServer, make_daemon: Callable[..., Daemon],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    settings = settings.replace(subscribers_file=None)
    caplog.set_level(logging.INFO, logger="newsletter")
    clock = FakeClock(dt.datetime(2025, 6, 4, 3, tzinfo=UTC))
    daemon = make_daemon(settings, clock)
    shutil.copy(DIGEST, tmp_path / "inbox" / DIGEST.name)
    daemon.poll(monotonic=0)
    assert daemon.send_due(slot=clock()) is None
    assert daemon.retry_at is None  # not an outage: nothing to retry
    assert "no subscribers" in caplog.text
    assert daemon.state.get_meta(LAST_SLOT_KEY) == clock().isoformat()
    assert smtp_server.handler.messages == []


class StopAfterOne(SmtpTransport):
    """The real transport; the stop flag is set as soon as one message was accepted."""

    def __init__(self, settings: Settings, stop: threading.Event) -> None:
        super().__init__(settings.smtp, sleep=lambda s: None)
        self.stop = stop

    def send(self, *args: Any, **kwargs: Any) -> Any:
        result = super().send(*args, **kwargs)
        self.stop.set()
        return result


def test_messages_left_pending_by_an_earlier_run_go_out_at_start(
    tmp_path: Path, smtp_server: SmtpServer, make_daemon: Callable[..., Daemon]
) -> None:
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    clock = FakeClock(dt.datetime(2025, 6, 4, 3, tzinfo=UTC))
    first = make_daemon(settings, clock)
    first.catch_up()
    shutil.copy(DIGEST, tmp_path / "inbox" / DIGEST.name)
    first.poll(monotonic=0)
    first.transport = StopAfterOne(settings, first.stop)  # SIGTERM while the first one is sent
    first.send_due(slot=clock())
    assert len(smtp_server.handler.messages) == 1
    assert first.state.has_pending_deliveries()
    # restarted a minute later, long before the next 08:00 slot
    clock.advance(minutes=1)
    second = make_daemon(settings, clock)
    assert second.catch_up() is True
    assert sorted(smtp_server.handler.recipients()) == ["ann@example.com", "cv@example.com"]
    assert len(smtp_server.handler.messages) == 2
    assert not second.state.has_pending_deliveries()
    assert second.catch_up() is False


def test_a_removed_digest_rebuilds_the_feeds(
    tmp_path: Path, smtp_server: SmtpServer, make_daemon: Callable[..., Daemon]
) -> None:
    settings = load_settings(write_config(tmp_path, smtp_server.port))
    daemon = make_daemon(settings, FakeClock(dt.datetime(2025, 6, 5, 3, tzinfo=UTC)))
    shutil.copy(DIGEST, tmp_path / "inbox" / DIGEST.name)
    other = tmp_path / "inbox" / "2025-06-05.md"
    other.write_text(DIGEST.read_text(encoding="utf-8").replace("2506.03112", "2506.09112"),
                     encoding="utf-8")
    daemon.poll(monotonic=0)
    index = tmp_path / "out" / "index.html"
    assert "2025-06-05" in index.read_text(encoding="utf-8")
    other.unlink()
    assert daemon.poll(monotonic=1) == []
    assert "days/2025-06-05.html" not in index.read_text(encoding="utf-8")
