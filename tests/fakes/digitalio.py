"""Fake `digitalio`: DigitalInOut records every value written; inputs read `levels`."""


class Direction:
    INPUT = "Direction.INPUT"
    OUTPUT = "Direction.OUTPUT"


class Pull:
    UP = "Pull.UP"
    DOWN = "Pull.DOWN"


class DriveMode:
    PUSH_PULL = "DriveMode.PUSH_PULL"
    OPEN_DRAIN = "DriveMode.OPEN_DRAIN"


levels = {}  # pin name -> level an input reads (a jumper to GND: False)
outputs = {}  # pin name -> the DigitalInOut driving it


def fresh():
    levels.clear()
    outputs.clear()


class DigitalInOut:
    def __init__(self, pin):
        if getattr(pin, "in_use", False):
            raise ValueError("%s in use" % pin)
        pin.in_use = True
        self.pin = pin
        self.direction = Direction.INPUT
        self.pull = None
        self.drive_mode = DriveMode.PUSH_PULL
        self._value = False
        self.history = []
        self.deinited = False

    def switch_to_output(self, value=False, drive_mode=DriveMode.PUSH_PULL):
        self.direction = Direction.OUTPUT
        self.drive_mode = drive_mode
        outputs[self.pin.name] = self
        self.value = value

    def switch_to_input(self, pull=None):
        self.direction = Direction.INPUT
        self.pull = pull

    @property
    def value(self):
        if self.direction == Direction.INPUT:
            if self.pin.name in levels:
                return levels[self.pin.name]
            return self.pull == Pull.UP
        return self._value

    @value.setter
    def value(self, v):
        if self.direction != Direction.OUTPUT:
            raise AttributeError("Cannot set value when direction is input.")
        self._value = bool(v)
        self.history.append(self._value)

    def deinit(self):
        self.pin.in_use = False
        self.deinited = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
        return False
