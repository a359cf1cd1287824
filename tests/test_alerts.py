"""Alert outputs (device/alerts.py, device/buzzer.py) against the fake pwmio/digitalio/neopixel modules:
patterns advance only in tick(), nothing blocks, each state looks/sounds distinct."""

from __future__ import annotations

import pytest

from board_harness import fake_hardware
from device import alerts
from device.buzzer import Buzzer


@pytest.fixture
def hw():
    with fake_hardware() as h:
        yield h


class Ticks:
    def __init__(self, t=0):
        self.t = t

    def __call__(self):
        return self.t


def _levels(out, ticks, until_ms, step_ms=10, read=None):
    seq = []
    while ticks.t < until_ms:
        out.tick()
        seq.append(read())
        ticks.t += step_ms
    return seq


def test_level_at_phases():
    pat = ((1000, 400, ((0, 200),)), (0, 30000, ((0, 120), (250, 370))))  # a test pattern
    assert alerts.level_at(pat, 0) and alerts.level_at(pat, 199)
    assert not alerts.level_at(pat, 200) and alerts.level_at(pat, 400)
    assert alerts.level_at(pat, 1000) and not alerts.level_at(pat, 1130)
    assert alerts.level_at(pat, 1260) and not alerts.level_at(pat, 1400)
    assert alerts.level_at(pat, 31000)


def test_buzzer_anomaly_and_fault_patterns(hw):
    pwm = hw.pwmio.PWMOut(hw.board.D12, frequency=2000, variable_frequency=True)
    t = Ticks(1000)
    bz = Buzzer(pwm, anomaly_hz=2000, fault_hz=500, seconds=2, ticks_ms=t)
    bz.set_state(alerts.NORMAL)
    assert set(_levels(bz, t, 2000, read=lambda: pwm.duty_cycle)) == {0}
    bz.set_state(alerts.ANOMALY)
    assert pwm.frequency == 2000
    assert alerts.level_at(bz._pattern, 2000 + 29700) and not alerts.level_at(bz._pattern, 2000 + 29800)
    seq = _levels(bz, t, 4000, read=lambda: pwm.duty_cycle)  # fast beeps for 2 s
    ons = sum(1 for a, b in zip(seq, seq[1:]) if a == 0 and b)
    assert ons == 4  # 400 ms period over the remaining 2 s: 5 beeps, first already on
    assert max(seq) == Buzzer.ON
    seq = _levels(bz, t, 20000, step_ms=50, read=lambda: pwm.duty_cycle)
    assert max(seq) == 0  # then quiet until the 30 s chirp
    bz.set_state(alerts.FAULT)
    assert pwm.frequency == 500
    assert pwm.duty_cycle == Buzzer.ON  # a long low tone at once
    seq = _levels(bz, t, 21500, read=lambda: pwm.duty_cycle)
    assert seq[0] and not seq[-1]
    bz.set_state(alerts.NORMAL)
    assert pwm.duty_cycle == 0


def test_buzzer_fixed_frequency_pwm_does_not_crash(hw):
    pwm = hw.pwmio.PWMOut(hw.board.D12, frequency=1000, variable_frequency=False)
    bz = Buzzer(pwm, ticks_ms=Ticks())
    bz.set_state(alerts.FAULT)  # frequency not writable: keeps its tone
    assert pwm.frequency == 1000 and pwm.duty_cycle == Buzzer.ON


def test_led_patterns_and_active_low(hw):
    io = hw.digitalio.DigitalInOut(hw.board.LED)
    io.switch_to_output(value=True)
    t = Ticks()
    led = alerts.Led(io, active_low=True, ticks_ms=t)
    assert io.value is True  # off (active low)
    led.set_state(alerts.ANOMALY)
    assert io.value is False  # steady on
    led.set_state(alerts.FAULT)
    seq = _levels(led, t, 2000, read=lambda: io.value)
    assert True in seq and False in seq
    flips = sum(1 for a, b in zip(seq, seq[1:]) if a != b)
    assert flips == 3  # 1 Hz blink over 2 s


def test_status_pixel_colours_and_no_redundant_writes(hw):
    px = hw.neopixel.NeoPixel(hw.board.NEOPIXEL, 1, brightness=0.1, auto_write=False)
    t = Ticks()
    sp = alerts.StatusPixel(px, ticks_ms=t)
    seen = {}
    for state in (alerts.NORMAL, alerts.COMMISSIONING, alerts.ANOMALY, alerts.FAULT,
                  alerts.NO_MODEL, alerts.CONFIG):
        sp.set_state(state)
        seen[state] = px[0]
    assert len(set(seen.values())) == 6  # every state has its own colour
    assert seen[alerts.NORMAL] == alerts.GREEN and seen[alerts.ANOMALY] == alerts.RED
    sp.set_state(alerts.NORMAL)
    n = len(px.shown)
    for _ in range(100):
        sp.tick()
        t.t += 7
    assert len(px.shown) == n  # steady colour: nothing re-sent
    sp.set_state(alerts.NO_MODEL)
    _levels(sp, t, t.t + 2000, read=lambda: px[0])
    assert px.shown[-1] in (alerts.PURPLE, alerts.BLACK)
    assert alerts.PURPLE in px.shown[n:] and alerts.BLACK in px.shown[n:]


def test_tick_uses_now_without_ticks(hw):
    px = hw.neopixel.NeoPixel(hw.board.NEOPIXEL, 1, auto_write=False)
    sp = alerts.StatusPixel(px)
    sp.set_state(alerts.ANOMALY)
    sp.tick(10.0)
    assert px[0] == alerts.RED
    sp.tick(10.3)
    assert px[0] == alerts.BLACK
    sp.tick(10.5)
    assert px[0] == alerts.RED
