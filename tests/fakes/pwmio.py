"""Fake `pwmio`: PWMOut records (duty_cycle, frequency) changes."""

outputs = {}


def fresh():
    outputs.clear()


class PWMOut:
    def __init__(self, pin, *, duty_cycle=0, frequency=500, variable_frequency=False):
        if getattr(pin, "in_use", False):
            raise ValueError("%s in use" % pin)
        pin.in_use = True
        self.pin = pin
        self._duty = int(duty_cycle)
        self._freq = int(frequency)
        self.variable_frequency = variable_frequency
        self.history = []
        outputs[pin.name] = self

    @property
    def duty_cycle(self):
        return self._duty

    @duty_cycle.setter
    def duty_cycle(self, v):
        v = int(v)
        if not 0 <= v <= 65535:
            raise ValueError("duty_cycle must be 0-65535")
        self._duty = v
        self.history.append((v, self._freq))

    @property
    def frequency(self):
        return self._freq

    @frequency.setter
    def frequency(self, f):
        if not self.variable_frequency:
            raise AttributeError("PWM frequency not writable when variable_frequency is False.")
        self._freq = int(f)

    def deinit(self):
        self.pin.in_use = False
