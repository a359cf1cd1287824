"""collect: the board's recorder output -> session folders in the training format.

Peers: the board's own SerialRecorder lines over a socat pseudo-terminal pair (with
garbage, a cut-short window and a dropped connection), and the board's HttpRecorder posting
through the real adafruit_requests library (CPython sockets as its socket pool) to the
`collect --http` endpoint. Exact counting is checked on a capture file."""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time

import numpy as np
import pytest

from device import recorder
from flow_peers import fan_windows, needs_socat, open_board_end, pty_pair, recorder_lines, write_all
from host_tools.cli import main as cli
from host_tools.board import collect
from host_tools.data import datasets

GARBAGE = ["\x00\xff\xfe binary noise", "1.0,2.0", "#W,notanumber", "#E,77", '{"broken json', "Traceback (most recent"]


def read_session(folder) -> tuple[list[np.ndarray], dict]:
    files = datasets.list_csv(str(folder))
    return [datasets.read_recording(f, "accel") for f in files], json.load(open(os.path.join(folder, "session.json")))


def test_collect_from_capture_counts_garbage_exactly(tmp_path, capsys):
    wins = fan_windows(5)
    lines = recorder_lines(wins)
    # garbage between windows, one window spoiled from inside, one cut short at the end
    w2 = lines.index(next(ln for ln in lines if ln.startswith("#W,2,")))
    lines[w2:w2] = GARBAGE
    first_row = lines.index(next(ln for ln in lines if ln.startswith("#W,2,"))) + 1
    lines.insert(first_row + 10, "garbage inside window 2")
    lines += ["#W,6,accel,200,3,200.00,9000", "0.1,0.2,0.3"]
    cap = tmp_path / "capture.txt"
    cap.write_text("\n".join(lines) + "\n")
    out = tmp_path / "fan" / "low_1"
    rc = cli.main(["collect", "--from", str(cap), "--out", str(out), "--label", "low", "--quiet"])
    o, e = capsys.readouterr()
    assert rc == 0, e
    got, meta = read_session(out)
    assert len(got) == 4  # windows 1, 3, 4, 5
    for g, w in zip(got, [wins[0], wins[2], wins[3], wins[4]]):
        np.testing.assert_allclose(g, w, atol=1e-6)
    # the 6 garbage lines + the line inside window 2; dropped: window 2 and the cut-short window 6
    assert (meta["garbage_lines"], meta["dropped_windows"]) == (7, 2)
    assert meta["label"] == "low" and meta["device"] == "fan-1" and meta["sensor"] == "msa301"
    assert (meta["kind"], meta["rows"], meta["cols"], meta["rate_hz"], meta["windows"]) == ("accel", 200, 3, 200.0, 4)
    assert meta["start_utc"] and meta["end_utc"]
    assert "wrote 4 window(s)" in o and "skipped 7 garbage line(s), dropped 2 incomplete window(s)" in o


def test_collect_skips_a_window_sent_twice(tmp_path, capsys):
    lines = recorder_lines(fan_windows(2))
    w2 = lines.index(next(ln for ln in lines if ln.startswith("#W,2,")))
    cap = tmp_path / "c.txt"
    cap.write_text("\n".join(lines + lines[w2:]) + "\n")  # window 2 again (same seq and uptime)
    assert cli.main(["collect", "--from", str(cap), "--out", str(tmp_path / "s"), "--label", "x", "--quiet"]) == 0
    got, meta = read_session(tmp_path / "s")
    assert len(got) == 2 and meta["duplicate_windows"] == 1
    assert "1 duplicate(s)" in capsys.readouterr().out


def test_collect_then_train_on_it(tmp_path, capsys):
    cap = tmp_path / "capture.txt"
    cap.write_text("\n".join(recorder_lines(fan_windows(40))) + "\n")
    out = tmp_path / "low_1"
    assert cli.main(["collect", "--from", str(cap), "--out", str(out), "--label", "low", "--quiet"]) == 0
    assert cli.main(["train", "--normal", str(out), "--out", str(tmp_path / "m.json"), "--quiet"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("args,msg", [
    ([], "give exactly one input"),
    (["--from", "x.txt", "--port", "/dev/null"], "give exactly one input"),
    (["--from", "nope.txt"], "nope.txt: no such capture file"),
    (["--port", "/dev/ttyNOPE0"], "no such serial port"),
    (["--http", "127.0.0.1:8765"], "--http needs --token"),
    (["--http", "localhost:http", "--token", "t"], "expected HOST:PORT"),
    (["--from", "-", "--windows", "0"], "windows must be at least 1"),
])
def test_collect_bad_input(tmp_path, capsys, args, msg):
    rc = cli.main(["collect", "--out", str(tmp_path / "s"), "--label", "x"] + args)
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and msg in err and err.count("\n") == 1


def test_collect_refuses_a_folder_with_recordings(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "0000.csv").write_text("0,0,1\n")
    cap = tmp_path / "c.txt"
    cap.write_text("\n".join(recorder_lines(fan_windows(1))))
    rc = cli.main(["collect", "--from", str(cap), "--out", str(tmp_path / "s"), "--label", "x"])
    assert rc == 2 and "already holds recordings" in capsys.readouterr().err


def test_collect_nothing_usable(tmp_path, capsys):
    cap = tmp_path / "c.txt"
    cap.write_text("\n".join(GARBAGE) + "\n")
    rc = cli.main(["collect", "--from", str(cap), "--out", str(tmp_path / "s"), "--label", "x", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "no complete window" in err and 'RECORD = \\"serial\\"' not in err


# ---- serial, over a pseudo-terminal --------------------------------------------------------------

class Streamer(threading.Thread):
    """Writes a board's console output into one end of a pty pair, block after block,
    until told to stop (a board in recording mode streams until someone listens)."""

    def __init__(self, path: str, wins: list[np.ndarray], garbage: list[str] = (), tail: list[str] = (),
                 cut_after: int | None = None) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.wins = wins
        self.garbage = list(garbage)
        self.tail = list(tail)
        self.cut_after = cut_after
        self.stop = threading.Event()
        self.blocks = 0
        self.lines: list[str] = []
        self.rec = recorder.SerialRecorder("accel", self.lines.append, None, lambda: int(time.monotonic() * 1000))

    def block(self) -> bytes:
        """Fresh windows (the board's seq goes on), garbage in front, `tail` after."""
        del self.lines[:]
        for w in self.wins:
            self.rec.record(w)
        return ("\n".join(self.garbage + self.lines + self.tail) + "\n").encode()

    def run(self) -> None:
        fd = open_board_end(self.path)
        try:
            while not self.stop.is_set():
                data = self.block()
                data = data if self.cut_after is None else data[:self.cut_after]
                if not write_all(fd, data, self.stop):
                    return
                self.blocks += 1
                if self.cut_after is not None:
                    return
                time.sleep(0.05)
        finally:
            os.close(fd)


@needs_socat
def test_collect_over_serial_pty_with_garbage(tmp_path, capsys):
    wins = fan_windows(3)
    with pty_pair(str(tmp_path / "board"), str(tmp_path / "host")) as (board_end, host_end):
        # garbage before the windows, then a window spoiled by a short row
        s = Streamer(board_end, wins, GARBAGE, ["#W,999,accel,200,3,200.00,0", "0.5,0.5"])
        s.start()
        out = tmp_path / "s"
        try:
            rc = cli.main(["collect", "--port", host_end, "--out", str(out), "--label", "med",
                           "--windows", "9", "--duration", "60"])
        finally:
            s.stop.set()
            s.join()
    o, e = capsys.readouterr()
    assert rc == 0, e
    got, meta = read_session(out)
    assert len(got) == meta["windows"] == 9
    for i, g in enumerate(got):  # every file is one of the board's windows, whole and in order
        assert min(float(np.abs(g - w).max()) for w in wins) < 1e-6
    assert meta["garbage_lines"] >= len(GARBAGE) and meta["dropped_windows"] >= 1
    assert meta["source"] == host_end and meta["label"] == "med"
    assert "\rcollect: " in e  # the live count


@needs_socat
def test_collect_survives_a_dropped_connection(tmp_path, capsys):
    wins = fan_windows(2)
    a, b = str(tmp_path / "board"), str(tmp_path / "host")
    result = {}

    def run() -> None:
        result["rc"] = cli.main(["collect", "--port", b, "--out", str(tmp_path / "s"), "--label", "x",
                                 "--windows", "6", "--duration", "60", "--quiet"])

    with pty_pair(a, b):
        t = threading.Thread(target=run, daemon=True)
        s = Streamer(a, wins)
        t.start()
        s.start()
        while not os.path.exists(tmp_path / "s" / "0001.csv") and t.is_alive():
            time.sleep(0.05)
        s.stop.set()
        s.join()
        cut = Streamer(a, wins, cut_after=6000)  # unplugged in the middle of a window
        cut.start()
        cut.join()
        time.sleep(0.3)
    # the port is gone now; the board comes back on the same name
    with pty_pair(a, b):
        s = Streamer(a, wins)
        s.start()
        t.join(timeout=60)
        s.stop.set()
        s.join()
    capsys.readouterr()
    assert result.get("rc") == 0
    got, meta = read_session(tmp_path / "s")
    assert meta["windows"] == 6 and meta["disconnects"] >= 1 and meta["dropped_windows"] >= 1
    for g in got:
        assert min(float(np.abs(g - w).max()) for w in wins) < 1e-6


# ---- HTTP, fed by the board's HttpRecorder through adafruit_requests ---------------------------------

def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def requests_session():
    import adafruit_requests

    return adafruit_requests.Session(socket, ssl.create_default_context())


def test_collect_over_http_from_the_board_recorder(tmp_path, capsys):
    port = free_port()
    out = tmp_path / "s"
    result = {}

    def run() -> None:
        result["rc"] = cli.main(["collect", "--http", f"127.0.0.1:{port}", "--token", "s3cret", "--out", str(out),
                                 "--label", "high", "--windows", "4", "--duration", "60", "--max-bytes", "20000"])

    t = threading.Thread(target=run, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{port}/windows"
    sess = requests_session()
    for _ in range(200):  # until the endpoint listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)

    class Sensor:
        rate_measured = 199.0

    wins = fan_windows(4)
    # wrong token: refused, and the recorder stops asking
    bad = recorder.HttpRecorder(sess, url, "wrong", sensor=Sensor())
    bad.record(wins[0])
    bad.record(wins[0])
    assert bad.stopped and "401" in bad.last_error and bad.sent == 0
    # garbage body: 400, counted
    r = sess.post(url, data="hello\nworld\n", headers={"Authorization": "Bearer s3cret"}, timeout=5)
    assert r.status_code == 400
    r.close()
    # too big for --max-bytes
    big = recorder.HttpRecorder(sess, url, "s3cret", sensor=Sensor())
    big.record(np.tile(wins[0], (1, 8)))  # 1600 samples, ~50 KB of text
    assert big.stopped and "413" in big.last_error
    rec = recorder.HttpRecorder(sess, url, "s3cret", sensor=Sensor(), device="fan-2")
    for w in wins:
        rec.record(w)
    t.join(timeout=60)
    o, e = capsys.readouterr()
    assert result.get("rc") == 0, e
    assert rec.sent == 4 and rec.dropped == 0
    got, meta = read_session(out)
    assert len(got) == 4
    for g, w in zip(got, wins):
        np.testing.assert_allclose(g, w, atol=1e-6)
    assert meta["device"] == "fan-2" and meta["rate_hz"] == 199.0 and meta["label"] == "high"
    assert meta["garbage_lines"] == 2


def test_http_recorder_backs_off_when_the_host_is_away():
    sess = requests_session()
    rec = recorder.HttpRecorder(sess, f"http://127.0.0.1:{free_port()}/w", "t", timeout=1.0, max_skip=4)
    w = fan_windows(1)[0]
    for _ in range(20):
        rec.record(w)
    # posts tried at windows 1, 3, 6, 11, 16 (then 1, 2, 4, 4, 4 windows skipped): 5 tries, none sent
    assert rec.failures == 5 and rec.sent == 0 and rec.dropped == 20
    assert "ConnectionRefusedError" in rec.last_error or "Errno" in rec.last_error


def test_board_app_records_over_http_from_its_settings(tmp_path, capsys):
    """RECORD = "http" in settings.toml: the wiring builds an adafruit_requests session
    (here over CPython's socket module, as hw.socket_pool()) and the app posts every window
    it samples to a real `collect --http`, which writes them in the training format."""
    from device import settings as settings_mod
    from device import wiring
    from device.sensors import ReplaySensor

    port = free_port()
    out = tmp_path / "s"
    result = {}

    def run() -> None:
        result["rc"] = cli.main(["collect", "--http", f"127.0.0.1:{port}", "--token", "tok", "--out", str(out),
                                 "--label", "low", "--windows", "3", "--duration", "60"])

    t = threading.Thread(target=run, daemon=True)
    t.start()
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)

    class Hw:  # what code.py's Hardware offers, on a PC
        wifi_radio = None
        uid = "pc"
        fs_writable = False

        def __init__(self):
            self.lines = []
            self.write = self.lines.append
            self.sleep = lambda s: None
            self.ticks_ms = lambda: 0

        def socket_pool(self):
            return socket

        def ssl_context(self):
            return ssl.create_default_context()

        def pin(self, name):
            raise ValueError(name)

    env = {"SENSOR": "replay", "RECORD": "http", "RECORD_URL": f"http://127.0.0.1:{port}/windows",
           "RECORD_TOKEN": "tok", "CIRCUITPY_WIFI_SSID": "net", "WINDOW": "200", "LED_PIN": "",
           "NEOPIXEL_PIN": "", "NEOPIXEL_POWER_PIN": "", "WATCHDOG_TIMEOUT": "0", "PERSIST": "off"}
    s = settings_mod.load(env.get)
    hw = Hw()
    wins = fan_windows(3)
    app = wiring.build_app(s, hw, pins={})
    app.sensor = ReplaySensor(wins)  # the replay folder stands in for a sensor
    assert app.recorder is not None and type(app.recorder).__name__ == "HttpRecorder"
    app.run()
    t.join(timeout=60)
    assert result.get("rc") == 0, capsys.readouterr().err
    assert app.recorder.sent == 3
    got, meta = read_session(out)
    assert len(got) == 3 and meta["device"] == "pc"
    for g, w in zip(got, wins):
        np.testing.assert_allclose(g, w, atol=1e-6)
    bad = dict(env, RECORD_URL="ftp://x")
    with pytest.raises(settings_mod.SettingsError, match="RECORD_URL"):
        settings_mod.load(bad.get)
