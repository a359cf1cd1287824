"""The buzzer: a piezo on pwmio following the app's state (device/alerts.py's PatternOutput).

Its own module so that a board without a buzzer (BUZZER_PIN unset: the default) never holds
its code: device/wiring.py make_alerts imports it only when BUZZER_PIN is set.
"""

from device.alerts import ANOMALY, FAULT, PatternOutput


def buzzer_patterns(seconds=10):
    """Anomaly: fast beeping for `seconds`, then a double chirp every 30 s while it lasts
    (seconds = 0: beep for as long as it lasts). Fault: one long low tone now and every
    60 s. Other states are silent."""
    first = int(seconds) * 1000
    chirp = (0, 30000, ((29630, 29750), (29880, 30000)))  # at the end of each 30 s
    anomaly = ((first, 400, ((0, 200),)), chirp) if first else ((0, 400, ((0, 200),)),)
    return {ANOMALY: anomaly, FAULT: ((0, 60000, ((0, 800),)),)}


class Buzzer(PatternOutput):
    """A piezo on a pwmio.PWMOut (made with variable_frequency=True): distinct tones and
    rhythms for anomaly and fault; silent otherwise."""

    ON = 32768  # 50 % duty: loudest square wave

    def __init__(self, pwm, anomaly_hz=2000, fault_hz=500, seconds=10, ticks_ms=None):
        PatternOutput.__init__(self, buzzer_patterns(seconds), ticks_ms)
        self.pwm = pwm
        self.tones = {ANOMALY: int(anomaly_hz), FAULT: int(fault_hz)}
        self.pwm.duty_cycle = 0

    def set_state(self, state):
        if state != self.state:
            hz = self.tones.get(state)
            if hz:
                self._show(False)
                try:
                    if self.pwm.frequency != hz:
                        self.pwm.frequency = hz
                except (ValueError, RuntimeError, AttributeError):
                    pass  # a fixed-frequency PWM keeps its tone
        PatternOutput.set_state(self, state)

    def _apply(self, level):
        self.pwm.duty_cycle = self.ON if level else 0
