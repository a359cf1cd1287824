"""Alert routes (webhook to a loopback server, log file) fire once per anomaly start with
its explanation; the dashboard loads in headless Chromium and shows a device that posted
and its score plot; the `receive` command runs as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from device import payload_check, payloads
from host_tools.fleet import receiver
from host_tools.fleet import routes
from host_tools.fleet import store
from host_tools.fleet.hostnet import host_transport
from netparts import chromium, free_port, wait_port

TOKEN = "tok"


def _ev(seq, ev, score, dev="fan-7"):
    p = payloads.event(ev, score, "high", top=[["band_3", 0.55], ["kurtosis", 0.21]] if ev == "anomaly_start" else None)
    p.update(device=dev, seq=seq, t=seq * 1.28)
    return p


def _hb(seq, score, dev="fan-7"):
    p = payloads.heartbeat("normal", seq, 0, 1, score=score, mode="high", anomaly=score > 1)
    p.update(device=dev, seq=seq, t=seq * 1.28)
    return p


class Hook:
    def __init__(self):
        self.bodies = []
        hook = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers["Content-Length"])
                hook.bodies.append((self.headers.get("X-Key"), json.loads(self.rfile.read(n))))
                self.send_response(204)
                self.end_headers()

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/hook" % self.srv.server_address[1]


def test_routes_fire_once_per_anomaly_start(tmp_path):
    hook = Hook()
    cfg = tmp_path / "routes.json"
    log = tmp_path / "alerts.log"
    cfg.write_text(json.dumps({"routes": [{"type": "webhook", "url": hook.url, "headers": {"X-Key": "k1"}},
                                          {"type": "log", "path": str(log)}]}))
    db = str(tmp_path / "r.db")
    # two receivers on one database (as behind a shared broker subscription)
    rxs = [receiver.Receiver(store.open_store(db), TOKEN, routes.Routes.load(str(cfg)), log=lambda line: None)
           for _ in range(2)]
    evs = [_ev(1, "anomaly_start", 2.5), _ev(2, "anomaly_end", 0.7), _ev(3, "anomaly_start", 1.9)]
    for p in evs + evs:  # every event delivered to both receivers, twice
        for rx in rxs:
            rx.ingest(payload_check.validate(json.loads(json.dumps(p))), "http")
    for rx in rxs:
        rx.routes.wait()
    assert [b["seq"] for _, b in hook.bodies] == [1, 3] or sorted(b["seq"] for _, b in hook.bodies) == [1, 3]
    key, body = hook.bodies[0]
    assert key == "k1" and body["device"] == "fan-7" and body["event"] == "anomaly_start"
    assert "fan-7: anomaly started in mode high, score" in body["explanation"]
    assert "band_3 (0.55)" in body["explanation"]
    # a board that sends values, and a cold spot: the dashboard's words
    p = dict(_ev(4, "anomaly_start", 2.0), top=[["energy_88-95Hz", 40.0]], values=[[-2.1, -5.05, 0.4]],
             hotspot={"row": 7.5, "col": 26.7, "excess": -23.8, "kind": "cold"})
    words = routes.alert_body(payload_check.validate(p))["explanation"]
    assert words.endswith("score 2.00 x the alarm line; vibration energy in 88–95 Hz is 19× normal; "
                          "A cold spot at row 7.5, column 26.7: 23.8 °C below normal"), words
    lines = log.read_text().splitlines()
    assert len(lines) == 2 and all("ALERT fan-7: anomaly started" in x for x in lines)
    bad = tmp_path / "bad.json"
    for text in ("{", '{"routes": [{"type": "sms"}]}', '{"routes": [{"type": "webhook", "url": "ftp://x"}]}', "[]"):
        bad.write_text(text)
        try:
            routes.Routes.load(str(bad))
            raise AssertionError(text)
        except routes.DataError as e:
            assert str(bad) in str(e)


def test_dashboard_in_headless_chromium(tmp_path):
    browser = chromium()
    port = free_port()
    db = str(tmp_path / "d.db")
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "receive", "--db", db, "--http",
                             "127.0.0.1:%d" % port, "--token", TOKEN], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_port(port, 30)
        tr = host_transport("http://127.0.0.1:%d/ingest" % port, TOKEN)
        seq = 0
        for score in (0.2, 0.3, 0.25, 1.6, 2.2, 1.4, 0.5, 0.3):
            seq += 1
            assert tr.send(_hb(seq, score))
            if score == 1.6:
                seq += 1
                assert tr.send(_ev(seq, "anomaly_start", score))
            if score == 0.5:
                seq += 1
                assert tr.send(_ev(seq, "anomaly_end", score))
            time.sleep(0.02)
        profile = tmp_path / "profile"
        flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", "--user-data-dir=%s" % profile]
        # reads need the token: a browser sends it as HTTP Basic (any user name)
        url = "http://viewer:%s@127.0.0.1:%d/" % (TOKEN, port)
        dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
        assert 'data-device="fan-7"' in dom and '<a href="/device/fan-7">fan-7</a>' in dom
        assert '<svg class="plot" data-device="fan-7"' in dom
        assert 'class="score" points="' in dom and 'class="alarm-line"' in dom and 'class="anomaly-span"' in dom
        assert "Out of normal while running as “high”" in dom  # explanations in words (dashboard.py)
        shot = tmp_path / "dash.png"
        subprocess.run(flags + ["--screenshot=%s" % shot, "--window-size=900,900", url],
                       capture_output=True, timeout=120)
        assert shot.exists() and shot.stat().st_size > 5000
        if os.environ.get("DASHBOARD_PNG"):
            import shutil

            shutil.copy(shot, os.environ["DASHBOARD_PNG"])
        with open(shot, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "stored 10, duplicates 0, conflicts 0, rejected 0" in out, (out, err)
