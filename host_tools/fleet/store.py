"""Event storage for the receiver: SQLite (a file path, the default) or PostgreSQL (a
postgresql:// URL, for a fleet and for several receivers side by side).

Each payload is one row, unique by (device, boot, seq): a payload sent twice (a retry
after a lost confirmation, a LoRa repeat, two receivers behind one broker, a replayed
packet) is stored once. `add` says "stored", "duplicate" (same content as the stored row)
or "conflict": the same (device, boot, seq) with different content is kept in the
`conflicts` table (shown on the dashboard, `/api/conflicts`), never silently dropped.
A board's `boot` id changes at every start, so a sequence that restarts is stored.

`add` raises StoreError when the database cannot take the row (disk full, server down):
the receiver then confirms nothing, so the sender or the broker keeps the payload.
Alerts for the routes are queued in `route_queue` in the same transaction as their
event, so an alert is queued if and only if its event is stored (see host_tools/routes.py).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from typing import Any, Callable

from host_tools.data.datasets import DataError

_COLUMNS = ("id", "device", "boot", "seq", "kind", "event", "t", "score", "anomaly", "mode",
            "state", "received", "source", "payload")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id {serial},
    device TEXT NOT NULL,
    boot BIGINT NOT NULL DEFAULT 0,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    event TEXT,
    t DOUBLE PRECISION,
    score DOUBLE PRECISION,
    anomaly BOOLEAN,
    mode TEXT,
    state TEXT,
    received DOUBLE PRECISION NOT NULL,
    source TEXT NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (device, boot, seq)
)"""
_INDEX = "CREATE INDEX IF NOT EXISTS events_device_received ON events (device, received)"
_OLD_COLUMNS = ("id", "device", "seq", "kind", "event", "t", "score", "anomaly", "mode", "state",
                "received", "source", "payload")

# Same (device, boot, seq), different content: kept here, one row per distinct content.
_CONFLICTS = """
CREATE TABLE IF NOT EXISTS conflicts (
    id {serial},
    device TEXT NOT NULL,
    boot BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    received DOUBLE PRECISION NOT NULL,
    source TEXT NOT NULL,
    payload TEXT NOT NULL,
    digest TEXT NOT NULL,
    UNIQUE (device, boot, seq, digest)
)"""

# Alerts waiting for a route: one row per (stored anomaly start, route).
_ROUTE_QUEUE = """
CREATE TABLE IF NOT EXISTS route_queue (
    id {serial},
    route TEXT NOT NULL,
    body TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    next_try DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT,
    done DOUBLE PRECISION
)"""
_ROUTE_INDEX = "CREATE INDEX IF NOT EXISTS route_queue_due ON route_queue (route, state, next_try)"


class StoreError(Exception):
    """The database did not take the write (disk full, server down, locked): nothing was
    stored, so nothing may be confirmed to the sender."""


def is_url(spec: str) -> bool:
    return spec.startswith(("postgresql://", "postgres://"))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Store:
    """One database connection shared by the receiver's threads (a lock serialises it)."""

    ph = "?"
    where = ""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db: Any = None

    # -- backend specifics
    def _exec(self, sql: str, args: tuple = ()) -> Any:
        raise NotImplementedError

    def _transaction(self, fn: Callable[[], Any]) -> Any:
        """Run fn (which calls self._exec) in one transaction; StoreError if it fails."""
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def identity(self) -> str:
        """A stable name of this database (no password): the receiver's default MQTT
        client id is derived from it, so a restarted receiver resumes its session."""
        return self.where

    # -- events
    def add(self, p: dict, source: str, alerts: list[tuple[str, str]] | tuple = ()) -> str:
        """Store a validated payload: "stored", "duplicate" (this (device, boot, seq) is
        stored with the same content) or "conflict" (stored with other content; this one
        is kept in `conflicts`). `alerts` ((route, body) pairs) are queued in the same
        transaction when the payload is new. Raises StoreError."""
        boot = int(p.get("boot") or 0)
        text = json.dumps(p, sort_keys=True)
        now = time.time()
        row = (p["device"], boot, int(p["seq"]), p["type"], p.get("event"), float(p["t"]),
               float(p["score"]) if p.get("score") is not None else None,
               bool(p["anomaly"]) if "anomaly" in p else None, p.get("mode"), p.get("state"),
               now, source, text)
        ph = self.ph
        q = ",".join([ph] * len(row))
        sql = ("INSERT INTO events (device, boot, seq, kind, event, t, score, anomaly, mode, state, "
               f"received, source, payload) VALUES ({q}) ON CONFLICT (device, boot, seq) DO NOTHING")

        def tx() -> str:
            if self._exec(sql, row).rowcount == 1:
                for route, body in alerts:
                    self._exec(f"INSERT INTO route_queue (route, body, created, next_try) "
                               f"VALUES ({ph}, {ph}, {ph}, {ph})", (route, body, now, now))
                return "stored"
            old = self._exec(f"SELECT payload FROM events WHERE device = {ph} AND boot = {ph} AND seq = {ph}",
                             (p["device"], boot, int(p["seq"]))).fetchone()
            if old is not None and _same_content(old[0], text):
                return "duplicate"
            self._exec(f"INSERT INTO conflicts (device, boot, seq, received, source, payload, digest) "
                       f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph}) "
                       "ON CONFLICT (device, boot, seq, digest) DO NOTHING",
                       (p["device"], boot, int(p["seq"]), now, source, text, _digest(text)))
            return "conflict"

        return self._transaction(tx)

    def _rows(self, sql: str, args: tuple = ()) -> list[dict]:
        with self._lock:
            cur = self._exec(sql, args)
            names = [d[0] for d in cur.description]
            out = [dict(zip(names, r)) for r in cur.fetchall()]
        for r in out:
            if "anomaly" in r and r["anomaly"] is not None:
                r["anomaly"] = bool(r["anomaly"])
        return out

    def events(self, device: str | None = None, limit: int | None = None,
               newest_first: bool = False) -> list[dict]:
        where, args = ("WHERE device = %s" % self.ph, (device,)) if device else ("", ())
        order = "DESC" if newest_first else "ASC"
        lim = f" LIMIT {int(limit)}" if limit and int(limit) > 0 else ""
        return self._rows(f"SELECT {', '.join(_COLUMNS)} FROM events {where} ORDER BY id {order}{lim}", args)

    def payload_at(self, device: str, seq: int) -> dict | None:
        """The payload stored for (device, seq), to tell a duplicate from a conflict."""
        rows = self._rows(f"SELECT payload FROM events WHERE device = {self.ph} AND seq = {self.ph}",
                          (device, int(seq)))
        return json.loads(rows[0]["payload"]) if rows else None

    def count(self) -> int:
        return int(self._rows("SELECT COUNT(*) AS n FROM events")[0]["n"])

    def devices(self) -> list[dict]:
        rows = self._rows(
            "SELECT device, COUNT(*) AS n, MAX(received) AS last_seen, MAX(seq) AS last_seq, "
            "SUM(CASE WHEN event = 'anomaly_start' THEN 1 ELSE 0 END) AS alarms "
            "FROM events GROUP BY device ORDER BY device")
        for r in rows:
            last = self._rows(
                f"SELECT kind, event, state, score, anomaly, mode FROM events WHERE device = {self.ph} "
                f"AND kind IN ('heartbeat', 'event', 'status') ORDER BY received DESC, seq DESC LIMIT 1",
                (r["device"],))
            r.update(last[0] if last else {})
            r["status"] = _status_of(r)
        return rows

    def series(self, device: str, limit: int = 2000) -> list[dict]:
        return self._rows(
            f"SELECT received, t, score, kind, event, anomaly FROM events WHERE device = {self.ph} "
            f"AND score IS NOT NULL ORDER BY received DESC LIMIT {int(limit)}", (device,))[::-1]

    # -- conflicts
    def conflicts(self, limit: int = 200) -> list[dict]:
        """Newest first: each conflicting payload with the one stored under its key."""
        ph = self.ph
        return self._rows(
            "SELECT c.id, c.device, c.boot, c.seq, c.received, c.source, c.payload, "
            "e.payload AS stored_payload, e.source AS stored_source, e.received AS stored_received "
            "FROM conflicts c LEFT JOIN events e ON e.device = c.device AND e.boot = c.boot "
            f"AND e.seq = c.seq ORDER BY c.id DESC LIMIT {ph}", (int(limit),))

    def count_conflicts(self) -> int:
        return int(self._rows("SELECT COUNT(*) AS n FROM conflicts")[0]["n"])

    # -- the alert queue (host_tools/routes.py delivers it)
    def due_alerts(self, route: str, now: float, limit: int = 20) -> list[dict]:
        ph = self.ph
        return self._rows(
            f"SELECT id, body, attempts, next_try, created FROM route_queue WHERE route = {ph} "
            f"AND state = 'pending' AND next_try <= {ph} ORDER BY id LIMIT {int(limit)}", (route, now))

    def claim_alert(self, aid: int, seen_next_try: float, lease_until: float) -> bool:
        """Take one alert for delivery (several receivers may share a database): True if
        this caller owns it until lease_until."""
        ph = self.ph
        return self._transaction(lambda: self._exec(
            f"UPDATE route_queue SET next_try = {ph} WHERE id = {ph} AND state = 'pending' "
            f"AND next_try = {ph}", (lease_until, aid, seen_next_try)).rowcount == 1)

    def finish_alert(self, aid: int, state: str, attempts: int, next_try: float | None = None,
                     error: str | None = None) -> None:
        """state: 'delivered', 'pending' (retry at next_try) or 'failed' (given up)."""
        ph = self.ph
        now = time.time()
        self._transaction(lambda: self._exec(
            f"UPDATE route_queue SET state = {ph}, attempts = {ph}, next_try = {ph}, last_error = {ph}, "
            f"done = {ph} WHERE id = {ph}",
            (state, attempts, next_try if next_try is not None else now, error,
             None if state == "pending" else now, aid)))

    def alert_counts(self) -> dict:
        rows = self._rows("SELECT route, state, COUNT(*) AS n FROM route_queue GROUP BY route, state")
        out: dict = {}
        for r in rows:
            out.setdefault(r["route"], {})[r["state"]] = int(r["n"])
        return out

    def next_alert_due(self, route: str) -> float | None:
        r = self._rows(f"SELECT MIN(next_try) AS t FROM route_queue WHERE route = {self.ph} "
                       "AND state = 'pending'", (route,))
        return r[0]["t"] if r and r[0]["t"] is not None else None


def _same_content(stored: str, new: str) -> bool:
    if stored == new:
        return True
    try:
        return json.loads(stored) == json.loads(new)
    except ValueError:
        return False


def _status_of(r: dict) -> str:
    if r.get("kind") == "event":
        return "anomaly" if r.get("event") == "anomaly_start" else "normal"
    return r.get("state") or "unknown"


# ---- schema: each change in its own function (others add theirs beside these) ---------

def _create_events(run: Callable[[str], Any], serial: str) -> None:
    run(_SCHEMA.format(serial=serial))
    run(_INDEX)


def _migrate_events_boot_sqlite(db: sqlite3.Connection, serial: str) -> None:
    """Databases from before the boot id: unique (device, seq) becomes (device, boot, seq)
    (SQLite cannot drop a constraint: the table is copied once)."""
    cols = [r[1] for r in db.execute("PRAGMA table_info(events)").fetchall()]
    if not cols or "boot" in cols:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(_SCHEMA.format(serial=serial).replace("EXISTS events", "EXISTS events_boot"))
        names = ", ".join(_OLD_COLUMNS)
        db.execute(f"INSERT INTO events_boot ({names}) SELECT {names} FROM events")
        db.execute("DROP TABLE events")
        db.execute("ALTER TABLE events_boot RENAME TO events")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _migrate_events_boot_postgres(db: Any) -> None:
    if db.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                  "AND table_name = 'events' AND column_name = 'boot'").fetchone():
        return
    db.execute("ALTER TABLE events ADD COLUMN boot BIGINT NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE events DROP CONSTRAINT IF EXISTS events_device_seq_key")
    db.execute("ALTER TABLE events ADD CONSTRAINT events_device_boot_seq_key UNIQUE (device, boot, seq)")


def _create_conflicts(run: Callable[[str], Any], serial: str) -> None:
    run(_CONFLICTS.format(serial=serial))


def _create_route_queue(run: Callable[[str], Any], serial: str) -> None:
    run(_ROUTE_QUEUE.format(serial=serial))
    run(_ROUTE_INDEX)


class SqliteStore(Store):
    ph = "?"
    _SERIAL = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, path: str) -> None:
        super().__init__()
        import os

        try:
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=10,
                                       isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            _migrate_events_boot_sqlite(self._db, self._SERIAL)
            _create_events(self._db.execute, self._SERIAL)
            _create_conflicts(self._db.execute, self._SERIAL)
            _create_route_queue(self._db.execute, self._SERIAL)
        except sqlite3.Error as e:
            raise DataError(f"{path}: cannot open the SQLite database: {e}") from None
        self.where = path
        self._abs = os.path.realpath(path)

    def identity(self) -> str:
        return self._abs

    def _exec(self, sql: str, args: tuple = ()) -> Any:
        return self._db.execute(sql, args)

    def _rows(self, sql: str, args: tuple = ()) -> list[dict]:
        try:
            return super()._rows(sql, args)
        except sqlite3.Error as e:
            raise StoreError(f"{self.where}: {e}") from None

    def _transaction(self, fn: Callable[[], Any]) -> Any:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    out = fn()
                    self._db.execute("COMMIT")
                    return out
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                raise StoreError(f"{self.where}: {e}") from None


class PostgresStore(Store):
    ph = "%s"
    _SERIAL = "BIGSERIAL PRIMARY KEY"

    def __init__(self, url: str) -> None:
        super().__init__()
        try:
            import psycopg
        except ImportError:
            raise DataError("PostgreSQL needs the psycopg package (pip install 'psycopg[binary]')") from None
        self._psycopg = psycopg
        self.url = url
        self.where = _redact(url)
        try:
            self._connect()
        except psycopg.Error as e:
            raise DataError(f"{self.where}: cannot connect: {str(e).strip().splitlines()[0]}") from None

    def identity(self) -> str:
        from urllib.parse import urlsplit

        u = urlsplit(self.url)
        return f"{u.hostname}:{u.port or 5432}{u.path}"

    def _connect(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except Exception:  # noqa: BLE001 - a dead connection may fail to close
                pass
            self._db = None
        db = self._psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        # two receivers starting at once may race on CREATE TABLE: serialise it
        db.execute("SELECT pg_advisory_lock(7231)")
        try:
            exists = db.execute("SELECT to_regclass('events')").fetchone()  # one row, always
            if exists is not None and exists[0] is not None:
                _migrate_events_boot_postgres(db)
            _create_events(db.execute, self._SERIAL)
            _create_conflicts(db.execute, self._SERIAL)
            _create_route_queue(db.execute, self._SERIAL)
        finally:
            db.execute("SELECT pg_advisory_unlock(7231)")
        self._db = db

    def _exec(self, sql: str, args: tuple = ()) -> Any:
        try:
            if self._db is None:
                self._connect()
            return self._db.execute(sql, args)
        except self._psycopg.OperationalError:
            self._connect()  # the server restarted: one reconnect, then let it raise
            return self._db.execute(sql, args)

    def _rows(self, sql: str, args: tuple = ()) -> list[dict]:
        try:
            return super()._rows(sql, args)
        except self._psycopg.Error as e:
            raise StoreError(f"{self.where}: {str(e).strip().splitlines()[0]}") from None

    def _transaction(self, fn: Callable[[], Any]) -> Any:
        with self._lock:
            for attempt in (0, 1):
                try:
                    if self._db is None or self._db.closed:
                        self._connect()
                    with self._db.transaction():
                        return fn()
                except self._psycopg.OperationalError as e:
                    if attempt:
                        raise StoreError(f"{self.where}: {str(e).strip().splitlines()[0]}") from None
                    self._db = None if self._db is None or self._db.closed else self._db
                    try:
                        self._connect()  # the server restarted: one reconnect and retry
                    except self._psycopg.Error as e2:
                        raise StoreError(f"{self.where}: {str(e2).strip().splitlines()[0]}") from None
                except self._psycopg.Error as e:
                    raise StoreError(f"{self.where}: {str(e).strip().splitlines()[0]}") from None
        raise StoreError(f"{self.where}: unreachable")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        head, tail = url.split("://", 1)
        return f"{head}://***@{tail.split('@', 1)[1]}"
    return url


def open_store(spec: str) -> Store:
    """A path (SQLite) or a postgresql:// URL."""
    return PostgresStore(spec) if is_url(spec) else SqliteStore(spec)


# ---- alert acknowledgements (dashboard): a table of their own -------------------------

_ACK_SCHEMA = """
CREATE TABLE IF NOT EXISTS acks (
    device TEXT NOT NULL,
    seq BIGINT NOT NULL,
    name TEXT NOT NULL,
    note TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (device, seq)
)"""


def ensure_ack_table(st: Store) -> None:
    """Create the acknowledgement table if it is missing (both backends; idempotent)."""
    if getattr(st, "_ack_ready", False):
        return
    with st._lock:
        st._exec(_ACK_SCHEMA)
    st._ack_ready = True  # type: ignore[attr-defined]


def acknowledge(st: Store, device: str, seq: int, name: str, note: str, at: float | None = None) -> bool:
    """Acknowledge the alert (device, seq): who and a note. False if that alert is not
    stored or already acknowledged (the first acknowledgement stays)."""
    ensure_ack_table(st)
    if not st._rows(f"SELECT 1 AS x FROM events WHERE device = {st.ph} AND seq = {st.ph} "
                    f"AND event = 'anomaly_start'", (device, int(seq))):
        return False
    q = ",".join([st.ph] * 5)
    with st._lock:
        cur = st._exec(f"INSERT INTO acks (device, seq, name, note, at) VALUES ({q}) "
                       f"ON CONFLICT (device, seq) DO NOTHING",
                       (device, int(seq), name, note, time.time() if at is None else float(at)))
    return cur.rowcount == 1


def acks(st: Store, device: str | None = None) -> dict[tuple[str, int], dict]:
    """(device, seq) -> {name, note, at} of every acknowledged alert (of one device)."""
    ensure_ack_table(st)
    where, args = (f"WHERE device = {st.ph}", (device,)) if device else ("", ())
    return {(r["device"], int(r["seq"])): r
            for r in st._rows(f"SELECT device, seq, name, note, at FROM acks {where}", args)}


def view(row: dict) -> dict:
    """A stored row as the API and `events --json` give it: the payload as an object."""
    out = dict(row)
    if isinstance(out.get("payload"), str):
        out["payload"] = json.loads(out["payload"])
    return out


def history(st: Store, device: str, since: float | None = None, until: float | None = None,
            limit: int = 5000) -> list[dict]:
    """A device's payloads (oldest first) received in [since, until], at most `limit`
    newest ones."""
    args: list[str | float]
    cond, args = [f"device = {st.ph}"], [device]
    if since is not None:
        cond.append(f"received >= {st.ph}")
        args.append(since)
    if until is not None:
        cond.append(f"received <= {st.ph}")
        args.append(until)
    rows = st._rows(f"SELECT {', '.join(_COLUMNS)} FROM events WHERE {' AND '.join(cond)} "
                    f"ORDER BY received DESC, seq DESC LIMIT {int(limit)}", tuple(args))
    return rows[::-1]
