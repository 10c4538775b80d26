"""The state database: digests keyed by name, claims that cannot be taken twice, locks."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from newsletter.errors import StateError
from newsletter.state import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    is_unknown,
    make_owner_id,
    open_state,
)


def test_opens_in_wal_mode_with_a_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.sqlite3"
    with open_state(path) as state:
        assert state.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert state.conn.execute("SELECT version FROM schema_version").fetchone()[0] == 1
    with open_state(path) as state:  # reopening does not add a second version row
        assert state.conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(StateError, match=r"state\.path"):
        open_state(path)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    open_state(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="newer"):
        open_state(path)


def test_a_rewritten_digest_stays_sent(tmp_path: Path) -> None:
    with open_state(tmp_path / "s.db") as state:
        state.record_digest(name="2025-06-04", path="in/2025-06-04.md", sha256="a",
                            date=dt.date(2025, 6, 4), papers=3, problems=0)
        assert state.get_digest("2025-06-04").status == "new"  # type: ignore[union-attr]
        state.mark_digest_sent("2025-06-04")
        row = state.record_digest(name="2025-06-04", path="in/2025-06-04.md", sha256="b",
                                  date=dt.date(2025, 6, 4), papers=4, problems=1)
        assert (row.status, row.sha256, row.papers) == ("sent", "b", 4)
        assert len(state.list_digests()) == 1


def test_claim_is_exclusive_and_finish_needs_the_owner(tmp_path: Path) -> None:
    with open_state(tmp_path / "s.db") as state:
        state.add_deliveries("d", [("A@Example.com", "<1@x>"), ("b@example.com", "<2@x>")])
        state.add_deliveries("d", [("a@example.com", "<other@x>")])  # ignored: row exists
        me, other = make_owner_id(), make_owner_id()
        row = state.claim_delivery("d", "a@example.com", owner=me)
        assert row is not None and row.status == SENDING and row.attempts == 1
        assert row.message_id == "<1@x>"
        assert state.claim_delivery("d", "a@example.com", owner=other) is None
        state.finish_delivery("d", "a@example.com", status=SENT, owner=other)
        assert state.get_delivery("d", "a@example.com").status == SENDING  # type: ignore[union-attr]
        state.finish_delivery("d", "a@example.com", status=SENT, owner=me)
        done = state.get_delivery("d", "a@example.com")
        assert done is not None and done.status == SENT and done.sent_at
        assert state.count_deliveries("d") == {PENDING: 1, SENDING: 0, SENT: 1, FAILED: 0}


def _dead_owner() -> str:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    import socket

    return f"{socket.gethostname()}:{proc.stdout.strip()}:dead"


def test_a_row_left_sending_by_a_dead_process_is_unknown(tmp_path: Path) -> None:
    with open_state(tmp_path / "s.db") as state:
        state.add_deliveries("d", [("a@example.com", "<1@x>")])
        dead = _dead_owner()
        assert state.claim_delivery("d", "a@example.com", owner=dead) is not None
        row = state.get_delivery("d", "a@example.com")
        assert row is not None and is_unknown(row)
        me = make_owner_id()
        assert state.claim_delivery("d", "a@example.com", owner=me) is None
        again = state.claim_delivery("d", "a@example.com", owner=me, retry_unknown=True)
        assert again is not None and again.attempts == 2 and again.claimed_by == me
        assert not is_unknown(again)


def test_a_live_owner_is_never_taken_over(tmp_path: Path) -> None:
    with open_state(tmp_path / "s.db") as state:
        state.add_deliveries("d", [("a@example.com", "<1@x>")])
        assert state.claim_delivery("d", "a@example.com", owner=make_owner_id()) is not None
        assert state.claim_delivery("d", "a@example.com", owner=make_owner_id(),
                                    retry_unknown=True) is None


def _claim_all(path: str, owner: str, queue: multiprocessing.Queue[list[str]]) -> None:
    with open_state(Path(path)) as state:
        got = [f"r{i}@x.org" for i in range(200)
               if state.claim_delivery("d", f"r{i}@x.org", owner=owner) is not None]
    queue.put(got)


def test_two_processes_never_claim_the_same_row(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with open_state(path) as state:
        state.add_deliveries("d", [(f"r{i}@x.org", f"<{i}@x>") for i in range(200)])
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[str]] = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(str(path), f"h:{n}:x", queue))
             for n in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=30) for _ in procs]
    for p in procs:
        p.join()
    claimed = results[0] + results[1]
    assert sorted(claimed) == sorted(f"r{i}@x.org" for i in range(200))
    assert not set(results[0]) & set(results[1])


def test_suppression_is_case_insensitive(tmp_path: Path) -> None:
    with open_state(tmp_path / "s.db") as state:
        assert state.add_suppression(" Bob@Example.com ")
        assert not state.add_suppression("bob@example.com")
        assert state.list_suppressed() == frozenset({"bob@example.com"})


def test_scheduler_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    with open_state(tmp_path / "s.db") as state:
        first, second = make_owner_id(), make_owner_id()
        assert state.acquire_lock("scheduler", owner=first) is None
        holder = state.acquire_lock("scheduler", owner=second)
        assert holder is not None and holder.owner == first
        state.release_lock("scheduler", owner=first)
        assert state.acquire_lock("scheduler", owner=second) is None


def test_a_lock_of_a_dead_process_or_a_stale_heartbeat_is_taken_over(tmp_path: Path) -> None:
    with open_state(tmp_path / "s.db") as state:
        assert state.acquire_lock("scheduler", owner=_dead_owner()) is None
        assert state.acquire_lock("scheduler", owner=make_owner_id()) is None
        remote = "other-host:1:x"
        state.release_lock("scheduler", owner=state.conn.execute(
            "SELECT owner FROM locks").fetchone()[0])
        t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        assert state.acquire_lock("scheduler", owner=remote, now=t0) is None
        mine = make_owner_id()
        later = t0 + dt.timedelta(minutes=1)
        assert state.acquire_lock("scheduler", owner=mine, now=later,
                                  stale_after=dt.timedelta(minutes=5)) is not None
        much_later = t0 + dt.timedelta(minutes=10)
        assert state.acquire_lock("scheduler", owner=mine, now=much_later,
                                  stale_after=dt.timedelta(minutes=5)) is None


def test_an_unknown_row_taken_over_is_not_taken_again(tmp_path: Path) -> None:
    with open_state(tmp_path / "s.db") as state:
        state.add_deliveries("d", [("a@example.com", "<1@x>")])
        dead = _dead_owner()
        state.claim_delivery("d", "a@example.com", owner=dead)
        first = state.claim_delivery("d", "a@example.com", owner=make_owner_id(),
                                     retry_unknown=True)
        second = state.claim_delivery("d", "a@example.com", owner=make_owner_id(),
                                      retry_unknown=True)
        assert first is not None and second is None


def test_a_live_scheduler_on_this_host_keeps_its_lock_whatever_its_heartbeat(
    tmp_path: Path,
) -> None:
    with open_state(tmp_path / "s.db") as state:
        t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        live = make_owner_id()  # this process: alive, on this host
        assert state.acquire_lock("scheduler", owner=live, now=t0) is None
        # an hour without a heartbeat (a long send) does not make it stale here
        later = t0 + dt.timedelta(hours=1)
        holder = state.acquire_lock("scheduler", owner=make_owner_id(), now=later,
                                    stale_after=dt.timedelta(minutes=5))
        assert holder is not None and holder.owner == live


def test_has_pending_deliveries(tmp_path: Path) -> None:
    with open_state(tmp_path / "s.db") as state:
        assert not state.has_pending_deliveries()
        state.add_deliveries("d", [("a@example.com", "<1@x>")])
        assert state.has_pending_deliveries()


def _open_and_close(path: str, results: Any) -> None:
    try:
        open_state(Path(path)).close()
        results.put("ok")
    except Exception as exc:  # reported to the parent, which asserts on it
        results.put(repr(exc))


def test_two_processes_creating_the_database_at_once_both_open_it(tmp_path: Path) -> None:
    # SQLite answers "database is locked" at once (no busy handler) when two connections switch
    # a new file to WAL together; both `send` processes of a first run must still get in.
    context = multiprocessing.get_context("fork")
    outcomes = []
    for attempt in range(40):
        results = context.Queue()
        procs = [context.Process(target=_open_and_close, args=(str(tmp_path / f"{attempt}.db"),
                                                               results)) for _ in range(2)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=30)
        outcomes += [results.get(timeout=5) for _ in procs]
    assert set(outcomes) == {"ok"}
