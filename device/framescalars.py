"""A thermal camera as a scalar stream for a `scalar` model: one value per frame (the
frame's max, its mean, or the chip's ambient reading)."""

from device import xp

CHANNELS = ("max", "mean", "ambient")


class FrameScalars:
    """A thermal camera (any sensor whose read() gives a frame) as a scalar stream for a
    `scalar` model: the frame's maximum, its mean, or the sensor's ambient reading
    (`sensor.ambient`, the MLX90640's own Ta), one value per frame, `window` frames per
    window. The window is one array('f') with an ndarray view (no allocation per frame
    beyond ulab's max/mean result)."""

    kind = "scalar"

    def __init__(self, sensor, channel="max", window=1):
        if channel not in CHANNELS:
            raise ValueError("camera channel %r is not one of %s" % (channel, ", ".join(CHANNELS)))
        self.sensor = sensor
        self.channel = channel
        self.window = int(window)
        self.rate = sensor.rate
        self.axes = 1
        self._buf = xp.fbuf(self.window)
        self.win = [xp.view(self._buf)] if xp.np is not None else [self._buf]
        self.value = None

    @property
    def idle(self):
        return getattr(self.sensor, "idle", None)

    @idle.setter
    def idle(self, f):
        self.sensor.idle = f

    @property
    def rate_measured(self):
        return getattr(self.sensor, "rate_measured", self.rate)

    @property
    def rate_ok(self):
        return getattr(self.sensor, "rate_ok", True)

    def read(self):
        np = xp.np
        buf = self._buf
        ch = self.channel
        for i in range(self.window):
            fr = self.sensor.read()
            if fr is None:
                return None
            if ch == "ambient":
                v = getattr(self.sensor, "ambient", None)
                if v is None:
                    raise ValueError("this camera reports no ambient temperature")
            elif np is None:
                v = max(fr) if ch == "max" else sum(fr) / len(fr)
            elif ch == "max":
                v = float(np.max(fr))
            else:
                v = float(np.mean(fr))
            buf[i] = v
            self.value = v
        return self.win

    def recover(self):
        r = getattr(self.sensor, "recover", None)
        if r is not None:
            r()

    def close(self):
        c = getattr(self.sensor, "close", None)
        if c is not None:
            c()


# ---- the recording format: one frame per CSV row ------------------------------------------
