"""Sensor adapters (device/sensors.py, device/replay.py, device/camera.py).

The MSA301 path runs the real Adafruit driver (adafruit_msa3xx, adafruit_register,
adafruit_bus_device) against a simulated chip on a fake I2C bus (tests/fakes), so register
configuration, chip-id probing and data decoding are exercised, not mocked. The MLX90640
adapter runs against a fake driver object. CSV replay is checked against the host's own
window cutting (host_tools.data.datasets), so the board replays exactly the simulator's windows.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from board_harness import DATA, fake_hardware
from device import camera, replay, sensors, xp


@pytest.fixture
def hw():
    with fake_hardware() as h:
        yield h


def _bus(hw, sim=None, frequency=400000):
    if sim is None:
        sim = hw.msa301_sim.MSA301Sim()
    hw.busio.attach(0x26, sim)
    bus = hw.busio.I2C(hw.board.SCL, hw.board.SDA, frequency=frequency)
    return bus, sim


def _sensor(hw, bus, **kw):
    kw.setdefault("window", 64)
    kw.setdefault("rate", 200.0)
    return sensors.MSA301Sensor(bus=bus, ticks_ms=hw.supervisor.ticks_ms, **kw)


# ---- MSA301 through the real driver ---------------------------------------------------

def test_msa301_driver_configures_the_chip(hw):
    bus, sim = _bus(hw)
    s = _sensor(hw, bus, range_g=8, data_rate=250.0, bandwidth=125.0)
    assert sim.power_mode == 3  # suspend until the driver wakes it
    s.read()
    assert sim.power_mode == 0
    assert sim.range_g == 8
    assert sim.odr_hz == 250.0
    assert sim.bandwidth_code == 8  # BandWidth.WIDTH_125_HZ
    assert s.inits == 1
    assert not bus.locked  # every transaction released the lock


def test_msa301_values_timing_and_rate(hw):
    rows = np.loadtxt(os.path.join(DATA, "fan_0_low_0_weight", "0000.csv"), delimiter=",")
    # played at 200 Hz; the chip at ODR 1000 Hz holds each row for 5 ms
    sig = hw.msa301_sim.from_rows([tuple(r) for r in rows], 200.0)
    bus, sim = _bus(hw, hw.msa301_sim.MSA301Sim(sig))
    s = _sensor(hw, bus, window=100, range_g=2, data_rate=1000.0)
    hw.supervisor.reset_clock(start_ms=0)
    raw = s.read()
    win = np.array(raw)
    assert win.shape == (3, 100)
    assert win.dtype == np.float32
    # sample i is taken at ~5 ms * i: the row the simulator was playing then
    t = np.array(s.times, dtype=float)
    assert np.all(np.diff(t) == 5.0)
    assert s.rate_ok and abs(s.rate_measured - 200.0) < 1.0
    start = int(hw.supervisor.clock.us // 1000 - t[-1]) // 5  # row index at the first sample
    expect = np.array([rows[(start + i) % len(rows)] for i in range(100)]).T
    # 14-bit data at +-2 g: one count is 1/4096 g
    assert np.max(np.abs(win - expect)) <= 1.0 / 4096 + 1e-6
    assert raw is s.read()  # the same buffers, refilled


def test_msa301_raw_and_driver_paths_agree(hw):
    bus, sim = _bus(hw)
    hw.supervisor.reset_clock()
    a = np.array(_sensor(hw, bus, window=32, read="raw").read())
    hw.supervisor.reset_clock()
    b = np.array(_sensor(hw, bus, window=32, read="driver").read())
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_msa301_range_scaling(hw):
    bus, sim = _bus(hw, hw.msa301_sim.MSA301Sim(lambda t: (1.5 + 0.01 * (int(t * 500 + 0.5) % 2), -3.0, 0.25)))
    win = np.array(_sensor(hw, bus, window=8, range_g=16).read())
    np.testing.assert_allclose(win[1:, 0], [-3.0, 0.25], atol=1 / 512)
    assert abs(win[0, 0] - 1.5) < 0.012


def test_msa301_rate_shortfall_is_flagged(hw):
    bus, sim = _bus(hw, frequency=10000)  # a slow bus: ~8 ms per sample
    hw.busio.TRANSACTION_OVERHEAD_US = 2000
    try:
        s = _sensor(hw, bus, window=32, rate=200.0)
        s.read()
    finally:
        hw.busio.TRANSACTION_OVERHEAD_US = 40
    assert not s.rate_ok
    assert s.rate_measured < 190
    assert np.all(np.diff(np.array(s.times, dtype=float)) > 5)  # real times, not nominal


def test_msa301_wrong_chip_id(hw):
    sim = hw.msa301_sim.MSA301Sim()
    sim.regs[0x01] = 0x00
    bus, _ = _bus(hw, sim)
    with pytest.raises(sensors.SensorError, match="Cannot find a MSA301"):
        _sensor(hw, bus).read()


def test_msa301_absent(hw):
    bus = hw.busio.I2C(hw.board.SCL, hw.board.SDA)
    with pytest.raises(sensors.SensorError, match="No I2C device at address: 0x26"):
        _sensor(hw, bus).read()


def test_msa301_bus_factory_error_and_recovery(hw):
    hw.busio.init_error = "No pull up found on SDA or SCL; check your wiring"
    sim = hw.msa301_sim.MSA301Sim()
    hw.busio.attach(0x26, sim)

    def make():
        return hw.busio.I2C(hw.board.SCL, hw.board.SDA)

    s = sensors.MSA301Sensor(bus_factory=make, window=16, ticks_ms=hw.supervisor.ticks_ms)
    with pytest.raises(sensors.SensorError, match="No pull up"):
        s.read()
    hw.busio.init_error = None
    s.recover()
    assert np.asarray(s.read()).shape == (3, 16)
    # a second recover() must release the pins so the bus can be made again
    s.recover()
    assert np.asarray(s.read()).shape == (3, 16)
    assert s.inits == 2


def test_msa301_transient_io_error_then_ok(hw):
    bus, sim = _bus(hw)
    s = _sensor(hw, bus, window=16)
    s.read()
    sim.fail_next = 1
    with pytest.raises(OSError):
        s.read()
    assert not bus.locked  # the context manager released the lock on the error
    assert np.asarray(s.read()).shape == (3, 16)


def test_msa301_stuck_after_power_glitch_is_detected_and_recovered(hw):
    bus, sim = _bus(hw)
    s = _sensor(hw, bus, window=16)
    s.read()
    sim.power_on()  # brown-out: registers back to defaults, chip in suspend, data frozen
    with pytest.raises(sensors.SensorError, match="identical"):
        s.read()
    s.recover()
    s.read()
    assert sim.power_mode == 0 and s.inits == 2


def test_msa301_raw_path_lets_the_driver_go_and_recovery_brings_it_back(hw):
    """Raw reads need only the driver's I2CDevice: once the chip is set up, adafruit_msa3xx
    and adafruit_register leave sys.modules (their code leaves a board's heap); a recovery
    sets the chip up through the real driver again. read="driver" keeps it."""
    import sys

    for k in [k for k in sys.modules if k.startswith(("adafruit_msa3xx", "adafruit_register"))]:
        del sys.modules[k]
    bus, sim = _bus(hw)
    s = _sensor(hw, bus, window=16)
    s.read()
    assert not [k for k in sys.modules if k.startswith(("adafruit_msa3xx", "adafruit_register"))]
    assert s._drv is None and s._dev is not None
    sim.power_on()  # brown-out: the chip is back in suspend with its registers reset
    with pytest.raises(sensors.SensorError, match="identical"):
        s.read()
    s.recover()
    s.read()
    assert sim.power_mode == 0 and sim.range_g == 4 and s.inits == 2
    assert "adafruit_msa3xx" not in sys.modules
    d = _sensor(hw, bus, window=16, read="driver")
    d.read()
    assert "adafruit_msa3xx" in sys.modules and d._drv is not None


def test_msa301_idle_hook_runs_while_sampling(hw):
    bus, sim = _bus(hw)
    s = _sensor(hw, bus, window=200, rate=200.0)  # one second
    calls = []
    s.idle = lambda: calls.append(hw.supervisor.clock.us)
    s.read()
    assert len(calls) >= 40  # at least every ~20 ms
    gaps = np.diff(calls) / 1000.0
    assert gaps.max() < 30


def test_window_buffers_share_memory_with_the_views():
    bufs, win = xp.window_buffers(3, 8)
    bufs[1][2] = 5.0
    assert win[1][2] == 5.0
    from device import framebuf

    frame_buf, flat = framebuf.frame_buffer(24, 32)
    frame, shared = framebuf.frame_of(flat, 24, 32, frame_buf)
    frame_buf[33] = 7.0
    assert shared and frame[1, 1] == 7.0


def test_ticks_diff_wraps():
    m = sensors.TICKS_MASK
    assert sensors.ticks_diff(3, m - 1) == 5
    assert sensors.ticks_diff(m - 1, 3) == -5


# ---- MLX90640 adapter --------------------------------------------------------------------

def test_mlx90640_frames_and_too_many_retries(hw):
    fake = hw.mlx_fake.FakeMLX90640(fail_on=(2,), hot=(5, 7, 15.0))
    s = camera.MLX90640Sensor(bus=object(), refresh_hz=4.0, driver_factory=lambda bus: fake,
                               ticks_ms=hw.supervisor.ticks_ms)
    f = s.read()
    assert f.shape == (24, 32)
    assert fake.refresh_rate == 3  # RefreshRate.REFRESH_4_HZ
    assert f[5, 7] == pytest.approx(22.07 + 15.0, abs=1e-4)
    assert f[0, 0] == pytest.approx(22.0)
    with pytest.raises(RuntimeError, match="Too many retries"):
        s.read()
    assert s.read() is f
    assert s.rate == 2.0  # two sub-pages per frame


def test_mlx90640_old_driver_valueerror_and_nan(hw):
    fake = hw.mlx_fake.FakeMLX90640(fail_on=(1,), error=ValueError)
    s = camera.MLX90640Sensor(bus=object(), driver_factory=lambda bus: fake)
    with pytest.raises(ValueError, match="Too many retries"):
        s.read()

    class NanDriver(hw.mlx_fake.FakeMLX90640):
        def getFrame(self, buf):
            super().getFrame(buf)
            buf[40] = float("nan")

    s2 = camera.MLX90640Sensor(bus=object(), driver_factory=lambda bus: NanDriver())
    with pytest.raises(ValueError, match="non-finite pixel at row 1 col 8"):
        s2.read()


def test_mlx90640_bad_refresh():
    with pytest.raises(ValueError, match="refresh rate"):
        camera.MLX90640Sensor(bus=object(), refresh_hz=3.0)


# ---- CSV replay ----------------------------------------------------------------------------

def test_csv_replay_matches_host_windows(tmp_path):
    from device import features
    from host_tools.data import datasets

    folder = os.path.join(DATA, "fan_0_med_1_weight")
    ex = features.AccelFeatures(64, 200.0)
    host = [w for _, _, w in datasets.windows_of_paths([folder], ex)]
    s = replay.CsvReplaySensor(folder, window=64, rate=200.0, loop=False)
    got = []
    while True:
        w = s.read()
        if w is None:
            break
        got.append(np.array(w))
    assert len(got) == len(host) == 300  # 3 windows of 64 per 200-row file, remainder dropped
    for a, b in zip(got, host):
        np.testing.assert_array_equal(a, b)


def test_csv_replay_loops_header_and_errors(tmp_path):
    d = tmp_path / "rec"
    d.mkdir()
    (d / "a.csv").write_text("x,y,z\n" + "".join("%d,0,1\n" % i for i in range(10)))
    (d / "b.csv").write_text("1,2,3\n4,5\n")
    s = replay.CsvReplaySensor(str(d), window=4, rate=100.0, loop=True)
    assert list(s.read()[0]) == [0, 1, 2, 3]
    assert list(s.read()[0]) == [4, 5, 6, 7]
    with pytest.raises(ValueError, match=r"b.csv: line 2 has 2 columns, expected 3"):
        s.read()  # a.csv is used up (2 rows left < window), b.csv is malformed
    assert list(s.read()[0]) == [0, 1, 2, 3]  # looped back to the first file


def test_csv_replay_follows_the_hosts_row_rules(tmp_path):
    """One definition of a CSV row (device.csvrows): the board's replay and the host's
    reader refuse the same line with the same words, counting lines as an editor does."""
    from host_tools.data import datasets

    d = tmp_path / "rec"
    d.mkdir()
    (d / "a.csv").write_text("x,y,z\n\n0,0,1\n0,0,1\n1500,0,1\n0,0,1\n")
    s = replay.CsvReplaySensor(str(d), window=4, rate=100.0, loop=False)
    with pytest.raises(ValueError) as board:
        s.read()
    with pytest.raises(datasets.DataError) as host:
        datasets.read_recording(str(d / "a.csv"), "accel")
    assert "line 5" in str(board.value) and "physical range" in str(board.value)
    assert str(board.value).split("line 5", 1)[1] == str(host.value).split("line 5", 1)[1]


def test_csv_replay_takes_files_in_natural_order(tmp_path):
    """H2 before H10, as the host orders a session's files."""
    d = tmp_path / "rec"
    d.mkdir()
    for name, v in (("H10.csv", 10), ("H2.csv", 2), ("H1.csv", 1)):
        (d / name).write_text("".join("%d,0,1\n" % v for _ in range(4)))
    s = replay.CsvReplaySensor(str(d), window=4, loop=False)
    assert [float(s.read()[0][0]) for _ in range(3)] == [1.0, 2.0, 10.0]


def test_csv_replay_end_and_missing(tmp_path):
    with pytest.raises(OSError, match="not found"):
        replay.CsvReplaySensor(str(tmp_path / "nope"), window=4).read()
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError, match="no .csv files"):
        replay.CsvReplaySensor(str(tmp_path / "empty"), window=4).read()
    d = tmp_path / "one"
    d.mkdir()
    (d / "a.csv").write_text("".join("%d,0,1\n" % i for i in range(8)))
    s = replay.CsvReplaySensor(str(d), window=4, loop=False)
    assert s.read() is not None and s.read() is not None
    assert s.read() is None


def test_csv_replay_non_finite(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "a.csv").write_text("1,2,3\nnan,0,0\n")
    with pytest.raises(ValueError, match="non-finite"):
        replay.CsvReplaySensor(str(d), window=2).read()


def test_csv_replay_thermal_frames(tmp_path):
    d = tmp_path / "t"
    d.mkdir()
    rows = [",".join("%.1f" % (20 + r + c / 100) for c in range(32)) for r in range(24)]
    (d / "f.csv").write_text("\n".join(rows * 2) + "\n")
    s = replay.CsvReplaySensor(str(d), kind="thermal", rate=2.0, loop=False)
    f = s.read()
    assert f.shape == (24, 32)
    assert f[3, 10] == pytest.approx(23.1)
    assert s.read() is not None and s.read() is None


def test_csv_replay_realtime_pacing(tmp_path, hw):
    d = tmp_path / "r"
    d.mkdir()
    (d / "a.csv").write_text("".join("%d,0,1\n" % i for i in range(40)))
    slept = []

    def sleep(s):
        slept.append(s)
        hw.supervisor.sleep(s)

    s = replay.CsvReplaySensor(str(d), window=10, rate=100.0, realtime=True,
                                ticks_ms=hw.supervisor.ticks_ms, sleep=sleep)
    t0 = hw.supervisor.clock.us
    for _ in range(4):
        s.read()
    # 4 windows of 0.1 s: the last three wait for their turn
    assert (hw.supervisor.clock.us - t0) / 1000 >= 300
    assert slept and max(slept) <= 0.02 + 1e-9


# (thermal frame features: tests/test_thermal.py)
