"""The board's HTTP transport (adafruit_requests on CPython's socket module) posting to the
real receiver on loopback; the receiver under fuzzed input; the events command."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys

import pytest

from device import payload_check, payloads, telemetry
from device import outbox as outbox_mod
from device.httpsend import HttpTransport
from host_tools.fleet import receiver
from host_tools.fleet import store
from host_tools.fleet.hostnet import HostNet, host_transport
from netparts import free_port

TOKEN = "s3cret-token"


@pytest.fixture
def rx(tmp_path):
    st = store.open_store(str(tmp_path / "t.db"))
    r = receiver.Receiver(st, TOKEN, max_body=4096, log=lambda line: None)
    srv = r.serve_http("127.0.0.1", 0)
    r.url = "http://127.0.0.1:%d/ingest" % srv.server_address[1]
    yield r
    r.close()
    st.close()


def _p(seq, kind="event", dev="fan-1", **kw):
    if kind == "event":
        p = payloads.event("anomaly_start", 1.5 + seq / 100, "high", top=[["band_2", 0.5]])
    else:
        p = payloads.heartbeat("normal", seq * 10, 0, 0, score=0.3, mode="low", anomaly=False)
    p.update(device=dev, seq=seq, t=seq * 1.28, **kw)
    return p


def test_board_http_transport_posts_to_receiver(rx):
    tr = host_transport(rx.url, TOKEN)
    assert isinstance(tr, HttpTransport)
    for i in range(1, 21):
        assert tr.send(_p(i, "event" if i % 4 == 0 else "heartbeat")) is True
    assert tr.send(_p(4)) is True  # a retry after a lost confirmation: confirmed, stored once
    rows = rx.store.events()
    assert [r["seq"] for r in rows] == list(range(1, 21))
    assert rx.counters()["duplicates"] == 1
    assert sum(r["event"] == "anomaly_start" for r in rows) == 5


def test_wrong_token_is_not_confirmed_and_bad_payload_is_dropped(rx):
    bad = host_transport(rx.url, "wrong")
    assert bad.send(_p(1)) is False  # 401: keep it, the operator may fix the token
    assert bad.last_status == 401
    tr = host_transport(rx.url, TOKEN)
    huge = _p(2, error="x" * 5000)  # 413: will never be accepted, must not block the queue
    assert tr.send(huge) is True and tr.rejected == 1
    assert tr.send(dict(_p(3), score=float("nan"))) is True and tr.rejected == 2
    assert rx.store.count() == 0


def test_dead_receiver_costs_bounded_time_and_leaks_no_socket():
    port = free_port()  # nothing listens: connection refused
    tr = host_transport("http://127.0.0.1:%d/ingest" % port, TOKEN, timeout=1)
    box = telemetry.make_outbox(_settings(), HostNet(), tr)
    for i in range(1, 30):
        box.put(_p(i))
        box.pump()
    assert box.sent == 0 and len(box) == 16 and box.dropped_events == 13
    import adafruit_connection_manager as acm

    cm = acm.get_connection_manager(socket)  # process-wide: count the sockets to this port
    assert sum(1 for key in cm._managed_socket_by_key if key[1] == port) == 0


def _settings(**kw):
    from host_tools.fleet.hostnet import _S

    return _S(**kw)


def _raw_post(port, body, headers):
    """One request on a raw socket, write side closed after the body (so a lying
    Content-Length ends at once instead of waiting for the server's timeout)."""
    head = "POST /ingest HTTP/1.1\r\nHost: x\r\n" + "".join("%s: %s\r\n" % kv for kv in headers.items())
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(head.encode("latin-1") + b"\r\n" + body)
            c.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:  # the server closed first (e.g. after refusing a huge body)
        return None
    if not data.startswith(b"HTTP/1.1 "):
        return None
    return int(data[9:12])


def test_receiver_fuzz_http(rx):
    port = int(rx.url.split(":")[2].split("/")[0])
    rng = random.Random(9)
    good = json.dumps(_p(1)).encode()
    tried = 0
    statuses: dict = {}
    valid: set = set()
    auth = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
    for i in range(400):
        kind = i % 8
        hdrs = dict(auth)
        if kind == 0:  # random bytes
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        elif kind == 1:  # mutated valid JSON
            b = bytearray(good)
            for _ in range(rng.randrange(1, 6)):
                b[rng.randrange(len(b))] = rng.randrange(32, 127)
            body = bytes(b)
        elif kind == 2:  # valid JSON, wrong schema
            body = json.dumps(rng.choice([[], 1, "x", None, {"device": "a"}, dict(_p(1), seq=-5),
                                          dict(_p(1), type="evil"), dict(_p(1), score="NaN"),
                                          dict(_p(1), device="../etc")])).encode()
        elif kind == 3:  # oversized
            body = b"{" + b" " * (4096 + rng.randrange(1, 50000)) + b"}"
        elif kind == 4:  # wrong or missing token
            body = good
            hdrs["Authorization"] = rng.choice(["Bearer nope", "", "Basic abc", "Bearer " + TOKEN + "x"])
        elif kind == 5:  # NaN / deep nesting
            body = rng.choice([good.replace(b"1.51", b"NaN"), b"[" * 5000 + b"]" * 5000])
        elif kind == 6:  # lying Content-Length (shorter body than announced: connection closes)
            body = good[:10]
            hdrs["Content-Length"] = str(len(good))
        else:  # non-UTF-8 inside a string
            body = good.replace(b"high", b"\xff\xfe")
        if "Content-Length" not in hdrs:
            hdrs["Content-Length"] = str(len(body))
        st = _raw_post(port, body, hdrs)
        statuses[st] = statuses.get(st, 0) + 1
        tried += 1
        try:  # a mutation may happen to give another valid payload: that one may be stored
            ok = kind in (1, 2, 7) and payload_check.loads(body) is not None
        except payloads.PayloadError:
            ok = False
        if ok:
            valid.add((json.loads(body)["device"], json.loads(body)["seq"]))
            assert st == 200
        else:
            assert st in (400, 401, 411, 413, None), (kind, st)
    # the server is still up and takes a good payload; nothing bad was stored
    assert _raw_post(port, good, dict(auth, **{"Content-Length": str(len(good))})) == 200
    valid.add(("fan-1", 1))
    rows = rx.store.events()
    assert {(r["device"], r["seq"]) for r in rows} == valid and len(rows) == len(valid)
    assert rx._servers[0].crashes == 0
    bad = tried - statuses.get(200, 0)
    print("fuzz http: %d tried, %d refused, statuses %s, 0 crashes, 0 bad rows" % (tried, bad, statuses))


def test_events_command(tmp_path, rx):
    tr = host_transport(rx.url, TOKEN)
    for i in range(1, 4):
        tr.send(_p(i))
    db = rx.store.where
    out = subprocess.run([sys.executable, "-m", "host_tools", "events", "--db", db, "--json"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    rows = [json.loads(line) for line in out]
    assert [(r["device"], r["seq"], r["kind"]) for r in rows] == [("fan-1", i, "event") for i in (1, 2, 3)]
    assert rows[0]["score"] == 1.51
    r = subprocess.run([sys.executable, "-m", "host_tools", "events", "--db", str(tmp_path / "none.db")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    for args in (["receive", "--db", str(tmp_path / "x.db")],
                 ["receive", "--db", str(tmp_path / "x.db"), "--http", "127.0.0.1:0"],
                 ["receive", "--db", str(tmp_path / "x.db"), "--lora-serial", "-"],
                 ["receive", "--db", str(tmp_path / "x.db"), "--routes", str(tmp_path / "nope.json"), "--no-token",
                  "--http", "127.0.0.1:0"]):
        r = subprocess.run([sys.executable, "-m", "host_tools", *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and r.stderr.startswith("error: "), (args, r.stderr)
