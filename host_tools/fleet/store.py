"""Event storage for the receiver: SQLite (a file path, the default) or PostgreSQL (a
postgresql:// URL, for a fleet and for several receivers side by side).

Each payload is one row; UNIQUE(device, seq) makes storing idempotent, so a payload sent
twice (a retry after a lost confirmation, a LoRa repeat, two receivers behind one broker,
a replayed packet) is stored once and `add` says whether it was new.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from typing import Any

from host_tools.data.datasets import DataError

_COLUMNS = ("id", "device", "seq", "kind", "event", "t", "score", "anomaly", "mode", "state",
            "received", "source", "payload")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id {serial},
    device TEXT NOT NULL,
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
    UNIQUE (device, seq)
)"""
_INDEX = "CREATE INDEX IF NOT EXISTS events_device_received ON events (device, received)"


def is_url(spec: str) -> bool:
    return spec.startswith(("postgresql://", "postgres://"))


class Store:
    """One database connection shared by the receiver's threads (a lock serialises it)."""

    ph = "?"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db: Any = None

    # -- backend specifics
    def _exec(self, sql: str, args: tuple = ()) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- common
    def add(self, p: dict, source: str) -> bool:
        """Store a validated payload; False if (device, seq) is already stored."""
        row = (p["device"], int(p["seq"]), p["type"], p.get("event"), float(p["t"]),
               float(p["score"]) if p.get("score") is not None else None,
               bool(p["anomaly"]) if "anomaly" in p else None, p.get("mode"), p.get("state"),
               time.time(), source, json.dumps(p, sort_keys=True))
        q = ",".join([self.ph] * len(row))
        sql = ("INSERT INTO events (device, seq, kind, event, t, score, anomaly, mode, state, "
               f"received, source, payload) VALUES ({q}) ON CONFLICT (device, seq) DO NOTHING")
        with self._lock:
            return self._exec(sql, row).rowcount == 1

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
        lim = f" LIMIT {int(limit)}" if limit else ""
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


def _status_of(r: dict) -> str:
    if r.get("kind") == "event":
        return "anomaly" if r.get("event") == "anomaly_start" else "normal"
    return r.get("state") or "unknown"


class SqliteStore(Store):
    ph = "?"

    def __init__(self, path: str) -> None:
        super().__init__()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=10,
                                       isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute(_SCHEMA.format(serial="INTEGER PRIMARY KEY AUTOINCREMENT"))
            self._db.execute(_INDEX)
        except sqlite3.Error as e:
            raise DataError(f"{path}: cannot open the SQLite database: {e}") from None
        self.where = path

    def _exec(self, sql: str, args: tuple = ()) -> Any:
        return self._db.execute(sql, args)


class PostgresStore(Store):
    ph = "%s"

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

    def _connect(self) -> None:
        self._db = self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        # two receivers starting at once may race on CREATE TABLE: serialise it
        self._db.execute("SELECT pg_advisory_lock(7231)")
        try:
            self._db.execute(_SCHEMA.format(serial="BIGSERIAL PRIMARY KEY"))
            self._db.execute(_INDEX)
        finally:
            self._db.execute("SELECT pg_advisory_unlock(7231)")

    def _exec(self, sql: str, args: tuple = ()) -> Any:
        try:
            return self._db.execute(sql, args)
        except self._psycopg.OperationalError:
            self._connect()  # the server restarted: one reconnect, then let it raise
            return self._db.execute(sql, args)


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
