"""The dashboard for someone who handles alarms, in headless Chromium: dates in the
viewer's zone from the board's time stamps, a y axis, stale/offline devices, a device page
with its history, a time range and its anomalies with durations, alerts acknowledged with
a name and a note (SQLite and PostgreSQL), explanations in words; one payload shape in the
API and `events --json`. SCREENSHOT_DIR=... keeps the screenshots."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from device import payloads
from device import payload_check as payloads_check
from host_tools.fleet import dashboard, store, wording
from host_tools.fleet.hostnet import host_transport
from netparts import Postgres, chromium, free_port, wait_port

TOKEN = "tok"
TOP = [["energy_88-95Hz", 1.45], ["centroid_88-95Hz", 0.62], ["kurtosis_x", 0.1]]
# what a board sends with them: value, normal mean, spread (log energy 2.95 over normal)
VALUES = [[-2.1, -5.05, 0.4], [0.31, 0.02, 0.05], [1.2, 1.1, 0.2]]


def _hb(dev, seq, t, score, mode="low speed"):
    p = payloads.heartbeat("normal", seq, 0, 1, score=score, mode=mode, anomaly=score > 1)
    p.update(device=dev, seq=seq, t=t)
    return p


def _ev(dev, seq, t, ev, score, mode="low speed", values=None):
    """An event; values=None: as boards before `values` sent it (contributions only)."""
    p = payloads.event(ev, score, mode, top=TOP if ev == "anomaly_start" else None,
                       values=values if ev == "anomaly_start" else None)
    p.update(device=dev, seq=seq, t=t, raw=score * 100.0)
    if ev == "anomaly_start":  # as the board sends them: shares of the raw d^2
        p["top"] = [[n, v * 100.0] for n, v in TOP]
    return p


def _fan_payloads():
    """A board that heartbeats every 10 s of its own clock for 400 s, with one anomaly
    lasting 60 s; sent in one burst (a queue flushed after a Wi-Fi outage)."""
    out, seq = [], 0
    for i in range(40):
        t = 1000.0 + 10 * i
        score = 2.1 if 20 <= i < 26 else 0.3 + 0.02 * (i % 5)
        seq += 1
        out.append(_hb("fan-7", seq, t, score))
        if i == 20:
            seq += 1
            out.append(_ev("fan-7", seq, t + 0.5, "anomaly_start", 2.3, values=VALUES))
        if i == 26:
            seq += 1
            out.append(_ev("fan-7", seq, t + 0.5, "anomaly_end", 0.5))
    return out


def test_words_times_and_episodes():
    assert dashboard.feature_words("energy_88-95Hz") == "vibration energy in 88–95 Hz"
    assert dashboard.feature_words("rms_z") == "vibration level on the z axis"
    p = _ev("fan-7", 3, 1.0, "anomaly_start", 2.3)
    words = dashboard.explain_words(p)
    assert "running as “low speed”" in words and "2.3× the alarm line" in words
    assert "vibration energy in 88–95 Hz (63% of the deviation)" in words
    z = dashboard.explain_words({"mode": "m", "score": 1.5, "raw": 6.0, "top": [["rms_x", 6.0], ["rms_y", 4.5]]})
    assert "vibration level on the x axis is 6.0 standard deviations from normal" in z
    cold = dashboard.explain_words({"mode": "boiler on", "score": 1.8,
                                    "hotspot": {"row": 3, "col": 20, "excess": -6.5}})
    assert "cold spot at row 3, column 20: 6.5 °C below normal" in cold


def test_words_against_normal():
    """A board that sends each top feature's value and normal: ratios for positive
    quantities, standard deviations and units where a ratio means nothing."""
    p = _ev("fan-7", 3, 1.0, "anomaly_start", 2.3, values=VALUES)
    assert payloads_check.validate(p) is p
    words = dashboard.explain_words(p)
    assert ("Changed most: vibration energy in 88–95 Hz is 19× normal; frequency of the vibration within "
            "88–95 Hz is 5.8 standard deviations above normal (about 93.7 Hz where normal is 91.6 Hz); "
            "knocks and shocks (kurtosis) on the x axis is 1.1× normal.") in words, words
    assert "of the deviation" not in words
    low = wording.against_normal("energy_88-95Hz", -7.0, -5.4, 0.3)
    assert low == "vibration energy in 88–95 Hz is 20% of normal"
    assert wording.against_normal("envelope", 0.9, 0.3, 0.05) == "how much the vibration swells and fades is 3.0× normal"
    # a mean near 0 or a signed quantity: no ratio
    assert wording.against_normal("slope", 0.5, 0.01, 0.1) == "the slope is 4.9 standard deviations above normal"
    assert wording.against_normal("envelope", 0.2, 0.01, 0.05) == \
        "how much the vibration swells and fades is 3.8 standard deviations above normal"
    assert wording.against_normal("value", 31.0, 22.5, 0.5) == "the value is 31.0 where normal is 22.5 (17.0 standard deviations above normal)"
    # thermal features, and the cold pipe the board now reports as cold
    th = {"mode": "boiler on", "score": 3.0, "top": [["min_z", 50.0], ["mean", 10.0]],
          "values": [[-32.3, -2.0, 1.5], [41.2, 43.0, 0.6]],
          "hotspot": {"row": 7.47, "col": 26.74, "area": 19, "excess": -23.8, "z": -32.3, "kind": "cold"}}
    words = dashboard.explain_words(th)
    assert ("the pixel furthest below its baseline is 20.2 standard deviations below normal; the image's mean "
            "temperature is 41.2 °C where normal is 43.0 °C (3.0 standard deviations below normal)") in words, words
    assert "A cold spot at row 7.47, column 26.74 (19 pixels): 23.8 °C below normal." in words
    # a LoRa packet has no values: its words stay the contributions'
    old = dict(p)
    del old["values"]
    assert "vibration energy in 88–95 Hz (63% of the deviation)" in dashboard.explain_words(old)
    # a burst received within 0.2 s keeps the board's 10 s spacing; a reboot restarts t
    rows = [{"t": 10.0 * i, "received": 5000.0 + 0.01 * i} for i in range(5)] + \
           [{"t": 1.0, "received": 5100.0}, {"t": 11.0, "received": 5110.5}]
    ts = dashboard.board_times(rows)
    assert [round(b - a, 3) for a, b in zip(ts, ts[1:5])] == [10.0] * 4 and abs(ts[4] - 5000.04) < 1e-6
    assert ts[5] == 5100.0 and ts[6] == 5110.0
    assert dashboard.state_of("normal", 100.0, 10.0, 125.0, 3) == "normal"
    assert dashboard.state_of("anomaly", 100.0, 10.0, 135.0, 3) == "stale"
    assert dashboard.state_of("anomaly", 100.0, 10.0, 165.0, 3) == "offline"


def _acks_in(spec):
    st = store.open_store(spec)
    try:
        for p in _fan_payloads():
            st.add(p, "http")
        assert store.acknowledge(st, "fan-7", 22, "Ana", "belt was loose")
        assert not store.acknowledge(st, "fan-7", 22, "Bo", "again")  # the first one stays
        assert not store.acknowledge(st, "fan-7", 1, "Bo", "a heartbeat is no alert")
        a = store.acks(st)
        assert list(a) == [("fan-7", 22)] and a[("fan-7", 22)]["name"] == "Ana"
        page = dashboard.render_device(st, "fan-7", {"range": "all"})
        assert "by Ana" in page and "belt was loose" in page and "<td>60 s</td>" in page
    finally:
        st.close()


def test_acknowledgements_in_sqlite(tmp_path):
    _acks_in(str(tmp_path / "a.db"))


def test_acknowledgements_in_postgresql():
    pg = Postgres().start()
    try:
        _acks_in(pg.url)
    finally:
        pg.close()


def _chrome(flags, url, *extra, env=None):
    return subprocess.run(flags + list(extra) + [url], capture_output=True, text=True, timeout=120, env=env)


def test_dashboard_pages_in_headless_chromium(tmp_path):
    browser = chromium()
    port = free_port()
    db = str(tmp_path / "d.db")
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "receive", "--db", db, "--http",
                             f"127.0.0.1:{port}", "--token", TOKEN, "--stale-after", "2", "--public-dashboard"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    shots = os.environ.get("SCREENSHOT_DIR")
    try:
        wait_port(port, 30)
        tr = host_transport(base + "/ingest", TOKEN)
        for p in _fan_payloads():
            assert tr.send(p)
        # a device that said two words 1 s apart on its clock, then went quiet
        assert tr.send(_hb("shed-2", 1, 50.0, 0.2, mode="idle"))
        assert tr.send(_hb("shed-2", 2, 51.0, 0.2, mode="idle"))
        # a board from before `values`: its alert keeps the contributions' words
        assert tr.send(_ev("old-3", 1, 10.0, "anomaly_start", 2.3))
        end = time.monotonic() + 60  # bounded: until shed-2 is 4 intervals (4 s) quiet
        while time.monotonic() < end:
            with urllib.request.urlopen(base + "/api/devices", timeout=10) as r:
                devs = {d["device"]: d for d in json.load(r)}
            if devs["shed-2"]["state"] == "offline":
                break
            time.sleep(0.2)
        assert devs["shed-2"]["state"] == "offline" and devs["fan-7"]["state"] == "normal", devs
        # one payload shape: API and CLI give the payload as an object
        with urllib.request.urlopen(base + "/api/events?device=fan-7&limit=3", timeout=10) as r:
            api = json.load(r)
        cli = subprocess.run([sys.executable, "-m", "host_tools", "events", "--db", db, "--json", "--device",
                              "fan-7", "--limit", "3"], capture_output=True, text=True, timeout=120)
        rows = [json.loads(x) for x in cli.stdout.splitlines()]
        assert isinstance(api[0]["payload"], dict) and rows[::-1] == api
        flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"]
        env = dict(os.environ, TZ="Asia/Kolkata")
        before = _chrome(flags, base + "/device/fan-7?range=all", "--dump-dom", env=env).stdout
        assert '<form class="ack" method="post" action="/ack">' in before and "by Ana" not in before
        if shots:
            os.makedirs(shots, exist_ok=True)
            _chrome(flags, base + "/device/fan-7?range=1h", f"--screenshot={os.path.join(shots, 'device-open-alert.png')}",
                    "--window-size=1000,800", env=env)
        # acknowledge the alert the way the page's form does: every field of the form the
        # browser rendered (its hidden token included), posted with the page's own Origin
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">',
                                 before.split('<form class="ack"', 1)[1].split("</form>", 1)[0]))
        assert set(fields) == {"device", "seq", "token"} and len(fields["token"]) >= 24
        form = dict(fields, name="Ana", note="belt was loose, tightened")

        def post(data, origin=base):
            req = urllib.request.Request(base + "/ack", data=urllib.parse.urlencode(data).encode(), method="POST",
                                         headers={"Origin": origin} if origin else {})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:  # follows the 303 to the device page
                    return r.status, r.url, r.read().decode()
            except urllib.error.HTTPError as err:
                return err.code, "", err.read().decode()

        # cross-site request forgery: no token, a wrong one, or the right one from another site
        nothing = {k: v for k, v in form.items() if k != "token"}
        assert post(nothing, origin=None)[0] == 403 and "token is missing" in post(nothing)[2]
        assert post(dict(form, token="guess"))[0] == 403
        code, _, body = post(form, origin="http://evil.example")
        assert code == 403 and "another site" in body
        code, url, body = post(form)
        assert code == 200 and "/device/fan-7" in url and "Alert 22 acknowledged." in body

        dom = _chrome(flags, base + "/", "--dump-dom", env=env).stdout
        assert '<td class="offline state">offline</td>' in dom and '<td class="normal state">normal</td>' in dom
        assert 'id="zone">Asia/' in dom and "GMT+5:30" in dom  # the viewer's zone, by the script
        assert 'class="ytick"' in dom and 'class="alarm-line"' in dom and 'class="anomaly-span"' in dom
        assert "vibration energy in 88–95 Hz is 19× normal" in dom and "by Ana" in dom
        assert "vibration energy in 88–95 Hz (63% of the deviation)" in dom  # old-3, a board without values
        dev = _chrome(flags, base + "/device/fan-7?range=all", "--dump-dom", env=env).stdout
        assert 'id="anomalies"' in dev and "<td>60 s</td>" in dev and "belt was loose, tightened" in dev
        assert dev.count('class="point"') == 42  # every payload with a score in the range
        one = _chrome(flags, base + "/device/shed-2?range=all", "--dump-dom", env=env).stdout
        assert one.count('class="point"') == 2 and 'class="score"' in one  # a short history still draws
        empty = _chrome(flags, base + "/device/fan-7?from=2000-01-01&to=2000-01-02", "--dump-dom", env=env).stdout
        assert "Score history (0 payloads" in empty and "no scores yet" in empty
        for name, url, size in (("dashboard", base + "/", "1000,1300"),
                                ("device", base + "/device/fan-7?range=all", "1000,1100")):
            shot = tmp_path / f"{name}.png"
            _chrome(flags, url, f"--screenshot={shot}", f"--window-size={size}", env=env)
            with open(shot, "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n"
            if shots:
                os.makedirs(shots, exist_ok=True)
                shutil.copy(shot, os.path.join(shots, f"{name}.png"))
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "stored 45, duplicates 0, conflicts 0, rejected 0" in out, (out, err)
    assert "acknowledged by Ana" in err and err.count("# acknowledge refused") == 4


def test_telemetry_doc_example_says_what_the_doc_says():
    """docs/telemetry.md's anomaly_start example passes the payload check and is worded
    as the doc quotes it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    doc = open(os.path.join(root, "docs", "telemetry.md"), encoding="utf-8").read()
    block = next(b for b in re.findall(r"```json\n(.*?)```", doc, re.S) if '"values"' in b)
    p = payloads_check.validate(json.loads(block))
    quoted = " ".join(doc.split(block, 1)[1].split('as "', 1)[1].split('": a ratio', 1)[0].split())
    assert "Changed most: " + quoted + "." in wording.explain_words(p)


def test_events_command_explains_alerts_in_the_dashboard_words(tmp_path, capsys):
    from host_tools.cli import main as cli

    db = str(tmp_path / "e.db")
    st = store.open_store(db)
    for p in _fan_payloads()[19:23] + [_ev("old-3", 1, 10.0, "anomaly_start", 2.3)]:
        st.add(p, "http")
    st.close()
    assert cli.main(["events", "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = [ln for ln in lines if "\tanomaly_start\t" in ln]
    assert len(start) == 2 and all(ln.count("\t") == 7 for ln in start)
    assert start[0].split("\t")[1] == "fan-7" and "vibration energy in 88–95 Hz is 19× normal" in start[0]
    assert "vibration energy in 88–95 Hz (63% of the deviation)" in start[1]  # a board without values
    assert all(ln.count("\t") == 6 for ln in lines if "\theartbeat\t" in ln)
