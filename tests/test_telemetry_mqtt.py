"""The board's MQTT transport (adafruit_minimqtt on CPython's socket module) through a real
mosquitto broker on loopback to the receiver; socket hygiene across broker outages; two
receivers sharing a subscription; the outage test on SQLite and PostgreSQL.

Found here: mosquitto queues QoS 1 messages for an offline persistent session with a plain
subscription, but not for a shared-subscription group whose members are all offline. After
a broker restart, a board that reconnects before any receiver of a group loses what it
publishes in between (the broker acknowledged it). The outage test therefore uses a plain
subscription; run one receiver per broker with a plain subscription when no loss is
acceptable, or keep a group's receivers up across broker restarts.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from device import payloads, telemetry
from device import outbox as outbox_mod
from device.mqttsend import MqttTransport
from device.spill import FileSpill
from host_tools.fleet import receiver
from host_tools.fleet import store
from host_tools.fleet.hostnet import host_transport
from netparts import Mosquitto, Postgres

USERS = {"board": "b-pass", "rx": "r-pass"}


@pytest.fixture
def broker():
    m = Mosquitto(USERS).start()
    yield m
    m.close()


@pytest.fixture(scope="module")
def pg():
    p = Postgres().start()
    yield p
    p.close()


def _board(m, user="board", pw="b-pass"):
    return host_transport("mqtt://%s:%s@127.0.0.1:%d/anomaly" % (user, pw, m.port), timeout=2)


logs = []


def _receiver(m, st, group=None, cid=None):
    rx = receiver.Receiver(st, log=logs.append)
    inp = rx.serve_mqtt("mqtt://rx:r-pass@127.0.0.1:%d" % m.port, "anomaly", group, cid)
    assert inp.connected.wait(10)
    time.sleep(0.2)  # SUBACK
    return rx


def _p(seq, kind="event", dev="fan-1"):
    if kind == "event":
        p = payloads.event("anomaly_start" if seq % 2 else "anomaly_end", 1.2, "high", top=[["rms", 0.7]])
    else:
        p = payloads.heartbeat("normal", seq, 0, 0, score=0.2, mode="low", anomaly=False)
    p.update(device=dev, seq=seq, t=seq * 1.0)
    return p


def _wait(cond, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_board_mqtt_through_mosquitto_to_receiver(broker, tmp_path):
    st = store.open_store(str(tmp_path / "m.db"))
    rx = _receiver(broker, st)
    tr = _board(broker)
    tr.discovery_prefix = "homeassistant"
    assert isinstance(tr, MqttTransport)
    for i in range(1, 31):
        assert tr.send(_p(i, "event" if i % 3 == 0 else "heartbeat")) is True
    assert _wait(lambda: st.count() == 30)
    assert [r["seq"] for r in st.events()] == list(range(1, 31))
    assert {r["source"] for r in st.events()} == {"mqtt"}
    # Home Assistant discovery: retained config messages for the three entities
    import paho.mqtt.client as mqtt

    got = {}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.username_pw_set("rx", "r-pass")
    c.on_message = lambda cl, u, msg: got.__setitem__(msg.topic, json.loads(msg.payload))
    c.connect("127.0.0.1", broker.port)
    c.subscribe("homeassistant/#")
    c.loop_start()
    assert _wait(lambda: len(got) == 3, 5)
    c.loop_stop()
    c.disconnect()
    assert got["homeassistant/binary_sensor/fan-1_anomaly/config"]["state_topic"] == "anomaly/fan-1/event"
    # garbage on the receiver's topics is refused and never stored
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.username_pw_set("board", "b-pass")
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    bad = [b"", b"{", b"null", json.dumps(_p(99, dev="other")).encode(), b"\xff" * 40,
           json.dumps(dict(_p(98), score=None, type="event")).encode(),
           json.dumps(dict(_p(97), error="x" * 9000)).encode(),  # over --max-body: refused
           json.dumps(_p(96)).replace("0.7", "1" + "0" * 400).encode()]  # beyond the float range
    for b in bad:
        c.publish("anomaly/fan-1/event", b, qos=1).wait_for_publish(5)
    assert _wait(lambda: sum(rx.counters()["rejected"].values()) == len(bad), 5)
    c.loop_stop()
    c.disconnect()
    assert st.count() == 30
    rx.close()
    st.close()


class _SocketsTo:
    """Records the sockets this process creates while active and which port each connects to.

    A process-wide count of open descriptors also counts other threads' files and sockets
    (a pty reader left by another test, a receiver's connection), which a loaded machine
    schedules into the window; this asks only about the sockets aimed at one port. It keeps
    them referenced, so a socket counts as closed only when close() was called on it, not
    because CPython's reference counting dropped it (CircuitPython frees sockets only on a
    garbage collection, and the ESP32-S3 has few)."""

    def __init__(self, port: int):
        self.port = port
        self.made: list[socket.socket] = []
        self.orig = socket.socket
        rec = self

        class _Recorded(socket.socket):
            def connect(self, address):
                if isinstance(address, tuple) and len(address) >= 2 and address[1] == rec.port:
                    rec.made.append(self)
                return super().connect(address)

        self.cls = _Recorded

    def __enter__(self) -> "_SocketsTo":
        socket.socket = self.cls  # type: ignore[misc]
        return self

    def __exit__(self, *exc) -> None:
        socket.socket = self.orig  # type: ignore[misc]

    def still_open(self) -> int:
        return sum(1 for s in self.made if s.fileno() != -1)


def test_mqtt_reconnects_without_leaking_sockets(broker):
    import adafruit_connection_manager as acm

    cm = acm.get_connection_manager(socket)

    def ours():  # the manager is process-wide: count the sockets to this broker
        return sum(1 for key in cm._managed_socket_by_key if key[1] == broker.port)

    tr = _board(broker)
    assert tr.send(_p(1)) is True
    assert ours() == 1
    wrong = _board(broker, pw="nope")
    assert wrong.send(_p(1)) is False and "MMQTT" in (wrong.last_error or "")
    assert ours() == 1
    broker.stop()
    with _SocketsTo(broker.port) as made:
        for i in range(40):
            assert tr.send(_p(i + 2)) is False
    assert ours() == 0  # MiniMQTT's socket was closed every time
    # the first send finds the old socket dead; each later one opens a new socket and is refused
    assert len(made.made) >= 39, "every send tried the broker: %d sockets" % len(made.made)
    assert made.still_open() == 0  # and the sockets of the refused connects were closed too
    broker.start()
    assert tr.send(_p(100)) is True and tr.connects == 2
    assert ours() == 1


def test_two_receivers_share_one_broker_store_each_event_once(broker, tmp_path):
    db = str(tmp_path / "shared.db")
    s1, s2 = store.open_store(db), store.open_store(db)
    r1 = _receiver(broker, s1, group="rx", cid="rx1")
    r2 = _receiver(broker, s2, group="rx", cid="rx2")
    tr = _board(broker)
    for i in range(1, 201):
        assert tr.send(_p(i)) is True
    assert _wait(lambda: s1.count() == 200)
    c1, c2 = r1.counters(), r2.counters()
    assert c1["stored"] + c2["stored"] == 200 and c1["stored"] > 0 and c2["stored"] > 0
    assert sorted(r["seq"] for r in s1.events()) == list(range(1, 201))  # once each
    for r in (r1, r2):
        r.close()
    s1.close()
    s2.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_outage_every_alert_arrives_exactly_once(backend, broker, tmp_path, request):
    if backend == "postgresql":
        pgs = request.getfixturevalue("pg")
        pgs.reset()
        st = store.open_store(pgs.url)
    else:
        st = store.open_store(str(tmp_path / "o.db"))
    # a plain persistent subscription: mosquitto queues for it while the receiver is away
    # (for a shared group it does not, see the module docstring)
    rx = _receiver(broker, st, group=None, cid="rx-outage")
    tr = _board(broker)
    # the board's outbox: 8 in RAM, alerts beyond that spill to a file (board owns its drive)
    spill = FileSpill(str(tmp_path / "outbox.jsonl"), 1 << 20)
    box = outbox_mod.Outbox(tr, capacity=8, per_pump=4, budget_ms=250, spill=spill,
                            backoff_ms=100, backoff_max_ms=500)
    trace = []
    real_send = tr.send

    def traced(p):
        r = real_send(p)
        trace.append((p["seq"], r, outage, tr.last_error))
        return r

    tr.send = traced
    seq = 0
    alerts = []
    during = 0
    worst = [0]

    def window(i):
        nonlocal seq, during
        seq += 1
        p = _p(seq, "event" if i % 2 else "heartbeat")
        if p["type"] == "event":
            alerts.append(seq)
            during += outage
        box.put(p)
        worst[0] = max(worst[0], box.last_ms)
        box.pump()
        worst[0] = max(worst[0], box.last_ms)
        time.sleep(0.005)

    outage = False
    for i in range(40):
        window(i)
    broker.stop()
    outage = True
    t0 = time.monotonic()
    for i in range(40, 240):
        window(i)
    outage = False
    broker.start()
    for i in range(240, 260):
        window(i)
    assert _wait(lambda: box.pump() >= 0 and len(box) == 0, 30)
    _wait(lambda: sum(r["kind"] == "event" for r in st.events()) >= len(alerts), 20)
    time.sleep(0.3)  # a late duplicate would show up now
    keys = [(r["device"], r["seq"]) for r in st.events() if r["kind"] == "event"]
    missing = sorted(set(alerts) - {s for _, s in keys})
    assert not missing, (missing, [t for t in trace if t[0] in missing or not t[1]], box.sent, box.failed)
    assert len(keys) == len(set(keys))
    assert box.dropped_events == 0 and box.spilled > 0
    print("outage %s: %d alerts produced during %.1f s outage, %d alerts total, %d stored, 0 duplicates; "
          "%d heartbeats dropped, %d spilled to flash; slowest pump %d ms"
          % (backend, during, time.monotonic() - t0, len(alerts), len(keys), box.dropped, box.spilled, worst[0]))
    rx.close()
    st.close()


def _publish_all(tr, seqs):
    for i in seqs:
        assert tr.send(_p(i)) is True


def test_mqtt_nothing_lost_while_storage_fails_or_the_receiver_restarts(broker, tmp_path):
    """SQLite full (its own 'database or disk is full') while messages arrive, then a
    restart with the default options: every message stored once. The default client id
    comes from the database, so the restarted receiver resumes the broker's session."""
    db = str(tmp_path / "full.db")
    st = store.open_store(db)
    rx = _receiver(broker, st)  # default client id
    cid = rx._servers[0].client_id
    tr = _board(broker)
    _publish_all(tr, range(1, 21))
    assert _wait(lambda: st.count() == 20)
    (pages,) = st._db.execute("PRAGMA page_count").fetchone()
    st._db.execute("PRAGMA max_page_count = %d" % pages)
    _publish_all(tr, range(21, 81))
    assert _wait(lambda: rx.counters()["store_errors"] > 0)
    assert st.count() < 80
    st._db.execute("PRAGMA max_page_count = 1073741823")  # the disk was freed
    assert _wait(lambda: st.count() == 80, 30)
    rx.close()
    _publish_all(tr, range(81, 121))  # while no receiver runs: the broker keeps them
    st2 = store.open_store(db)
    rx2 = _receiver(broker, st2)
    assert rx2._servers[0].client_id == cid
    assert _wait(lambda: st2.count() == 120, 30)
    time.sleep(0.3)  # a late duplicate would show now
    assert [r["seq"] for r in st2.events()] == list(range(1, 121))
    rx2.close()
    st.close()
    st2.close()


def test_mqtt_postgres_stopped_loses_nothing(broker, pg):
    pg.reset()
    st = store.open_store(pg.url)
    rx = _receiver(broker, st)
    tr = _board(broker)
    _publish_all(tr, range(1, 11))
    assert _wait(lambda: st.count() == 10)
    pg.stop()  # the database goes away
    _publish_all(tr, range(11, 61))
    assert _wait(lambda: rx.counters()["store_errors"] > 0)
    pg.start()
    assert _wait(lambda: st.count() == 60, 40)
    time.sleep(0.3)
    assert [r["seq"] for r in st.events()] == list(range(1, 61))
    rx.close()
    st.close()


ACL = """# docs/telemetry.md: each board is a broker user named as its device id and may publish
# only under <topic>/<its user name>/; the receiver reads everything
user rx
topic read anomaly/#
pattern write anomaly/%u/#
"""


def test_mqtt_one_user_per_board_with_an_acl(tmp_path):
    m = Mosquitto({"fan-1": "pw-1", "fan-2": "pw-2", "rx": "r-pass"}, acl=ACL).start()
    try:
        st = store.open_store(str(tmp_path / "acl.db"))
        rx = _receiver(m, st)
        import paho.mqtt.client as mqtt

        forger = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="forger")
        forger.username_pw_set("fan-1", "pw-1")  # fan-1's credentials, fan-2's topic and id
        forger.connect("127.0.0.1", m.port)
        forger.loop_start()
        for seq in range(1, 51):
            p = _p(seq, dev="fan-2")
            p["score"] = 9.0
            forger.publish("anomaly/fan-2/event", json.dumps(p), qos=1).wait_for_publish(5)
        forger.publish("anomaly/fan-1/event", json.dumps(_p(1, dev="fan-1")), qos=1).wait_for_publish(5)
        forger.loop_stop()
        forger.disconnect()
        genuine = _board(m, "fan-2", "pw-2")  # the board's own transport
        for seq in range(1, 51):
            assert genuine.send(_p(seq, dev="fan-2")) is True
        assert _wait(lambda: st.count() == 51)
        time.sleep(0.3)
        rows = st.events("fan-2")
        assert [r["seq"] for r in rows] == list(range(1, 51)) and {r["score"] for r in rows} == {1.2}
        assert st.count_conflicts() == 0
        rx.close()
        st.close()
    finally:
        m.close()
