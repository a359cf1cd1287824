"""The board's wall clock for the adaptive detector's days-off profile (device/wallclock.py).

On the board the day of a window comes from the RTC, set from NTP (adafruit_ntp) at boot;
without it every day is a workday. Simulated with tests/fakes/rtc.py and
tests/fakes/adafruit_ntp.py (from circuitpython-stubs 10.3.1 and adafruit_ntp 3.4.0): a
replay of dated hourly temperatures that crosses weekends gives, window for window, the
scores the host's `score` gives for the same model and data; a board without a clock says
so in one line and scores as a workday-only profile; NTP attempts are bounded."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os

import numpy as np
import pytest

from conftest import ROOT
from device import app as app_mod
from device.appconfig import AppConfig
from device.sensors import ReplaySensor
from device.wallclock import WallClock
from host_tools.cli import main as cli
from host_tools.data import datasets
from host_tools.modeling import driftbench


def _fake(name):
    spec = importlib.util.spec_from_file_location("fake_" + name, os.path.join(ROOT, "tests", "fakes", name + ".py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def _csv(folder, t0, hours, offset):
    x, _, _ = driftbench.make_year(2)
    folder.mkdir()
    rows = ["timestamp,value"] + [f"{(t0 + datetime.timedelta(hours=h)).isoformat()},{x[offset + h]:.3f}"
                                  for h in range(hours)]
    (folder / "hall.csv").write_text("\n".join(rows) + "\n")
    return str(folder)


@pytest.fixture(scope="module")
def weekly(tmp_path_factory):
    """A days-off model (sat, sun and one holiday) fitted on 5 weeks; 17 later days, starting
    Wednesday 13:00, to replay: three weekends and the holiday."""
    tmp = tmp_path_factory.mktemp("weeks")
    fit = _csv(tmp / "fit", datetime.datetime(2025, 1, 6), 35 * 24, 0)
    t1 = datetime.datetime(2025, 2, 12, 13)
    later = _csv(tmp / "later", t1, 17 * 24, 37 * 24 + 13)
    out = str(tmp / "m.json")
    rc = cli.main(["train", "--sensor", "scalar", "--detector", "adaptive", "--normal", fit, "--rate", "1h",
                   "--window", "1", "--cycle", "24h", "--slots", "24", "--days-off", "sat,sun",
                   "--holidays", "2025-02-17", "--out", out, "--quiet"])
    assert rc == 0
    doc, ex = datasets.load_model(out)
    wins, _ = datasets.located_windows([later], ex)
    t0 = int(wins[0][0].t)
    assert t0 == int(t1.replace(tzinfo=datetime.timezone.utc).timestamp())
    return out, doc, [w for _, w in wins], t0


def _host_scores(model, folder_or_windows, capsys):
    rc = cli.main(["score", "--model", model, folder_or_windows, "--json", "--quiet"])
    assert rc == 0
    return [json.loads(line)["score"] for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


class _Clocked(ReplaySensor):
    """Each read takes one window of virtual time (an hourly sensor)."""

    def __init__(self, windows, rtc, seconds):
        ReplaySensor.__init__(self, windows)
        self._rtc, self._s = rtc, seconds

    def read(self):
        w = ReplaySensor.read(self)
        if w is not None:
            self._rtc.advance(self._s)
        return w


def _board(doc, windows, wall, rtc, lines):
    app = app_mod.App(_Clocked(windows, rtc, 3600), doc, AppConfig(heartbeat_every=0), wall=wall, log=lines.append)
    scores = []
    while app.step():
        scores.append(app.last_score)
    return app, scores


def test_board_with_ntp_scores_a_replay_across_weekends_as_the_host_does(weekly, capsys, tmp_path):
    model, doc, windows, t0 = weekly
    rtc, ntp = _fake("rtc"), _fake("adafruit_ntp")
    rtc.reset()
    ntp.reset()
    ntp.SERVER["utc"] = lambda: t0 + rtc._state["elapsed"]  # the true time: the replay's own
    wall = WallClock(rtc.time, rtc, ntp.NTP(object(), tz_offset=0), uptime=lambda: rtc._state["elapsed"])
    lines: list[str] = []
    app, board = _board(doc, windows, wall, rtc, lines)
    host = _host_scores(model, os.path.join(os.path.dirname(model), "later"), capsys)
    assert len(board) == len(host) == 17 * 24
    np.testing.assert_allclose(board, host, rtol=1e-4, atol=1e-5)
    assert app.detector.day0 == t0 // 86400 and app.detector.phase0 == 13
    assert not [ln for ln in lines if "no wall clock" in ln]
    # the days-off bank was used: the weekends and the holiday scored against their own profile
    assert app.detector._days_seen[1] == 6  # Feb 15-16, 17 (a holiday), 22-23, Mar 1
    # and it matters: the same replay without a clock scores differently on the days off
    rtc.reset()
    ntp.reset()
    lines2: list[str] = []
    _, blind = _board(doc, windows, WallClock(rtc.time), rtc, lines2)
    assert np.max(np.abs(np.array(blind) - np.array(host))) > 0.1
    assert len([ln for ln in lines2 if "no wall clock" in ln]) == 1


def test_board_without_clock_is_workdays_only_and_ntp_attempts_are_bounded(weekly):
    model, doc, windows, t0 = weekly
    rtc, ntp = _fake("rtc"), _fake("adafruit_ntp")
    rtc.reset()
    ntp.reset()  # no server answers
    wall = WallClock(rtc.time, rtc, ntp.NTP(object()), attempts=4, retry_s=600,
                     uptime=lambda: rtc._state["elapsed"])
    lines: list[str] = []
    app, scores = _board(doc, windows, wall, rtc, lines)
    assert ntp.SERVER["requests"] == 4 and wall.tries == 4  # bounded, with back-off
    assert [ln for ln in lines if ln.startswith("# no wall clock")] == [lines[0]]
    assert "ETIMEDOUT" in lines[0]
    assert len([ln for ln in lines if "NTP failed 4 times" in ln]) == 1
    assert app.detector.day0 is None and app.detector._days_seen[1] == 0  # every day a workday
    assert all(np.isfinite(scores))


def test_clock_that_comes_late_takes_over_and_moves_the_profile(weekly):
    """NTP answers only at the third attempt (hours after boot): from then on the days
    follow the clock, and the profile learned so far is moved to the clock's hours."""
    model, doc, windows, t0 = weekly
    rtc, ntp = _fake("rtc"), _fake("adafruit_ntp")
    rtc.reset()
    ntp.reset()
    ntp.SERVER["utc"] = lambda: t0 + rtc._state["elapsed"]
    ntp.SERVER["fail"] = 2
    wall = WallClock(rtc.time, rtc, ntp.NTP(object()), attempts=5, retry_s=3600,
                     uptime=lambda: rtc._state["elapsed"])
    lines: list[str] = []
    app, scores = _board(doc, windows, wall, rtc, lines)
    assert wall.synced and wall.tries == 2  # two timeouts, then the answer
    assert ntp.SERVER["requests"] == 3 + (len(windows) - 3) // 24  # then once a day
    assert [ln for ln in lines if ln.startswith("# wall clock set")] == ["# wall clock set: days off follow it from window 3"]
    assert app.detector.day0 == t0 // 86400 and app.detector.phase0 == 13
    assert app.detector._days_seen[1] == 6


def test_rtc_kept_across_a_reload_needs_no_ntp(weekly):
    model, doc, windows, t0 = weekly
    rtc = _fake("rtc")
    rtc.reset()
    rtc.RTC().datetime = datetime.datetime.utcfromtimestamp(t0).timetuple()
    lines: list[str] = []
    app, _ = _board(doc, windows[:30], WallClock(rtc.time, rtc, None), rtc, lines)
    assert app.detector.phase0 == 13 and not lines


def test_wallclock_same_code_under_micropython(tmp_path):
    from test_micropython import run_mp

    script = ("from device.wallclock import WallClock\n"
              "class R:\n"
              "    def __init__(self):\n"
              "        self.datetime = None\n"
              "class M:\n"
              "    r = R()\n"
              "    def RTC(self):\n"
              "        return self.r\n"
              "class N:\n"
              "    n = 0\n"
              "    @property\n"
              "    def datetime(self):\n"
              "        self.n += 1\n"
              "        if self.n < 3:\n"
              "            raise OSError(116)\n"
              "        return (2025, 2, 12, 13, 0, 0, 2, 43, -1)\n"
              "t = [946684800]\n"
              "up = [0]\n"
              "w = WallClock(lambda: t[0], M(), N(), attempts=5, retry_s=10, uptime=lambda: up[0])\n"
              "out = []\n"
              "for k in range(6):\n"
              "    out.append((w.due(), w.sync() if w.due() else None, w.tries))\n"
              "    up[0] += 40\n"
              "print(out, w.synced, w.now())\n")
    r = run_mp(script, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith("[(True, False, 1)")


def test_wiring_makes_a_wall_clock_only_for_a_days_off_model(weekly):
    from device import wiring

    model, doc, windows, t0 = weekly
    rtc = _fake("rtc")

    class S:
        TZ_OFFSET = 1.0
        WATCHDOG_TIMEOUT = 0

    class HW:
        def __init__(self, parts):
            self.parts, self.asked = parts, []

        def wall_parts(self, tz):
            self.asked.append(tz)
            return self.parts

    lines: list[str] = []
    plain = dict(doc, adaptive=dict(doc["adaptive"], day_types=0))
    hw = HW((rtc.time, rtc, None, "no Wi-Fi configured for NTP"))
    assert wiring._wall_clock(S, hw, plain, lambda: 0.0, lines.append) is None and hw.asked == []
    w = wiring._wall_clock(S, hw, doc, lambda: 0.0, lines.append)
    assert isinstance(w, WallClock) and hw.asked == [1.0] and not w.can_sync() and not lines
    app = app_mod.App(ReplaySensor(windows[:3]), doc, AppConfig(heartbeat_every=0), wall=w, log=lines.append)
    assert lines == ["# no wall clock (no Wi-Fi configured for NTP): days off (weekends, holidays) not "
                     "known, every day counts as a workday until the clock is set"]
    assert app.run() == 3 and app.detector.day0 is None
    lines.clear()
    assert wiring._wall_clock(S, HW((None, None, None, "this board has no RTC")), doc, lambda: 0.0,
                              lines.append) is None
    assert lines == ["# no wall clock (this board has no RTC): every day counts as a workday"]
