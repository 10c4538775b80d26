"""The SQLite state database: digests seen, deliveries (exactly once), suppression list, locks."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import StateError

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000

# Delivery statuses. A row left in SENDING after its process died is "unknown".
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS digests (
    name TEXT PRIMARY KEY,          -- file stem: a rewritten file is the same digest
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    date TEXT,                      -- ISO date or NULL
    papers INTEGER NOT NULL DEFAULT 0,
    problems INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,           -- new | error | sent | skipped
    error TEXT,
    seen_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    skipped_reason TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
    digest TEXT NOT NULL,
    recipient TEXT NOT NULL,        -- lower-cased address
    status TEXT NOT NULL,           -- pending | sending | sent | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    message_id TEXT NOT NULL,
    claimed_by TEXT,                -- host:pid:nonce of the process that moved it to sending
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    PRIMARY KEY (digest, recipient)
);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (digest, status);
CREATE TABLE IF NOT EXISTS test_sends (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    digest TEXT NOT NULL,
    recipient TEXT NOT NULL,
    status TEXT NOT NULL,
    message_id TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE TABLE IF NOT EXISTS suppression (address TEXT PRIMARY KEY, added_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,            -- host:pid:nonce
    acquired_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
"""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def make_owner_id() -> str:
    """An id for this process: host, pid and a nonce (so a recycled pid is not mistaken)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def is_same_host(owner: str) -> bool:
    return owner.partition(":")[0] == socket.gethostname()


def is_owner_alive(owner: str) -> bool:
    """False only when `owner` ran on this host and its pid no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class DigestRow:
    name: str
    path: str
    sha256: str
    date: str | None
    papers: int
    problems: int
    status: str
    error: str | None
    seen_at: str
    updated_at: str
    sent_at: str | None
    skipped_reason: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    digest: str
    recipient: str
    status: str
    attempts: int
    last_error: str | None
    message_id: str
    claimed_by: str | None
    updated_at: str
    sent_at: str | None


def is_unknown(row: DeliveryRow) -> bool:
    """A row in `sending` that nobody is working on: maybe delivered, never resent blindly."""
    return row.status == SENDING and (row.claimed_by is None or not is_owner_alive(row.claimed_by))


@dataclass(frozen=True, slots=True)
class LockHolder:
    owner: str
    acquired_at: str
    heartbeat_at: str


class State:
    """One connection to the state database. Every write is a short IMMEDIATE transaction."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, read_only: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.read_only = read_only

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front, so no upgrade deadlock."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StateError(f"{self.path}: state database is busy or locked: {exc}") from exc
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _write(self, sql: str, params: tuple[object, ...]) -> sqlite3.Cursor:
        """One statement in autocommit mode (atomic by itself), busy errors made readable."""
        try:
            return self.conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise StateError(f"{self.path}: state database is busy or locked: {exc}") from exc

    # -- meta ---------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def ensure_meta(self, key: str, value: str) -> str:
        """Store `value` under `key` unless a value is already there; return the stored one."""
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
        stored = self.get_meta(key)
        assert stored is not None
        return stored

    # -- digests ------------------------------------------------------------------------------

    def record_digest(
        self,
        *,
        name: str,
        path: str,
        sha256: str,
        date: dt.date | None,
        papers: int,
        problems: int,
        error: str | None = None,
        now: dt.datetime | None = None,
    ) -> DigestRow:
        """Insert or update a digest seen in the inbox. A sent or skipped digest stays so."""
        stamp = _iso(now or utc_now())
        status = "error" if error else "new"
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO digests (name, path, sha256, date, papers, problems, status, error,
                                        seen_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET
                     path = excluded.path, sha256 = excluded.sha256, date = excluded.date,
                     papers = excluded.papers, problems = excluded.problems,
                     error = excluded.error, updated_at = excluded.updated_at,
                     status = CASE WHEN digests.status IN ('sent', 'skipped')
                                   THEN digests.status ELSE excluded.status END""",
                (name, path, sha256, date.isoformat() if date else None, papers, problems,
                 status, error, stamp, stamp),
            )
        row = self.get_digest(name)
        assert row is not None
        return row

    def get_digest(self, name: str) -> DigestRow | None:
        row = self.conn.execute(
            f"SELECT {_DIGEST_COLUMNS} FROM digests WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else DigestRow(*row)

    def list_digests(self) -> list[DigestRow]:
        rows = self.conn.execute(
            f"SELECT {_DIGEST_COLUMNS} FROM digests ORDER BY COALESCE(date, ''), name"
        ).fetchall()
        return [DigestRow(*row) for row in rows]

    def mark_digest_sent(self, name: str, *, now: dt.datetime | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE digests SET status = 'sent', sent_at = ?, updated_at = ? WHERE name = ?",
                (_iso(now or utc_now()), _iso(now or utc_now()), name),
            )

    def mark_digest_skipped(
        self, name: str, reason: str, *, now: dt.datetime | None = None
    ) -> None:
        """The scheduler will not mail this digest (e.g. older than schedule.max_age_days)."""
        with self.transaction() as conn:
            conn.execute(
                """UPDATE digests SET status = 'skipped', skipped_reason = ?, updated_at = ?
                   WHERE name = ? AND status != 'sent'""",
                (reason, _iso(now or utc_now()), name),
            )

    # -- deliveries ---------------------------------------------------------------------------

    def add_deliveries(
        self, digest: str, recipients: list[tuple[str, str]], *, now: dt.datetime | None = None
    ) -> None:
        """Create pending rows for (address, message_id) pairs that have none yet."""
        stamp = _iso(now or utc_now())
        with self.transaction() as conn:
            conn.executemany(
                """INSERT OR IGNORE INTO deliveries
                     (digest, recipient, status, message_id, created_at, updated_at)
                   VALUES (?, ?, 'pending', ?, ?, ?)""",
                [(digest, addr.lower(), mid, stamp, stamp) for addr, mid in recipients],
            )

    def claim_delivery(
        self, digest: str, recipient: str, *, owner: str, retry_unknown: bool = False,
        now: dt.datetime | None = None,
    ) -> DeliveryRow | None:
        """Move a row pending -> sending for `owner` (committed); None if someone else has it.

        With `retry_unknown`, a row left in `sending` by a process that is gone is claimed too.
        """
        stamp = _iso(now or utc_now())
        key = (digest, recipient.lower())
        # One UPDATE is atomic on its own: of two processes, exactly one sees rowcount 1.
        cur = self._write(
            """UPDATE deliveries SET status = 'sending', attempts = attempts + 1,
                 claimed_by = ?, updated_at = ?
               WHERE digest = ? AND recipient = ? AND status = 'pending'""",
            (owner, stamp, *key),
        )
        if cur.rowcount != 1:
            row = self._get_delivery(digest, recipient) if retry_unknown else None
            if row is None or not is_unknown(row):
                return None
            # Compare-and-swap on the old owner, so two retrying processes cannot both win.
            cur = self._write(
                """UPDATE deliveries SET attempts = attempts + 1, claimed_by = ?, updated_at = ?
                   WHERE digest = ? AND recipient = ? AND status = 'sending'
                     AND claimed_by IS ?""",
                (owner, stamp, *key, row.claimed_by),
            )
            if cur.rowcount != 1:
                return None
        return self._get_delivery(digest, recipient)

    def finish_delivery(
        self, digest: str, recipient: str, *, status: str, owner: str, error: str | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        """Move a row this owner holds in `sending` to sent, failed, or back to pending.

        `status=SENDING` leaves it in `sending` with no owner: the outcome is unknown.
        """
        if status not in (SENT, FAILED, PENDING, SENDING):
            raise ValueError(status)
        stamp = _iso(now or utc_now())
        self._write(
            """UPDATE deliveries SET status = ?, last_error = ?, updated_at = ?,
                 sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,
                 claimed_by = CASE WHEN ? = 'sending' THEN NULL ELSE claimed_by END
               WHERE digest = ? AND recipient = ? AND status = 'sending' AND claimed_by = ?""",
            (status, error, stamp, status, stamp, status, digest, recipient.lower(), owner),
        )

    def _get_delivery(self, digest: str, recipient: str) -> DeliveryRow | None:
        row = self.conn.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE digest = ? AND recipient = ?",
            (digest, recipient.lower()),
        ).fetchone()
        return None if row is None else DeliveryRow(*row)

    def get_delivery(self, digest: str, recipient: str) -> DeliveryRow | None:
        return self._get_delivery(digest, recipient)

    def list_deliveries(self, digest: str | None = None) -> list[DeliveryRow]:
        if digest is None:
            rows = self.conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries ORDER BY digest, recipient"
            ).fetchall()
        else:
            rows = self.conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE digest = ? ORDER BY recipient",
                (digest,),
            ).fetchall()
        return [DeliveryRow(*row) for row in rows]

    def has_pending_deliveries(self) -> bool:
        """True when some recipient of some digest is still waiting (a stopped or failed send)."""
        row = self.conn.execute(
            "SELECT 1 FROM deliveries WHERE status = ? LIMIT 1", (PENDING,)
        ).fetchone()
        return row is not None

    def count_deliveries(self, digest: str) -> dict[str, int]:
        counts = {PENDING: 0, SENDING: 0, SENT: 0, FAILED: 0}
        for status, count in self.conn.execute(
            "SELECT status, COUNT(*) FROM deliveries WHERE digest = ? GROUP BY status", (digest,)
        ):
            counts[str(status)] = int(count)
        return counts

    # -- test sends (--to) ----------------------------------------------------------------------

    def record_test_send(
        self, digest: str, recipient: str, *, message_id: str, status: str,
        error: str | None = None, now: dt.datetime | None = None,
    ) -> None:
        stamp = _iso(now or utc_now())
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO test_sends (digest, recipient, status, message_id, last_error,
                                           created_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (digest, recipient.lower(), status, message_id, error, stamp,
                 stamp if status == SENT else None),
            )

    def count_test_sends(self, digest: str) -> int:
        row = self.conn.execute(
            "SELECT COUNT(*) FROM test_sends WHERE digest = ?", (digest,)
        ).fetchone()
        return int(row[0])

    # -- suppression --------------------------------------------------------------------------

    def add_suppression(self, address: str, *, now: dt.datetime | None = None) -> bool:
        """Add `address` to the suppression list; False if it was already there."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO suppression (address, added_at) VALUES (?, ?)",
                (address.strip().lower(), _iso(now or utc_now())),
            )
        return cur.rowcount == 1

    def list_suppressed(self) -> frozenset[str]:
        return frozenset(str(r[0]) for r in self.conn.execute("SELECT address FROM suppression"))

    # -- locks (the scheduler's "one run per database") -------------------------------------

    def acquire_lock(
        self, name: str, *, owner: str, stale_after: dt.timedelta | None = None,
        now: dt.datetime | None = None,
    ) -> LockHolder | None:
        """Take lock `name` for `owner`. Returns None on success, else the live holder.

        A lock whose holder process is gone (same host), or whose heartbeat is older than
        `stale_after`, is taken over.
        """
        moment = now or utc_now()
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT owner, acquired_at, heartbeat_at FROM locks WHERE name = ?", (name,)
            ).fetchone()
            if row is not None and row[0] != owner:
                holder = LockHolder(*row)
                # On this host the pid tells for sure; the heartbeat only judges other hosts
                # (a long send can hold up the renewal of a live scheduler).
                stale = not is_owner_alive(holder.owner) or (
                    stale_after is not None
                    and not is_same_host(holder.owner)
                    and dt.datetime.fromisoformat(holder.heartbeat_at) < moment - stale_after
                )
                if not stale:
                    return holder
            conn.execute(
                """INSERT OR REPLACE INTO locks (name, owner, acquired_at, heartbeat_at)
                   VALUES (?, ?, ?, ?)""",
                (name, owner, _iso(moment), _iso(moment)),
            )
        return None

    def renew_lock(self, name: str, *, owner: str, now: dt.datetime | None = None) -> bool:
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE locks SET heartbeat_at = ? WHERE name = ? AND owner = ?",
                (_iso(now or utc_now()), name, owner),
            )
        return cur.rowcount == 1

    def release_lock(self, name: str, *, owner: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))


_DIGEST_COLUMNS = (
    "name, path, sha256, date, papers, problems, status, error, seen_at, updated_at, sent_at, "
    "skipped_reason"
)
_DELIVERY_COLUMNS = (
    "digest, recipient, status, attempts, last_error, message_id, claimed_by, updated_at, sent_at"
)


def open_state(path: Path, *, read_only: bool = False) -> State:
    """Open (creating if needed) the state database at `path` in WAL mode with a busy timeout.

    `read_only` opens an existing file without creating or migrating it.
    """
    try:
        if read_only:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                   isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                                   check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False: the scheduler opens its state in one thread and closes it
            # in another; a State is still only used by one thread at a time.
            conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                                   check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not read_only:
            _enable_wal(conn)
            # NORMAL in WAL mode: a committed transaction survives a crash of this process
            # (kill -9); only a power loss can lose the last few commits.
            conn.execute("PRAGMA synchronous = NORMAL")
            _migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        raise StateError(
            f"{path}: cannot open the state database ({exc}); check state.path and that the "
            "file is an SQLite database this user can write"
        ) from exc
    return State(conn, path, read_only=read_only)


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL mode, waiting for other processes that are opening the same file.

    SQLite does not call the busy handler for the lock that changing the journal mode takes
    (two processes creating the database at the same moment get "database is locked" at
    once), so this waits here, up to the same busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        if row is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif int(row[0]) > SCHEMA_VERSION:
            raise StateError(
                f"{path}: state database schema version {row[0]} is newer than this program "
                f"understands ({SCHEMA_VERSION}); upgrade newsletter"
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
