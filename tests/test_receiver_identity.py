"""The receiver's HTTP door: per-device tokens (a forger cannot speak for another board),
boot ids (a restarted sequence is stored), conflicts kept and shown, 503 + Retry-After when
storage fails (and the board keeps the payload), reads behind a token, bounded `limit`,
numbers outside the float range refused, the listen backlog and the connection cap."""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from device import payloads
from device import outbox as outbox_mod
from host_tools.fleet import dashboard, receiver, store
from host_tools.fleet.hostnet import host_transport

TOKENS = {"fan-1": "tok-fan-1-0123456789", "fan-2": "tok-fan-2-0123456789"}
READ = "read-token-0123456789"


@pytest.fixture
def rx(tmp_path):
    st = store.open_store(str(tmp_path / "i.db"))
    logs: list[str] = []
    r = receiver.Receiver(st, device_tokens=TOKENS, read_token=READ, log=logs.append, max_connections=8)
    srv = r.serve_http("127.0.0.1", 0)
    r.base = "http://127.0.0.1:%d" % srv.server_address[1]
    r.logs = logs
    yield r
    r.close()
    st.close()


def _p(seq, dev="fan-2", boot=100, score=1.5):
    p = payloads.event("anomaly_start", score, "high", top=[["rms", 0.5]])
    p.update(device=dev, seq=seq, boot=boot, t=seq * 1.28)
    return p


def _post(rx, body, token):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(rx.base + "/ingest", data=data, method="POST",
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}"), dict(e.headers)


def _get(rx, path, auth=None):
    req = urllib.request.Request(rx.base + path, headers={"Authorization": auth} if auth else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_forged_device_is_refused_and_the_genuine_board_is_stored(rx):
    # fan-1's token claims fan-2's next 200 sequence numbers: every post refused, logged
    for seq in range(1, 201):
        code, body, _ = _post(rx, _p(seq, score=9.0), TOKENS["fan-1"])
        assert code == 403, body
    assert any("device mismatch" in line and "'fan-1'" in line and "'fan-2'" in line and "127.0.0.1:" in line
               for line in rx.logs), rx.logs
    tr = host_transport(rx.base + "/ingest", TOKENS["fan-2"])  # the board's own transport
    for seq in range(1, 201):
        assert tr.send(_p(seq)) is True
    rows = rx.store.events("fan-2")
    assert [r["seq"] for r in rows] == list(range(1, 201)) and {r["score"] for r in rows} == {1.5}
    bad = host_transport(rx.base + "/ingest", TOKENS["fan-1"])
    assert bad.send(_p(201)) is False and bad.last_status == 403  # kept: the operator fixes the token
    assert _post(rx, _p(1), "nope")[0] == 401


def test_restarted_sequence_is_stored_and_a_different_repeat_is_a_conflict(rx):
    t = TOKENS["fan-2"]
    for seq in range(1, 11):
        assert _post(rx, _p(seq, boot=100), t)[1] == {"result": "stored"}
    # storage wiped: the board starts again at seq 1 with a new boot id
    for seq in range(1, 11):
        assert _post(rx, _p(seq, boot=101, score=2.5), t)[1] == {"result": "stored"}
    assert _post(rx, _p(3, boot=101, score=2.5), t)[1] == {"result": "duplicate"}  # a plain retry
    # same key, other content (a board without boot ids restarting, or a forger): kept
    code, body, _ = _post(rx, _p(4, boot=101, score=7.0), t)
    assert code == 200 and body == {"result": "conflict"}
    assert _post(rx, _p(4, boot=101, score=7.0), t)[1] == {"result": "conflict"}  # kept once
    assert rx.store.count() == 20 and rx.store.count_conflicts() == 1
    c = rx.store.conflicts()[0]
    assert (c["device"], c["boot"], c["seq"]) == ("fan-2", 101, 4)
    assert json.loads(c["payload"])["score"] == 7.0 and json.loads(c["stored_payload"])["score"] == 2.5
    html = dashboard.render(rx.store)
    assert 'id="conflicts"' in html and "Conflicts (1)" in html
    code, got = _get(rx, "/api/conflicts", "Bearer " + READ)
    assert code == 200 and json.loads(got)[0]["seq"] == 4
    assert rx.counters()["conflicts"] == 2 and any("conflict: fan-2 boot 101 seq 4" in x for x in rx.logs)


def test_storage_failure_answers_503_and_the_board_keeps_the_payload(rx, tmp_path):
    tr = host_transport(rx.base + "/ingest", TOKENS["fan-2"])
    box = outbox_mod.Outbox(tr, capacity=64, per_pump=64, backoff_ms=0)
    db = rx.store._db
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute("PRAGMA max_page_count = %d" % pages)  # SQLite's own "database or disk is full"
    for seq in range(1, 61):  # the free room of the last pages fills, then every insert fails
        box.put(_p(seq))
    assert 0 < len(box) < 60 and tr.last_status == 503, (box.sent, len(box), tr.last_status)
    kept = len(box)
    code, body, headers = _post(rx, _p(1000), TOKENS["fan-2"])
    assert code == 503 and headers.get("Retry-After") == "5", (code, body)
    assert rx.store.count() == 60 - kept and rx.counters()["store_errors"] >= 2
    db.execute("PRAGMA max_page_count = 1073741823")  # space again
    assert box.flush(10000)
    assert [r["seq"] for r in rx.store.events()] == list(range(1, 61))
    assert rx._servers[0].crashes == 0


def test_reads_need_the_read_token_and_limit_is_bounded(rx):
    _post(rx, _p(1), TOKENS["fan-2"])
    for path in ("/", "/api/devices", "/api/events", "/api/conflicts", "/healthz"):
        code, _ = _get(rx, path)
        assert code == 401, path
        assert _get(rx, path, "Bearer wrong")[0] == 401
        assert _get(rx, path, "Bearer " + TOKENS["fan-2"])[0] == 401  # a board's token reads nothing
        assert _get(rx, path, "Bearer " + READ)[0] == 200, path
    basic = "Basic " + base64.b64encode(("anyone:" + READ).encode()).decode()
    assert _get(rx, "/", basic)[0] == 200  # what a browser sends
    for lim in ("0", "-1", "5001", "x"):
        assert _get(rx, "/api/events?limit=" + lim, "Bearer " + READ)[0] == 400, lim
    code, got = _get(rx, "/api/events?limit=5000", "Bearer " + READ)
    assert code == 200 and len(json.loads(got)) == 1
    rx.public_reads = True
    assert _get(rx, "/api/devices")[0] == 200


def test_numbers_beyond_float_range_never_reach_the_dashboard(rx):
    text = json.dumps(_p(1)).replace('"rms", 0.5', '"rms", 1' + "0" * 400)
    code, body, _ = _post(rx, text.encode(), TOKENS["fan-2"])
    assert code == 400, body
    code, body, _ = _post(rx, dict(_p(2), score=10 ** 39), TOKENS["fan-2"])
    assert code == 400 and "score" in body["error"]
    assert rx.store.count() == 0
    assert _get(rx, "/", "Bearer " + READ)[0] == 200


def test_backlog_and_connection_cap(rx):
    srv = rx._servers[0]
    assert srv.request_queue_size == 128
    # 8 idle connections hold every slot: the 9th is answered 503 at once, not queued
    held = [socket.create_connection(srv.server_address[:2], timeout=5) for _ in range(8)]
    try:
        end = time.monotonic() + 10
        while srv._open < 8 and time.monotonic() < end:
            time.sleep(0.02)
        with socket.create_connection(srv.server_address[:2], timeout=5) as c:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.recv(100).startswith(b"HTTP/1.1 503")
        assert srv.busy_refused >= 1
    finally:
        for c in held:
            c.close()
    end = time.monotonic() + 15  # the held slots come back when their clients leave
    while srv._open and time.monotonic() < end:
        time.sleep(0.05)
    assert _get(rx, "/healthz", "Bearer " + READ)[0] == 200


OLD_SCHEMA = """CREATE TABLE events (id {serial}, device TEXT NOT NULL, seq BIGINT NOT NULL,
    kind TEXT NOT NULL, event TEXT, t DOUBLE PRECISION, score DOUBLE PRECISION, anomaly BOOLEAN,
    mode TEXT, state TEXT, received DOUBLE PRECISION NOT NULL, source TEXT NOT NULL,
    payload TEXT NOT NULL, UNIQUE (device, seq))"""
OLD_ROW = ("INSERT INTO events (device, seq, kind, event, t, score, anomaly, mode, state, received, source, "
           "payload) VALUES ('fan-2', 1, 'event', 'anomaly_start', 1.0, 1.5, true, 'high', NULL, 1.0, 'http', '{}')")


def _migrated(st):
    assert [(r["device"], r["boot"], r["seq"]) for r in st.events()] == [("fan-2", 0, 1)]
    assert st.add(_p(1, boot=7), "http") == "stored"  # the same seq under a boot id: a new row
    assert st.add(_p(1, boot=7), "http") == "duplicate"
    assert st.count() == 2


def test_a_database_from_before_boot_ids_is_migrated(tmp_path):
    import sqlite3

    db = str(tmp_path / "old.db")
    c = sqlite3.connect(db)
    c.execute(OLD_SCHEMA.format(serial="INTEGER PRIMARY KEY AUTOINCREMENT"))
    c.execute(OLD_ROW)
    c.commit()
    c.close()
    st = store.open_store(db)
    _migrated(st)
    st.close()
    st = store.open_store(db)  # opening again changes nothing
    assert st.count() == 2
    st.close()


def test_a_postgresql_database_from_before_boot_ids_is_migrated():
    import psycopg

    from netparts import Postgres

    pg = Postgres().start()
    try:
        with psycopg.connect(pg.url, autocommit=True) as c:
            c.execute(OLD_SCHEMA.format(serial="BIGSERIAL PRIMARY KEY"))
            c.execute(OLD_ROW)
        st = store.open_store(pg.url)
        _migrated(st)
        st.close()
    finally:
        pg.close()
